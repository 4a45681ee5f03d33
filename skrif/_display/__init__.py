"""Floor 10: Displays (matplotlib, imported only when drawing), following
scikit-learn's ``*Display`` conventions: :mod:`.influence` (predicted versus actual
removal effects), :mod:`.diagnostics` (residuals versus leverage, Cook's distance) and
:mod:`.functionals` (the rows that move a functional most).

May import: :mod:`skrif.validation` and everything below it.
"""
