"""Which :class:`~skrif._core.problem.Problem` an objective is evaluated with.

An objective declares ``problem_kind``: ``"smooth"`` (twice-differentiable losses with
an L2 penalty, :class:`~skrif._core.problem.Problem`), ``"l1"`` (an L1 term:
:class:`~skrif._core.active_set.L1Problem`, exact active-set solver and KKT checks),
``"kernel"`` (kernel ridge regression in dual coefficients:
:class:`~skrif._core.kernel_problem.KernelProblem`), ``"piecewise"``
(piecewise-quadratic losses: :class:`~skrif._core.piecewise.PiecewiseProblem`) or
``"scale"`` (a model fitted jointly with a scale: :class:`~skrif._core.scale_problem.ScaleProblem`).
"""

from .active_set import L1Problem
from .kernel_problem import KernelProblem
from .piecewise import PiecewiseProblem
from .problem import Problem
from .scale_problem import ScaleProblem

PROBLEMS = {
    "smooth": Problem,
    "l1": L1Problem,
    "kernel": KernelProblem,
    "piecewise": PiecewiseProblem,
    "scale": ScaleProblem,
}


def make_problem(objective, X, Y, weights):
    """The objective on training data ``(X, Y)`` with effective sample ``weights``."""
    kind = getattr(objective, "problem_kind", "smooth")
    try:
        cls = PROBLEMS[kind]
    except KeyError:
        raise ValueError(f"Unknown problem kind {kind!r}; expected one of {tuple(PROBLEMS)}.") from None
    return cls(objective, X, Y, weights)
