"""A piecewise-quadratic objective on training data: the generalized Hessian with its
rows' pieces watched.

Losses such as the squared hinge are once differentiable: ``ℓ''`` jumps where a row
crosses its margin. On each row's current piece the objective is quadratic, so skrif
factors the *generalized* Hessian (each row's curvature on its piece, as liblinear's
Newton solver does) and :mod:`skrif._removal.pieces` reports removals that would move
some row to another piece. Newton's method on the generalized Hessian
(:meth:`~skrif._core.problem.Problem.newton`) solves refits exactly: once the pieces
stop changing, its step lands on the optimum of that piece's quadratic.

The objective declares ``piece_boundaries(Y, Z)`` (the signed functions whose signs
tell the pieces apart, and their slopes in ``z``) and ``piece_name`` (for messages).
"""

from .._removal.pieces import PiecewiseCurvature
from .problem import Problem


class PiecewiseProblem(Problem):
    """:class:`~skrif._core.problem.Problem` of a piecewise-quadratic objective."""

    def curvature(self, d2, weights=None, theta=None):
        """The generalized Hessian; for the training objective at ``theta`` (removal
        questions) wrapped in a :class:`~skrif._removal.pieces.PiecewiseCurvature`."""
        inner = super().curvature(d2, weights, theta)
        if weights is not None or theta is None:
            return inner
        boundaries, slopes = self.objective.piece_boundaries(self.Y, self.linear_predictor(theta))
        return PiecewiseCurvature(
            inner, self.design, boundaries, slopes, self.weights,
            piece_name=self.objective.piece_name,
        )
