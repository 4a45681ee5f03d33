"""Floor 11: Displays (matplotlib, imported only when drawing), following
scikit-learn's ``*Display`` conventions: :mod:`.influence` (predicted versus actual
removal effects), :mod:`.diagnostics` (residuals versus leverage, Cook's distance),
:mod:`.functionals` (the rows that move a functional most) and :mod:`.removal_curve`
(the score without the top-ranked rows).

May import: :mod:`skrif.validation` and everything below it.
"""
