"""Leverage-one rows: one threshold and one warning for every curvature and method."""

from .._utils.warn import warn

#: Rows with ``1 − h_i`` at or below this are treated as leverage one: removing
#: such a row leaves a parameter direction undetermined by the remaining rows.
#: The rank-one and penalty-share kinds compute ``1 − h_i`` without cancellation
#: (relative error ~1e-15 measured down to 1 − h = 1e-9), so their effects stay
#: exact to 1e-8 down to here.
LEVERAGE_TOL = 1e-10
#: The multinomial (block) kind's ``1 − h_i`` is ``1 − λ_max(A_i M_i)``, which
#: cancels near 1: below this it is not computable and rows count as leverage one.
BLOCK_LEVERAGE_TOL = 1e-8


def warn_leverage_one(rows, tol=LEVERAGE_TOL):
    """Warn that ``rows`` have leverage 1, so their rescaled influence is NaN
    (at the user's line: :func:`skrif._utils.warn.warn`)."""
    from ..exceptions import HighLeverageWarning

    warn(
        f"Rows {list(map(int, rows[:20]))} have leverage 1 (1 - h_i <= {tol:g}): "
        "removing one of them leaves a parameter direction undetermined, so their "
        "rescaled influence is undefined and reported as NaN. Method 'if' stays "
        "finite; a penalty makes it well defined.",
        HighLeverageWarning,
    )
