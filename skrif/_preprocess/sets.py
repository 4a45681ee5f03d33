"""Removing a set of rows from a whole pipeline: exact statistics, then the model.

The preprocessing is refitted on the kept rows (``clone(pre).fit_transform``, as
``Pipeline.fit`` does: the exact leave-T-out statistics of every step, whatever the
step), the kept rows are re-featurised, and the final model is then

* ``"newton"``: one Newton step on its objective over the new features, from the
  coefficients that reproduce the old model's linear predictor on the kept rows
  (a least-squares fit of ``Z̃'θ₀ ≈ Z̃θ̂``). Newton's method is invariant under affine
  reparametrisation, so behind column-affine steps this is exactly the step taken in
  the old features with the changed penalty; for least squares it is the refit.
* ``"refit"``: Newton's method from there to machine precision.

Cost per set: the preprocessing's fit on the kept rows, O(n p̃²) for the start and
one Hessian (O(n p̃ + n²...) for the dual form), plus a factorization per Newton
step.
"""


import numpy as np
import scipy.sparse as sp
from sklearn.base import clone

from .._core.problem import warn_not_converged
from .._core.problems import make_problem
from ..exceptions import NotPositiveDefiniteError


def rows_of(A, idx):
    """Rows ``idx`` of an array, sparse matrix or DataFrame (positions)."""
    if A is None:
        return None
    if hasattr(A, "iloc"):
        return A.iloc[idx]
    return A[idx]


def as_design(Z):
    """A preprocessing output as skrif's model input: float64 CSR or dense array."""
    if sp.issparse(Z):
        return sp.csr_matrix(Z, dtype=np.float64)
    return np.asarray(Z, dtype=np.float64)


def mapped_start(design_new, target):
    """``θ₀`` (q, p̃') with ``Z̃'θ₀ ≈ target`` (n, q) in least squares (minimum norm).

    Dense: LAPACK least squares on ``Z̃'`` (O(n p̃²)); sparse: the normal equations
    through an eigendecomposition pseudo-inverse of ``Z̃'ᵀZ̃'`` (O(nnz p̃ + p̃³)).
    """
    if not design_new.sparse:
        Zt = design_new.rows(slice(None))
        return np.linalg.lstsq(Zt, target, rcond=None)[0].T
    G = design_new.weighted_gram(np.ones(design_new.n_samples))
    rhs = design_new.rmatvec(target)
    w, U = np.linalg.eigh(G)
    keep = w > 1e-12 * max(w[-1], 0.0)
    return (U[:, keep] @ ((U[:, keep].T @ rhs) / w[keep, None])).T


class SetRefit:
    """The pipeline refitted (statistics exactly, model by ``method``) without a set.

    Attributes
    ----------
    preprocessing : fitted transformer
        ``clone(pre)`` fitted on the kept rows.
    theta : ndarray (q, p̃')
        The final model's parameters on the new features.
    """

    def __init__(self, preprocessing, theta, fit_intercept, n_extra=0):
        self.preprocessing = preprocessing
        self.theta = theta
        self.fit_intercept = fit_intercept
        #: Parameters after the intercept that no linear predictor uses (a scale).
        self.n_extra = n_extra

    def linear_predictor(self, X):
        """``Z̃'θ'ᵀ`` (m, q) for raw rows ``X``."""
        from .._linalg.design import AugmentedDesign

        Z = as_design(self.preprocessing.transform(X))
        return AugmentedDesign(Z, self.fit_intercept).matvec(self.theta.T)


def refit_without(pipe_state, idx, method):
    """A :class:`SetRefit` for removing training rows ``idx`` from the pipeline."""
    rm = pipe_state.rm
    problem = rm.problem
    n = rm.n_samples
    kept = np.ones(n, dtype=bool)
    kept[idx] = False
    kept_idx = np.flatnonzero(kept)
    weights = problem.weights.copy()
    weights[idx] = 0.0
    problem.objective.check_removal(problem.Y, weights)
    pre = clone(pipe_state.preprocessing)
    Z_new = as_design(pre.fit_transform(rows_of(pipe_state.X, kept_idx), rows_of(pipe_state.y, kept_idx)))
    if method == "refit" and pipe_state.reselect is not None:
        # The final step is a CV model refitted with its selection on the new rows.
        objective, Y, weights_new = pipe_state.reselect(Z_new, kept_idx)
        new = make_problem(objective, Z_new, Y, weights_new)
    else:
        new = make_problem(problem.objective, Z_new, problem.Y[kept_idx], problem.weights[kept_idx])
    if not np.all(new.penalty[: new.design.n_features] > 0):
        # Compare rank deficiencies: a category that vanishes takes its column along.
        if pipe_state._full_rank is None:
            pipe_state._full_rank = identified_rank(problem.design, problem.weights)
        missing = new.design.n_params - identified_rank(new.design, new.weights)
        if missing > problem.design.n_params - pipe_state._full_rank:
            raise NotPositiveDefiniteError(
                "Without these rows the refitted preprocessing yields features that "
                f"leave {missing} parameter directions undetermined, more than the full "
                "data (e.g. a column that is constant on the kept rows): the unpenalised "
                "model without them is not identified. Add a penalty, or remove fewer rows."
            )
    if getattr(problem.objective, "problem_kind", "smooth") == "kernel":
        # Dual coefficients of the kept rows: a quadratic problem, any start will do.
        theta = np.zeros((rm.n_outputs, new.design.n_params))
    else:
        target = problem.design.rows_matvec(kept_idx, rm.theta.T)
        theta = mapped_start(new.design, target)
        extra = problem.design.n_extra  # e.g. a scale, which no feature maps
        if extra:
            theta[:, -extra:] = rm.theta[:, -extra:]
    if method == "newton":
        d1, d2 = new.row_derivatives(theta)
        step = new.curvature(d2).solve(new.gradient(theta, d1)).T
        theta = theta - step
    elif method == "refit":
        theta, n_iter, converged = new.newton(theta)
        if not converged:
            warn_not_converged(n_iter, "the exact refit of the pipeline")
    else:  # pragma: no cover - callers pass newton or refit
        raise ValueError(method)
    return SetRefit(pre, theta, problem.design.fit_intercept, problem.design.n_extra)


def identified_rank(design, weights):
    """Rank of ``X̃`` on the rows with positive weight, judged on the equilibrated
    Gram matrix (scale-invariant). O(n p̃² + p̃³)."""
    G = design.weighted_gram((weights > 0).astype(float))
    diag = np.sqrt(np.clip(np.diag(G), 0.0, None))
    live = diag > 0
    if not np.any(live):
        return 0
    E = G[np.ix_(live, live)] / np.outer(diag[live], diag[live])
    ev = np.linalg.eigvalsh(E)
    return int(np.sum(ev > 1e-12 * ev[-1]))


def aligned_change(pipe_state, refit):
    """``θ' − θ̂`` (q, p̃) in the old feature order: a column the refitted
    preprocessing no longer makes (a category gone with the rows) has coefficient 0.
    """
    theta = pipe_state.rm.theta
    old = pipe_state.feature_names
    new = _names(refit.preprocessing)
    tail = int(refit.fit_intercept) + refit.n_extra  # intercept, then e.g. a scale
    p_new = refit.theta.shape[1] - tail
    p_old = theta.shape[1] - tail
    out = np.zeros_like(theta)
    if old is not None and new is not None:
        position = {name: j for j, name in enumerate(old)}
        cols = np.array([position[name] for name in new])
        out[:, cols] = refit.theta[:, :p_new]
    elif p_new == p_old:
        out[:, :p_old] = refit.theta[:, :p_new]
    else:
        raise ValueError(
            f"The refitted preprocessing makes {p_new} features instead of {p_old} and "
            "has no feature names to align them (get_feature_names_out): the parameter "
            "change is not defined. Effects on predictions (removal_effect) are."
        )
    if tail:
        out[:, -tail:] = refit.theta[:, -tail:]
    return out - theta


def _names(pre):
    try:
        return [str(s) for s in pre.get_feature_names_out()]
    except Exception:  # noqa: BLE001 - any step without names
        return None
