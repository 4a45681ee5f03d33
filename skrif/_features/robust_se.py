"""Standard errors of unpenalised linear models as statsmodels defines them, and their
derivatives with respect to every row's weight.

Models: least squares (``LinearRegression``, with sample weights = WLS), binary
logistic regression and Poisson regression, all canonical-link GLMs: with
``η_i = x̃_iᵀθ``, ``μ_i = μ(η_i)``, ``r_i = y_i − μ_i``, ``v_i = μ'(η_i)`` (1, μ(1−μ), μ)
and sample weights ``s_i``, the estimate solves ``Σ s_i r_i x̃_i = 0`` and the Hessian
(= Fisher information) is ``A = Σ s_i v_i x̃_i x̃_iᵀ``.

Covariances (statsmodels 0.14/0.15 ``OLS/WLS(...).fit(cov_type=...)`` and
``GLM(..., var_weights=s).fit(cov_type=...)``; ``n`` rows, ``p̃`` parameters):

* ``"nonrobust"``: ``σ² A⁻¹`` with ``σ² = Σ s r² / (n − p̃)`` (OLS), ``A⁻¹`` (GLMs,
  scale 1);
* ``"HC0"``: ``A⁻¹ (Σ s_i² r_i² x̃_i x̃_iᵀ) A⁻¹``; for OLS ``"HC1"`` multiplies by
  ``n / (n − p̃)``, ``"HC2"``/``"HC3"`` divide row ``i``'s term by ``1 − h_i`` /
  ``(1 − h_i)²`` with ``h_i = s_i x̃_iᵀ A⁻¹ x̃_i``. statsmodels applies no such
  correction to GLMs: there ``HC1``–``HC3`` equal ``HC0``, and so they do here;
* ``"cluster"``: ``κ A⁻¹ (Σ_g S_g S_gᵀ) A⁻¹`` with ``S_g = Σ_{i∈g} s_i r_i x̃_i`` and
  ``κ = G/(G − 1) · (n − 1)/(n − p̃)`` (statsmodels' default ``use_correction=True``),
  ``G`` the number of clusters.

Inference (``use_t``): statsmodels' defaults are the t distribution with
``n − p̃`` degrees of freedom for OLS ``"nonrobust"`` and the normal distribution
for every robust OLS covariance and every GLM. With ``use_t=True`` the t
distribution has ``n − p̃`` degrees of freedom, except ``"cluster"``: ``G − 1``
(statsmodels' ``df_correction``).

Derivatives. The audit asks how ``t_j = θ_j / SE_j`` changes when row ``k``'s weight
is scaled by ``ε_k`` (``ε = 1`` fitted, ``ε = 0`` removed), every term of row ``k``
scaling like a frequency weight (its score, Hessian, meat term, cluster sum and
its count in ``n``). With ``a = A⁻¹e_j`` and ``ℓ = X̃a``,
``dθ/dε_k = s_k r_k A⁻¹x̃_k``, ``dθ_j/dε_k = s_k r_k ℓ_k`` and
``dV/dε_k = ∂V/∂ε_k + s_k r_k x̃_kᵀ A⁻¹∇_θV``: one more solve per coefficient. The
explicit parts are written out for each covariance in :meth:`CoefficientFit.t_derivative`.
"""

import numpy as np
from scipy import linalg, stats
from scipy.special import expit

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster")
FAMILIES = ("gaussian", "binomial", "poisson")


def family_of(objective, n_outputs):
    """``(family, None)`` if statsmodels' standard errors apply to this objective,
    else ``(None, reason)``.

    They describe unpenalised maximum-likelihood (least-squares) estimates; a
    penalised estimate is biased and its sandwich is not the one statsmodels
    defines, so significance is refused for it (sign and prediction flips remain).
    """
    if n_outputs != 1:
        return None, (
            f"standard errors are defined here for a single output; this model has "
            f"{n_outputs} outputs"
        )
    return objective.standard_error_family()


def default_use_t(family, cov_type):
    """statsmodels' default: t for OLS ``"nonrobust"``, normal otherwise."""
    return family == "gaussian" and cov_type == "nonrobust"


def _mean(family, eta):
    """``(μ, v = dμ/dη, dv/dη)`` of a canonical link."""
    if family == "gaussian":
        one = np.ones_like(eta)
        return eta, one, np.zeros_like(eta)
    if family == "binomial":
        mu = expit(eta)
        v = mu * (1.0 - mu)
        return mu, v, v * (1.0 - 2.0 * mu)
    mu = np.exp(eta)
    return mu, mu, mu


class CoefficientFit:
    """Covariance, inference and t-statistic derivatives at one weighted fit.

    Parameters
    ----------
    Xt : ndarray of shape (n, p̃)
        The augmented design (intercept column last if any).
    y : ndarray of shape (n,)
        Targets (0/1 for logistic regression).
    s : ndarray of shape (n,)
        Sample weights of the fit.
    keep : ndarray of shape (n,)
        1 for kept rows, 0 for removed ones (``ε``).
    theta : ndarray of shape (p̃,)
        The optimum with weights ``s · keep``.
    family : {"gaussian", "binomial", "poisson"}
    cov_type : one of :data:`COV_TYPES`
    clusters : Groups, default=None
        Cluster labels (required for ``"cluster"``), from :func:`skrif._utils.groups.check_groups`.
    use_t : bool, default=None
        ``None``: statsmodels' default (:func:`default_use_t`).

    Notes
    -----
    Construction is O(n p̃² + p̃³) (the Hessian and its Cholesky factor; for
    ``"HC2"``/``"HC3"`` the leverages as well). Rows with ``keep = 0`` contribute
    nothing, so the numbers are those of the model fitted on the kept rows only.
    The dense ``n × p̃`` design is needed for the row-wise quadratic forms; these
    models are low-dimensional (``p̃ ≪ n``) for standard errors to mean anything.
    """

    def __init__(self, Xt, y, s, keep, theta, family, cov_type, clusters=None, use_t=None):
        # Scale-free internally: every column of X̃ divided by its largest |entry|
        # and (least squares) y by its own, so the parameters are in units of
        # those scales. t-statistics and p-values do not depend on units; the
        # squares and products below then neither overflow at |X| ≈ 1e150 nor
        # underflow at 1e-150 (issue 27, findings I and K).
        Xt = np.asarray(Xt, dtype=float)
        theta = np.asarray(theta, dtype=float)
        col = np.max(np.abs(Xt), axis=0) if Xt.shape[0] else np.ones(Xt.shape[1])
        self.col_scale = np.where((col > 0) & np.isfinite(col), col, 1.0)
        y = np.asarray(y, dtype=float)
        ys = np.max(np.abs(y)) if family == "gaussian" and y.size else 1.0
        self.y_scale = float(ys) if ys > 0 and np.isfinite(ys) else 1.0
        Xt = Xt / self.col_scale
        y = y / self.y_scale
        theta = theta * self.col_scale / self.y_scale
        self.Xt, self.y, self.s, self.keep = Xt, y, s, keep.astype(float)
        self.theta, self.family, self.cov_type = theta, family, cov_type
        self.use_t = default_use_t(family, cov_type) if use_t is None else bool(use_t)
        self.w = s * self.keep
        eta = Xt @ theta
        self.mu, self.v, self.dv = _mean(family, eta)
        self.r = y - self.mu
        n_params = Xt.shape[1]
        self.n_obs = float(np.sum(self.keep))
        self.n_params = n_params
        self.df_resid = self.n_obs - n_params
        if self.df_resid <= 0:
            raise ValueError(
                f"{int(self.n_obs)} rows left for {n_params} parameters: no residual "
                "degrees of freedom."
            )
        A = (Xt * (self.w * self.v)[:, None]).T @ Xt
        try:
            self.chol = linalg.cho_factor(A, lower=True, check_finite=True)
        except linalg.LinAlgError as exc:
            raise ValueError(
                "The Hessian of the fit on the kept rows is singular: the coefficients "
                "are not identified, so they have no standard error."
            ) from exc
        if cov_type == "cluster":
            if clusters is None:
                raise ValueError('cov_type="cluster" needs cluster labels (groups=).')
            self.codes = clusters.codes
            n_groups_total = clusters.n_groups
            present = np.bincount(self.codes, weights=self.keep, minlength=n_groups_total) > 0
            self.n_groups = int(np.sum(present))
            if self.n_groups < 2:
                raise ValueError("Fewer than two clusters are left: no cluster-robust error.")
            self.df_inference = self.n_groups - 1.0
        else:
            self.df_inference = self.df_resid
        self.phi, self.delta, self.h = np.ones_like(self.r), 0, None
        if family == "gaussian" and cov_type in ("HC2", "HC3"):
            self.h = self.leverages()
            self.delta = 1 if cov_type == "HC2" else 2
            with np.errstate(divide="ignore"):
                self.phi = np.where(self.keep > 0, (1.0 - self.h) ** -float(self.delta), 0.0)
            if np.any((self.keep > 0) & (self.h >= 1.0 - 1e-12)):
                raise ValueError(
                    f"A kept row has leverage 1: {cov_type} is undefined (division by 1 - h)."
                )
        if family == "gaussian":
            self.sigma2 = float(np.sum(self.w * self.r**2) / self.df_resid)

    def unit(self, j):
        """The scale of coefficient ``j``: its value in original units is ``unit``
        times the scaled one (``y_scale / col_scale[j]``)."""
        return self.y_scale / self.col_scale[j]

    # -- covariance ---------------------------------------------------------
    def leverages(self):
        """``h_i = s_i x̃_iᵀ A⁻¹ x̃_i`` (n,) by Cholesky solves (no inverse), O(n p̃²)."""
        B = linalg.cho_solve(self.chol, self.Xt.T)
        return self.s * np.einsum("np,pn->n", self.Xt, B)

    def solve(self, b):
        return linalg.cho_solve(self.chol, b)

    def pinned_rows(self, j, tol=1e-8):
        """Kept rows of leverage 1 that move coefficient ``j``: each alone determines
        a direction of the fit that ``j`` depends on, so the estimate and its
        standard error rest on that one observation. Positions, ascending."""
        h = self.leverages()
        _, ell = self._pieces(j)
        moves = np.abs(ell) > tol * max(float(np.max(np.abs(ell))), 1e-300)
        return np.flatnonzero((self.keep > 0) & (h >= 1.0 - tol) & moves)

    def _kappa(self):
        n, p = self.n_obs, self.n_params
        if self.cov_type == "cluster":
            G = self.n_groups
            return G / (G - 1.0) * (n - 1.0) / (n - p)
        if self.family == "gaussian" and self.cov_type == "HC1":
            return n / (n - p)
        return 1.0

    def _robust(self):
        return self.cov_type != "nonrobust"

    def covariance(self):
        """The full covariance matrix (p̃ × p̃) of ``cov_type``, in original units."""
        units = self.y_scale / self.col_scale
        return self._covariance() * units[:, None] * units[None, :]

    def _covariance(self):
        p = self.n_params
        Ainv = self.solve(np.eye(p))
        if not self._robust():
            return Ainv * (self.sigma2 if self.family == "gaussian" else 1.0)
        if self.cov_type == "cluster":
            U = self.Xt * (self.w * self.r)[:, None]
            S = np.zeros((self.n_groups_total(), p))
            np.add.at(S, self.codes, U)
            meat = S.T @ S
        else:
            m = self.keep * self.s**2 * self.r**2 * self.phi
            meat = (self.Xt * m[:, None]).T @ self.Xt
        return self._kappa() * Ainv @ meat @ Ainv

    def n_groups_total(self):
        return int(self.codes.max()) + 1

    # -- one coefficient ----------------------------------------------------
    def _pieces(self, j):
        e = np.zeros(self.n_params)
        e[j] = 1.0
        a = self.solve(e)
        ell = self.Xt @ a
        return a, ell

    def variance(self, j):
        a, ell = self._pieces(j)
        return self._variance(j, a, ell)[0] * self.unit(j) ** 2

    def _variance(self, j, a, ell):
        """``(V_jj, extra)``: ``extra`` is the meat weights (HC) or cluster sums τ."""
        if not self._robust():
            scale = self.sigma2 if self.family == "gaussian" else 1.0
            return scale * float(a[j]), None
        kappa = self._kappa()
        if self.cov_type == "cluster":
            tau = np.bincount(
                self.codes, weights=self.w * self.r * ell, minlength=self.n_groups_total()
            )
            return kappa * float(np.sum(tau**2)), tau
        m = self.keep * self.s**2 * self.r**2 * self.phi
        return kappa * float(np.sum(m * ell**2)), m

    def inference(self, j):
        """``(estimate, se, t, p_value, df)`` of coefficient ``j`` (df NaN if normal),
        estimate and se in original units."""
        a, ell = self._pieces(j)
        V, _ = self._variance(j, a, ell)
        beta = float(self.theta[j])
        se = float(np.sqrt(V))
        t = beta / se
        beta, se = beta * self.unit(j), se * self.unit(j)
        if self.use_t:
            df = self.df_inference
            p = float(2.0 * stats.t.sf(abs(t), df))
        else:
            df = float("nan")
            p = float(2.0 * stats.norm.sf(abs(t)))
        return beta, se, t, p, df

    def critical_value(self, alpha):
        """``|t|`` at which the two-sided p-value equals ``alpha``."""
        if self.use_t:
            return float(stats.t.isf(alpha / 2.0, self.df_inference))
        return float(stats.norm.isf(alpha / 2.0))

    def beta_derivative(self, j):
        """``dθ_j/dε_k`` for every row ``k`` (n,): the influence of scaling its weight
        (original units)."""
        _, ell = self._pieces(j)
        return self.s * self.r * ell * self.unit(j)

    def t_derivative(self, j):
        """``dt_j/dε_k`` for every row ``k`` (n,), at this fit.

        Explicit parts ``E_k = ∂V/∂ε_k`` (θ fixed), with ``a = A⁻¹e_j``, ``ℓ = X̃a``,
        ``c = A⁻¹Ma`` (``M`` the meat):

        * nonrobust GLM, ``V = a_j``: ``E_k = −s_k v_k ℓ_k²``;
        * nonrobust OLS, ``V = σ² a_j``: ``E_k = (s_k r_k² − σ²)/(n − p̃) a_j − σ² s_k ℓ_k²``;
        * HC, ``V = κ Σ m_i ℓ_i²``: ``κ s_k² r_k² φ_k ℓ_k² − 2κ s_k v_k ℓ_k x̃_kᵀc``, plus
          ``(dκ/dn) V/κ`` (HC1) and ``−κ s_k x̃_kᵀ A⁻¹ C A⁻¹ x̃_k`` (HC2/HC3, from
          ``dh_i/dε_k = −s_i s_k (x̃_iᵀA⁻¹x̃_k)²``, ``C = Σ_i γ_i x̃_i x̃_iᵀ``);
        * cluster, ``V = κ Σ_g τ_g²``, ``τ_g = Σ_{i∈g} s_i r_i ℓ_i``:
          ``2κ τ_{g(k)} s_k r_k ℓ_k − 2κ s_k v_k ℓ_k x̃_kᵀc + V (1/(n−1) − 1/(n−p̃))``.

        ``∇_θV`` adds the dependence through ``r`` (``∂r_i/∂θ = −v_i x̃_i``) and, for the
        GLMs, through ``A`` (``∂v_i/∂θ = v'_i x̃_i``). Cost O(n p̃) (O(n p̃²) for HC2/HC3).
        """
        Xt, s, r, v, dv, w, keep = self.Xt, self.s, self.r, self.v, self.dv, self.w, self.keep
        a, ell = self._pieces(j)
        V, extra = self._variance(j, a, ell)
        n, p = self.n_obs, self.n_params
        if not self._robust():
            if self.family == "gaussian":
                aj = float(a[j])
                E = (s * r**2 - self.sigma2) / self.df_resid * aj - self.sigma2 * s * ell**2
                grad = aj * (-2.0 * Xt.T @ (w * r)) / self.df_resid
            else:
                E = -s * v * ell**2
                grad = -Xt.T @ (w * dv * ell**2)
        else:
            kappa = self._kappa()
            if self.cov_type == "cluster":
                tau = extra
                tau_row = tau[self.codes]
                c = self.solve(Xt.T @ (w * r * tau_row))
                xc = Xt @ c
                E = (
                    2.0 * kappa * tau_row * s * r * ell
                    - 2.0 * kappa * s * v * ell * xc
                    + V * (1.0 / (n - 1.0) - 1.0 / (n - p))
                )
                grad = -2.0 * kappa * Xt.T @ (w * v * ell * tau_row)
            else:
                m = extra
                c = self.solve(Xt.T @ (m * ell))
                xc = Xt @ c
                E = kappa * s**2 * r**2 * self.phi * ell**2 - 2.0 * kappa * s * v * ell * xc
                if self.family == "gaussian" and self.cov_type == "HC1":
                    E = E + (-p / (n - p) ** 2) * V / kappa
                if self.delta:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        gamma = np.where(
                            keep > 0,
                            s**3 * r**2 * ell**2 * self.delta
                            * (1.0 - self.h) ** -(self.delta + 1.0),
                            0.0,
                        )
                    C = (Xt * gamma[:, None]).T @ Xt
                    D = self.solve(self.solve(C).T)  # A⁻¹ C A⁻¹ (symmetric)
                    E = E - kappa * s * np.einsum("np,np->n", Xt @ D, Xt)
                grad = -2.0 * kappa * Xt.T @ (keep * s**2 * self.phi * r * v * ell**2)
            grad = grad - 2.0 * kappa * Xt.T @ (w * dv * xc * ell)
        b = self.solve(grad)
        dV = E + s * r * (Xt @ b)
        beta = float(self.theta[j])
        se = np.sqrt(V)
        return (s * r * ell) / se - beta * dV / (2.0 * V * se)

    def cluster_count_term(self, j):
        """The part of ``dt_j/dε_g`` from the factor ``G/(G − 1)`` when a whole
        cluster's weight scales (group removal: ``G`` counts ``Σ_g ε_g``)."""
        if self.cov_type != "cluster":
            return 0.0
        beta, se, t, _, _ = self.inference(j)
        G = self.n_groups
        dlogV = 1.0 / G - 1.0 / (G - 1.0)
        return -t * dlogV / 2.0
