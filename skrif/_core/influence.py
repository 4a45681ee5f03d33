"""Predicted parameter changes from removing training rows: IF, RIF, NS and refit.

Sign convention everywhere: ``Δ(T) = θ̂_{−T} − θ̂``, the value *without* the rows
minus the value *with* them. With ``g_i = d1_i x̃_i`` the gradient of row i's term
and ``1 − h_i`` from the factored Hessian:

* ``"if"``:     ``H⁻¹ Σ_T g_i``                      (additive)
* ``"rif"``:    ``Σ_T H⁻¹ g_i / (1 − h_i)``          (additive; exact one-row Newton step)
* ``"newton"``: ``(H − Σ_T H_i)⁻¹ Σ_T g_i``           (one Newton step on ``J_{−T}``)
* ``"refit"``:  ``argmin J_{−T} − θ̂`` by Newton's method to machine precision.
"""

import numbers
from dataclasses import dataclass

import numpy as np

from .._removal.leverage import LEVERAGE_TOL  # noqa: F401 (re-exported for the estimator)
from .._utils.checks import finite_change, is_integer


@dataclass(frozen=True)
class ParameterChange:
    """Change of a linear model's parameters caused by removing training rows.

    Attributes
    ----------
    coef : ndarray
        ``coef_`` without the rows minus ``coef_`` with them; shaped like the wrapped
        estimator's ``coef_``.
    intercept : float or ndarray
        The same for ``intercept_`` (zeros when no intercept is fitted).
    method : str
        How it was computed: "if", "rif", "newton" or "refit".
    removed : ndarray of int
        The removed training rows (sorted positional indices).
    error_estimate : SetErrorEstimate or None
        For additive answers (``"if"``, ``"rif"``) of sets of 2 to 4096 rows: how far
        the answer is from the group Newton step (see
        :class:`~skrif._core.set_error.SetErrorEstimate`); ``None`` otherwise.
    scale : float or None
        The change of ``scale_`` for models fitted jointly with a scale
        (``HuberRegressor``); ``None`` for other models.
    """

    coef: np.ndarray
    intercept: object
    method: str
    removed: np.ndarray
    error_estimate: object = None
    scale: object = None


def check_removed_rows(X_removed_idx, n_samples):
    """Return sorted unique positional indices from integer indices or a boolean mask.

    Negative integers count from the end, as in NumPy. Duplicates, out-of-range
    values, non-integer input and masks of the wrong length raise ``ValueError``.
    """
    if is_integer(X_removed_idx):
        X_removed_idx = [X_removed_idx]
    idx = np.asarray(X_removed_idx)
    if idx.ndim != 1:
        raise ValueError(
            "X_removed_idx must be a 1-D array of row indices or a boolean mask of "
            f"length n_samples={n_samples}; got an array of shape {idx.shape}."
        )
    if idx.dtype == bool:
        if idx.shape[0] != n_samples:
            raise ValueError(
                f"A boolean mask X_removed_idx must have length n_samples={n_samples}; "
                f"got length {idx.shape[0]}."
            )
        return np.flatnonzero(idx)
    if idx.size == 0:
        return np.zeros(0, dtype=np.intp)
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(
            "X_removed_idx must hold integer row indices (or be a boolean mask); "
            f"got dtype {idx.dtype}."
        )
    bad = idx[(idx < -n_samples) | (idx >= n_samples)]
    if bad.size:
        raise ValueError(
            f"X_removed_idx holds indices out of range for {n_samples} training rows: "
            f"{bad[:10].tolist()}."
        )
    idx = np.where(idx < 0, idx + n_samples, idx).astype(np.intp)
    unique, counts = np.unique(idx, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(
            "X_removed_idx lists some rows more than once "
            f"({unique[counts > 1][:10].tolist()}); a removal set holds each row once."
        )
    return unique


@finite_change
def parameter_change(problem, theta, d1, curvature, idx, method, fraction=1.0):
    """Return ``Δθ`` of shape (n_outputs, n_params) for removing rows ``idx``.

    Parameters
    ----------
    problem : Problem
        The fitted objective on the training data.
    theta : ndarray of shape (n_outputs, n_params)
        The optimum ``θ̂``.
    d1 : ndarray of shape (n_samples, n_outputs)
        Per-row gradient coefficients at ``θ̂`` (``g_i = d1_i x̃_i``).
    curvature : Curvature
        ``H`` at ``θ̂``, factored.
    idx : ndarray of int
        Removed rows (validated, unique).
    method : {"if", "rif", "newton"}
        The approximations; exact refits are
        :meth:`skrif._core.fitted.RemovalModel.refit_without`.
    fraction : float, default=1.0
        Multiply the rows' weights by ``1 − fraction`` instead of removing them
        (1 = removal; see :func:`reweighted_change`, used for any other value).

    Notes
    -----
    Cost after the factorization, with ``k = len(idx)``: "if"/"rif" one solve with
    ``n_outputs`` columns plus O(k p̃); "newton" O(k p̃² + k³) primal (O(k n² + k³)
    dual).
    """
    if idx.size == 0:
        return np.zeros_like(theta)
    if fraction != 1.0:
        return reweighted_change(problem, theta, d1, curvature, idx, method, fraction)
    kept_weights = problem.weights.copy()
    kept_weights[idx] = 0.0
    problem.objective.check_removal(problem.Y, kept_weights)
    # Every Hessian kind (rank-one, block, penalty-share) implements the same
    # removal protocol (skrif._removal.base.Curvature).
    return curvature.set_change(idx, d1, theta, method)


#: Smallest ``fraction`` accepted: weights are multiplied by at most ``1 − MIN_FRACTION``
#: (about a million). Upweighting rows by ``w`` raises the condition number of the
#: reweighted Hessian by up to ``w``, and digits go with it: on a 30-row ridge
#: problem against exact rational arithmetic, the group Newton step was 9e-12 off
#: at -1e6, 1e-5 at -1e12 and 2.5e-2 at -1e15, where the refit was 81% off.
MIN_FRACTION = -1e6


def check_fraction(fraction):
    """Validate the reweighting ``fraction`` (a real in ``[MIN_FRACTION, 1]``); return a float."""
    if (
        isinstance(fraction, (bool, np.bool_))
        or not isinstance(fraction, (numbers.Real, np.floating, np.integer))
        or not np.isfinite(fraction)
        or fraction > 1
    ):
        raise ValueError(
            "fraction must be a finite real number <= 1: the removed rows' weights are "
            "multiplied by (1 - fraction), so 1 removes them, 0.5 halves their weight "
            f"and a negative value upweights them; got {fraction!r}."
        )
    if fraction < MIN_FRACTION:
        raise ValueError(
            f"fraction must be >= {MIN_FRACTION:g} (weights multiplied by at most "
            f"{1 - MIN_FRACTION:g}); got {fraction!r}. Upweighting rows by more makes the "
            "reweighted Hessian so ill-conditioned that the Newton step and the refit "
            "lose their accuracy. To study a few rows dominating the fit, fit a model "
            "on those rows instead."
        )
    return float(fraction)


def reweighted_change(problem, theta, d1, curvature, idx, method, fraction):
    """``Δθ`` (n_outputs, n_params) for multiplying the weights of rows ``idx`` by ``1 − t``.

    With ``t = fraction``, the objective loses ``t f_T`` (``f_T`` the rows' terms,
    including their penalty shares for mean-form objectives): gradient ``g_T = t
    X̃_Tᵀ d1_T + (Λ − Λ_t) θ̂`` and Hessian ``t Σ_T H_i``. Then

    * ``"if"``:     ``H⁻¹ g_T``;
    * ``"rif"``:    ``Σ_T t H⁻¹ g_i / (1 − t h_i)`` (Sherman–Morrison: the exact one-row
      Newton step on each reweighted objective; exact for least squares);
    * ``"newton"``: ``(H − t Σ_T H_i)⁻¹ g_T``.

    (Exact refits with the weights ``s_i (1 − t)`` are :meth:`RemovalModel.refit`.)

    ``t = 1`` is removal (:func:`parameter_change` handles it); negative ``t``
    upweights. Every Hessian kind answers through its ``set_change`` with the
    factored ``H`` (Woodbury for "newton": O(k p̃² + k³) primal; the penalty-share
    kind also rescales the removed share ``t ε``); no refactorization per row.
    """
    t = float(fraction)
    if t == 0.0:
        return np.zeros_like(theta)
    weights = problem.weights.copy()
    weights[idx] *= 1.0 - t
    problem.objective.check_removal(problem.Y, weights)
    return curvature.set_change(idx, d1, theta, method, fraction=t)
