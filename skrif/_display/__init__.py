"""Floor 10: Displays (matplotlib, imported only when drawing), following
scikit-learn's ``*Display`` conventions: :mod:`.influence` (predicted versus actual
removal effects), :mod:`.diagnostics` (residuals versus leverage, Cook's distance)
and :mod:`.removal_curve` (the score without the top-ranked rows).

May import: :mod:`skrif.validation` and everything below it.
"""
