"""Floor 10: Displays (matplotlib, imported only when drawing), following
scikit-learn's ``*Display`` conventions: :mod:`.influence` (predicted versus actual
removal effects) and :mod:`.diagnostics` (residuals versus leverage, Cook's distance).

May import: :mod:`skrif.validation` and everything below it.
"""
