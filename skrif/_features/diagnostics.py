"""Regression diagnostics: the statistician's per-row influence table.

For every training row: leverage, residuals (response, Pearson, deviance),
standardized and studentized residuals, Cook's distance, DFFITS, DFBETA(S),
COVRATIO and R's ``influence.measures`` flags. Column names follow statsmodels'
``summary_frame()``; values follow R's ``influence.measures`` / ``rstudent`` /
``cooks.distance`` / ``covratio`` and statsmodels where the two agree (see the
"Regression diagnostics" guide for the exact definitions and the two places where R
and statsmodels disagree for GLMs).

Unpenalised models reduce to R's and statsmodels' numbers. Penalised models use the
same formulas with

* the parameter change ``Δ_i`` of the one-step (exact Newton) leave-one-out change of
  the *penalised* objective, i.e. skrif's RIF (exact for ridge; it includes the
  removed row's penalty share for mean-form GLMs and SGD);
* the penalised Hessian, in the likelihood's units, as Cook's metric and for the
  standard errors of DFBETAS;
* the effective degrees of freedom ``p_eff = tr(hat matrix) = Σ_i h_i`` wherever R
  uses the number of coefficients ``p``.

Notation (per row ``i``): prior weight ``s_i``, mean ``μ_i``, variance function
``V``, unit deviance ``dev_i``, hat diagonal ``h_i``, ``n`` rows with positive weight.
Sign convention of ``dfbeta_*`` / ``dfb_*``: R's, **with the row minus without it**
(``−RIF``), the opposite of skrif's own convention elsewhere.

Cost: one pass over row blocks after ``fit``: O(n p̃²) for the parameter changes
(one solve with the block's rows as right-hand sides), O(n p̃) for everything else,
plus ``diag(H⁻¹)`` (from the factor, O(p̃³)). Memory: the table itself (O(n p̃)) and
one block; never an n × n or p̃ × p̃ matrix beyond the fitted factorization.
"""


import numpy as np
from scipy.stats import f as f_dist

from .._removal.leverage import LEVERAGE_TOL, warn_leverage_one
from .._utils.warn import warn
from ..exceptions import DiagnosticsWarning

# Floats of parameter changes per row block (c × q × p̃): 24 MB, so that the
# block's solves run at BLAS speed.
_BLOCK_FLOATS = 3 << 20
_MIN_CHUNK = 16
# Floats per sub-block of the elementwise passes (1 MB: stays in cache).
_CACHE_FLOATS = 1 << 17

#: Per-row columns, in the order of the table (``dfb_*`` / ``dfbeta_*`` /
#: ``inf_dfb_*`` expand to one column per coefficient).
SUMMARY_COLUMNS = (
    "cooks_d", "standard_resid", "hat_diag", "dffits_internal", "student_resid", "dffits",
)
EXTRA_COLUMNS = (
    "covratio", "resid_response", "resid_pearson", "resid_deviance", "standard_resid_deviance",
)
FLAG_COLUMNS = ("inf_dffits", "inf_covratio", "inf_cooks_d", "inf_hat", "influential")


def _is_unpenalised(objective):
    return (
        objective.penalty_coef == 0
        and objective.penalty_intercept == 0
        and getattr(objective, "penalty_share_coef", 0.0) == 0
    )


# -- validation -------------------------------------------------------------------
def coefficient_names(feature_names, fit_intercept):
    return list(map(str, feature_names)) + (["intercept"] if fit_intercept else [])


def check_columns(columns, names):
    """Positions of the coefficients named in ``columns`` (all when ``None``)."""
    if columns is None:
        return np.arange(len(names))
    if isinstance(columns, str) or not np.iterable(columns):
        raise ValueError(
            f"columns must be a list of coefficient names (feature names or "
            f"'intercept'); got {columns!r}."
        )
    columns = list(columns)
    position = {name: j for j, name in enumerate(names)}
    unknown = [c for c in columns if not isinstance(c, str) or c not in position]
    if unknown:
        raise ValueError(
            f"columns names unknown coefficients {unknown[:10]}; the model's are "
            f"{names[:20]}{' ...' if len(names) > 20 else ''}."
        )
    if len(set(columns)) != len(columns):
        raise ValueError("columns lists a coefficient more than once.")
    return np.array([position[c] for c in columns], dtype=int)


# -- the computation -----------------------------------------------------------------
def _hat_diagonal(rm):
    """``(h, 1 − h)``: diagonal of the hat matrix ``D^½ X̃ H⁻¹ X̃ᵀ D^½`` of the fit.

    The curvature's own ``1 − h_i`` (cancellation-free) when rows own no penalty
    share; otherwise ``d_i x̃_i H⁻¹ x̃_iᵀ`` by block solves, O(n p̃²) (mean-form
    curvatures report leverages without the row's share, a different quantity).
    """
    if not np.any(rm.penalty_share_coefficients):
        one_minus = np.asarray(rm.one_minus_leverage, dtype=float)
        return np.clip(1.0 - one_minus, 0.0, 1.0), one_minus
    design = rm.design
    quad = np.empty(design.n_samples)
    for sl, rows in design.row_chunks():
        quad[sl] = np.einsum("ij,ji->i", rows, rm.solve(rows.T))
    h = rm.curvature_coefficients * quad
    return h, 1.0 - h


def compute_diagnostics(est, columns=None):
    """Per-row diagnostics of a fitted InfluenceEstimator.

    In memory, one pass over the rows (in blocks); on Dask, two passes over the
    row blocks — the totals (rows fitted, ``Σ h``, Pearson χ², deviance) summed,
    then every block's rows of the table from the same code, gathered.

    Returns
    -------
    table : dict
        ``{"names": coefficient names kept, "outputs": q, "values": {column: array}}``
        with arrays of shape (n, q) (scalar columns) or (n, q, k) (the ``dfb*``
        blocks, k kept coefficients).
    """
    rm = est._fitted_removal()
    objective, design = rm.objective, rm.design
    family = objective.exponential_family()
    if family is None:
        raise ValueError(
            f"diagnostics() is not available for {objective.estimator_name}: "
            f"{objective.no_diagnostics_reason}."
        )
    names = coefficient_names(_feature_names(est), design.fit_intercept)
    keep = check_columns(columns, names)
    if not rm.distributed:
        stats = _row_statistics(rm, family)
        totals = np.sum(_contributions(stats), axis=0)
        result = _table(rm, family, keep, totals, stats)
    else:
        totals = np.asarray(np.sum(rm.rowwise(_row_contributions, family), axis=0), dtype=float)
        packed = np.asarray(rm.rowwise(_packed_table, family, keep, totals))
        result = _unpack(packed, rm.n_outputs, keep.size)
        result["p_eff"] = _p_eff(rm, objective, totals)
    # Warnings once for the whole table, pointing at the caller of
    # InfluenceEstimator.diagnostics.
    if np.any(result["warn"]):
        warn_leverage_one(np.flatnonzero(result["warn"]))
    _warn_unreliable(family, totals, rm.n_outputs, totals[0] - result["p_eff"],
                     result["flags"]["influential"], result["boundary"])
    result["names"] = [names[j] for j in keep]
    return result


def _row_statistics(rm, family):
    """Per-row weights, residuals and hat diagonal of the rows of ``rm``."""
    objective = rm.objective
    s = np.asarray(rm.weights, dtype=float)
    Z = rm.design.matvec(rm.theta.T)  # (n, q)
    mu = family.mean(Z)
    Y = rm.Y
    resid = Y - mu
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.sqrt(s)[:, None] * resid / np.sqrt(family.variance(mu))
        unit_dev = np.maximum(2.0 * objective.loss(Y, Z) / family.kappa, 0.0)
    deviance = np.sign(resid) * np.sqrt(s[:, None] * unit_dev)
    h, one_minus = _hat_diagonal(rm)
    fitted = s > 0
    with np.errstate(invalid="ignore"):
        boundary = fitted & np.any(~(family.variance(mu) > 0), axis=1)
    return {"fitted": fitted, "mu": mu, "resid": resid, "pearson": pearson,
            "deviance": deviance, "h": h, "one_minus": one_minus, "boundary": boundary}


def _contributions(stats):
    """Each row's terms of the totals: ``[fitted, h, h > 0, pearson² (q), deviance² (q),
    fitted value² (q)]`` (zero for rows with weight 0), shape (n, 3 + 3q)."""
    fitted = stats["fitted"]
    f = fitted[:, None]
    return np.hstack([
        fitted[:, None].astype(float),
        np.where(f, stats["h"][:, None], 0.0),
        (f & (stats["h"][:, None] > 0)).astype(float),
        np.where(f, stats["pearson"], 0.0) ** 2,
        np.where(f, stats["deviance"], 0.0) ** 2,
        np.where(f, stats["mu"], 0.0) ** 2,
    ])


def _row_contributions(rm, family):
    return _contributions(_row_statistics(rm, family))


def _p_eff(rm, objective, totals):
    """The model's degrees of freedom: the rank (unpenalised), else ``tr(hat) = Σ h``."""
    return float(rm.rank) if _is_unpenalised(objective) else float(totals[1])


def _table(rm, family, keep, totals, stats):
    """The table's rows for the rows of ``rm``, given the ``totals`` over every
    training row (see :func:`_contributions`)."""
    objective, design = rm.objective, rm.design
    d2 = np.asarray(rm.curvature_coefficients, dtype=float)
    eps_all = rm.penalty_share_coefficients
    n, q = rm.d1.shape
    fitted = stats["fitted"]
    resid, pearson, deviance = stats["resid"], stats["pearson"], stats["deviance"]
    h, one_minus = stats["h"], stats["one_minus"]
    degenerate = one_minus <= LEVERAGE_TOL
    n_fit = int(round(totals[0]))
    p_eff = _p_eff(rm, objective, totals)
    df = n_fit - p_eff
    if not df > 1:
        raise ValueError(
            f"diagnostics() needs more rows with positive weight ({n_fit}) than the "
            f"model's effective degrees of freedom plus one ({p_eff:.4g} + 1): the "
            "residual variance is not defined."
        )
    safe = np.where(degenerate, 1.0, one_minus)[:, None]  # (n, 1)
    hh = h[:, None]

    # Dispersion: fixed at 1 (binomial, Poisson) or Pearson χ² / (n − p_eff).
    phi = np.ones(q) if family.fixed_dispersion else totals[3 : 3 + q] / df
    # R's leave-one-out scale (lminfl): σ_(i)² = (Σ dev − dev_i/(1−h_i)) / (n − p − 1).
    dev_total = totals[3 + q : 3 + 2 * q]
    sigma_i = np.sqrt(np.maximum(dev_total - deviance**2 / safe, 0.0) / (df - 1.0))
    s2_dev = dev_total / df

    standard = pearson / np.sqrt(phi * safe)
    standard_dev = deviance / np.sqrt(phi * safe)
    with np.errstate(divide="ignore", invalid="ignore"):
        student = np.sign(deviance) * np.sqrt(deviance**2 + hh * pearson**2 / safe)
        if not family.fixed_dispersion:
            student = student / sigma_i
        dffits = deviance * np.sqrt(hh) / (sigma_i * safe)
        covratio = (sigma_i**2 / s2_dev) ** p_eff / safe
    dffits_internal = standard * np.sqrt(hh / safe)

    # Parameter changes, block by block: Cook's distance and DFBETA(S), each block
    # written straight into the tables (no n × p̃ temporaries).
    scale = objective.loss_scale * family.kappa  # H / scale is the likelihood's Hessian
    disp_i = sigma_i**2 if family.name == "gaussian" else np.broadcast_to(phi, (n, q))
    se = np.sqrt(scale * rm.inverse_diagonal()[keep])  # (k,)
    inv_se = 1.0 / se
    inv_root_disp = 1.0 / np.sqrt(disp_i)  # (n, q)
    wt = np.array(rm.theta, dtype=float)
    if design.fit_intercept:
        wt[:, -1] = 0.0
    penal = np.ones(design.n_params, dtype=bool)
    if design.fit_intercept:
        penal[-1] = False
    k = keep.size
    # A slice when every coefficient is kept: no fancy-index copy per block.
    full = k == design.n_params
    take = slice(None) if full else keep
    dfbeta = np.empty((n, q, k))
    dfbetas = np.empty((n, q, k))
    inf_dfb = np.empty((n, q, k), dtype=bool)
    chunk = max(_MIN_CHUNK, _BLOCK_FLOATS // max(q * design.n_params, 1))
    sub_rows = max(_MIN_CHUNK, _CACHE_FLOATS // max(q * k, 1))
    scratch = np.empty((min(sub_rows, n), q, k))
    with rm.curvature.quiet():
        # Leverage-one rows are reported once by the caller, not once per block.
        # x̃_i·Δ_i for every row from the Hessian kind (O(n q) after the leverages).
        dz = rm.self_change("rif")  # (n, q)
        # Δ'HΔ = Δ'g_i + Δ'H_iΔ, since H_{−i} Δ_i = g_i for the one-step change:
        # g_i = d1_i x̃_i + ε_i w̃, H_i = d_i x̃_i x̃_iᵀ + ε_i P; both terms ≥ 0.
        quad = rm.d1 * dz + d2[:, None] * dz**2
        for start in range(0, n, chunk):
            sl = slice(start, min(start + chunk, n))
            # (c, q, p̃) RIF, without minus with; straight into the table when it
            # keeps every coefficient (negated in place below).
            delta = rm.row_steps(sl, "rif", out=dfbeta[sl] if full else None)
            eps = eps_all[sl]
            if np.any(eps):
                quad[sl] += eps[:, None] * (
                    np.einsum("cqp,qp->cq", delta, wt)
                    + np.einsum("cqp,cqp->cq", delta[:, :, penal], delta[:, :, penal])
                )
            # Elementwise work in cache-sized sub-blocks: each entry of Δ is read
            # once and each table entry written once.
            for sub in range(sl.start, sl.stop, sub_rows):
                ss = slice(sub, min(sub + sub_rows, sl.stop))
                local = slice(ss.start - sl.start, ss.stop - sl.start)
                block, scaled = dfbeta[ss], dfbetas[ss]
                np.negative(block if full else delta[local][:, :, take], out=block)
                np.multiply(block, inv_root_disp[ss, :, None], out=scaled)
                scaled *= inv_se
                tmp = scratch[: block.shape[0]]
                np.abs(scaled, out=tmp)
                np.greater(tmp, 1.0, out=inf_dfb[ss])
    cooks = quad / (scale * p_eff * phi)

    # R's influence.measures flags, with p_eff for R's k (the number of coefficients).
    n_pos = int(round(totals[2]))
    kk = p_eff
    with np.errstate(invalid="ignore"):
        flags = {
            "inf_dffits": np.abs(dffits) > 3.0 * np.sqrt(kk / (n_pos - kk)),
            "inf_covratio": np.abs(1.0 - covratio) > 3.0 * kk / (n_pos - kk),
            "inf_cooks_d": f_dist.cdf(cooks, kk, n_pos - kk) > 0.5,
            "inf_hat": np.broadcast_to(hh > 3.0 * kk / n_pos, (n, q)).copy(),
        }

    values = {
        "cooks_d": cooks,
        "standard_resid": standard,
        "hat_diag": np.broadcast_to(hh, (n, q)).copy(),
        "dffits_internal": dffits_internal,
        "student_resid": student,
        "dffits": dffits,
        "covratio": covratio,
        "resid_response": resid,
        "resid_pearson": pearson,
        "resid_deviance": deviance,
        "standard_resid_deviance": standard_dev,
    }
    # Undefined values: rows with leverage 1 (removing them leaves a direction
    # undetermined) and rows with weight 0 (not part of the fit; R drops them).
    undefined = degenerate | ~fitted
    if np.any(undefined):
        for name in ("cooks_d", "standard_resid", "dffits_internal", "student_resid",
                     "dffits", "covratio", "standard_resid_deviance"):
            values[name][undefined] = np.nan
        dfbeta[undefined] = np.nan
        dfbetas[undefined] = np.nan
        for name in ("inf_dffits", "inf_covratio", "inf_cooks_d"):
            flags[name][undefined] = False
        inf_dfb[undefined] = False
    if not np.all(fitted):
        for name in ("resid_pearson", "resid_deviance", "hat_diag"):
            values[name][~fitted] = np.nan
        flags["inf_hat"][~fitted] = False
    flags["influential"] = (
        flags["inf_dffits"] | flags["inf_covratio"] | flags["inf_cooks_d"]
        | flags["inf_hat"] | np.any(inf_dfb, axis=2)
    )
    return {
        "warn": degenerate & fitted,
        "boundary": stats["boundary"],
        "n_outputs": q,
        "p_eff": p_eff,
        "values": values,
        "dfb": dfbetas,
        "dfbeta": dfbeta,
        "inf_dfb": inf_dfb,
        "flags": flags,
    }




def _packed_table(rm, family, keep, totals):
    """:func:`_table` of the rows of ``rm`` packed into one float array (c, L)."""
    t = _table(rm, family, keep, totals, _row_statistics(rm, family))
    c = t["dfb"].shape[0]
    parts = [t["values"][name].reshape(c, -1) for name in _VALUE_ORDER]
    parts += [t["flags"][name].reshape(c, -1) for name in _FLAG_ORDER]
    parts += [t[name].reshape(c, -1) for name in ("dfb", "dfbeta", "inf_dfb")]
    parts += [t["warn"].reshape(c, 1), t["boundary"].reshape(c, 1)]
    return np.hstack([np.asarray(part, dtype=float) for part in parts])


def _unpack(packed, q, k):
    """The dict of :func:`_table` from :func:`_packed_table`'s columns."""
    n = packed.shape[0]
    out, col = {"values": {}, "flags": {}, "n_outputs": q}, 0
    for name in _VALUE_ORDER:
        out["values"][name] = packed[:, col : col + q].copy()
        col += q
    for name in _FLAG_ORDER:
        out["flags"][name] = packed[:, col : col + q] > 0
        col += q
    for name in ("dfb", "dfbeta", "inf_dfb"):
        block = packed[:, col : col + q * k].reshape(n, q, k)
        out[name] = block > 0 if name == "inf_dfb" else block.copy()
        col += q * k
    out["warn"], out["boundary"] = packed[:, col] > 0, packed[:, col + 1] > 0
    return out


_VALUE_ORDER = SUMMARY_COLUMNS + EXTRA_COLUMNS
_FLAG_ORDER = FLAG_COLUMNS


#: R's ``summary.lm``: a residual variance below this fraction of the fitted values'
#: mean square is an "essentially perfect fit".
PERFECT_FIT_RTOL = 1e-30


def _warn_unreliable(family, totals, q, df, influential, boundary):
    """:class:`~skrif.exceptions.DiagnosticsWarning` where the table cannot be read
    as usual: an essentially perfect least-squares fit (R's test in ``summary.lm``:
    ``rss / df < 1e-30 (mean(f)² + var(f))``), whose residuals and flags are rounding
    noise; and rows whose fitted mean sits on the boundary of its range (a
    probability of exactly 0 or 1, a Poisson mean of 0), whose variance is 0 and
    residual-based measures NaN.

    From the ``totals`` over the rows fitted (:func:`_contributions`; the fitted
    values' ``mean² + var`` is their mean square) and the table's per-row
    ``influential`` flags (NaN-free, False for rows not fitted) and ``boundary`` rows.
    """
    if not family.fixed_dispersion:
        dev_total = totals[3 + q : 3 + 2 * q]
        scale = totals[3 + 2 * q : 3 + 3 * q] / totals[0]
        perfect = dev_total / df < PERFECT_FIT_RTOL * scale
        if np.any(perfect):
            n_flagged = int(np.count_nonzero(np.any(influential, axis=1)))
            warn(
                "Essentially perfect fit: the residuals are rounding noise (residual "
                f"variance below {PERFECT_FIT_RTOL:g} of the fitted values' mean square, "
                "R's test in summary.lm), so residual-based diagnostics and the "
                f"{n_flagged} rows flagged influential mean nothing.",
                DiagnosticsWarning,
            )
    if np.any(boundary):
        rows = np.flatnonzero(boundary)
        warn(
            f"{rows.size} training rows have a fitted mean on the boundary of its range "
            f"(a probability of exactly 0 or 1, or a mean of 0), e.g. rows "
            f"{rows[:10].tolist()}: their variance is 0, so their Pearson, "
            "standardized and studentized residuals (and what is built on them) are "
            "undefined (NaN). A stronger penalty (smaller C) keeps fitted values off "
            "the boundary.",
            DiagnosticsWarning,
        )


def _feature_names(est):
    from .._utils.frames import _feature_names

    return _feature_names(est)


def _output_labels(est, q):
    classes = getattr(est.estimator_, "classes_", None)
    if classes is not None and len(classes) == q:
        return list(classes)
    return list(range(q))


def diagnostics(est, columns=None):
    """The table of :meth:`InfluenceEstimator.diagnostics` (see its docstring)."""
    result = compute_diagnostics(est, columns)
    names, q = result["names"], result["n_outputs"]
    order = (
        [(f"dfb_{c}", result["dfb"], j) for j, c in enumerate(names)]
        + [(c, result["values"][c], None) for c in SUMMARY_COLUMNS + EXTRA_COLUMNS]
        + [(f"dfbeta_{c}", result["dfbeta"], j) for j, c in enumerate(names)]
        + [(f"inf_dfb_{c}", result["inf_dfb"], j) for j, c in enumerate(names)]
        + [(c, result["flags"][c], None) for c in FLAG_COLUMNS]
    )
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is installed with the tests
        pd = None
    outputs = _output_labels(est, q) if q > 1 else [None]
    if pd is None:  # pragma: no cover
        table = {}
        for k, out in enumerate(outputs):
            for name, arr, j in order:
                col = arr[:, k] if j is None else arr[:, k, j]
                table[name if out is None else (out, name)] = col
        return table
    index = getattr(est, "training_index_", None)
    if index is None:
        index = pd.RangeIndex(result["values"]["hat_diag"].shape[0])
    frames = []
    for k, out in enumerate(outputs):
        # One 2-D block per kind of column (no per-column copies).
        parts = [
            pd.DataFrame(result["dfb"][:, k, :], index=index, copy=False,
                         columns=[f"dfb_{c}" for c in names]),
            pd.DataFrame(
                {c: result["values"][c][:, k] for c in SUMMARY_COLUMNS + EXTRA_COLUMNS},
                index=index,
            ),
            pd.DataFrame(result["dfbeta"][:, k, :], index=index, copy=False,
                         columns=[f"dfbeta_{c}" for c in names]),
            pd.DataFrame(result["inf_dfb"][:, k, :], index=index, copy=False,
                         columns=[f"inf_dfb_{c}" for c in names]),
            pd.DataFrame({c: result["flags"][c][:, k] for c in FLAG_COLUMNS}, index=index),
        ]
        frames.append(pd.concat(parts, axis=1))
    if q == 1:
        return frames[0]
    return pd.concat(frames, axis=1, keys=outputs)
