"""The leave-T-out capacitance solve of Woodbury's identity, with its one check.

For ``H`` factored and a removed part ``X̃_Tᵀ E X̃_T`` (``E = t D_T`` diagonal),
push-through gives ``(H − X̃_TᵀEX̃_T)⁻¹ X̃_Tᵀ = H⁻¹X̃_Tᵀ (I − E M)⁻¹`` with
``M = X̃_T H⁻¹ X̃_Tᵀ``, and

    (I − t D M)⁻¹ = I + t D^½ C_t⁻¹ D^½ M,     C_t = I − t D^½ M D^½,

valid for every ``d ≥ 0`` (rows of zero curvature included) and every ``t``. The
capacitance ``C_t`` is formed by the caller without cancellation
(``(1 − t) I + t (I − B_T)`` with ``I − B_T`` computed directly for ``0 < t ≤ 1``,
``I + |t| B_T`` for ``t < 0``).
"""

import numpy as np
import scipy.linalg as sla

from .factor import SINGULAR_RTOL


def check_capacitance(C, what="Removing these rows"):
    """Raise if the symmetric capacitance ``C`` (k × k) is not positive definite.

    Its eigenvalues are those of the leave-T-out Hessian relative to ``H`` along
    the removed rows: a non-positive one means the remaining rows do not
    determine every parameter.
    """
    from ..exceptions import NotPositiveDefiniteError

    C = 0.5 * (C + C.T)
    smallest = np.linalg.eigvalsh(C)[0] if C.size else 1.0
    if not smallest > SINGULAR_RTOL:
        raise NotPositiveDefiniteError(
            f"{what} leaves a Hessian that is not positive definite: the remaining "
            "rows do not determine every parameter."
        )
    return C


def capacitance_coefficients(C, root, M, coeffs, t):
    """``(I − t D M)⁻¹ coeffs`` given ``C = C_t`` (checked), ``root = D^½``, ``M``.

    Cost O(k³ + k² q).
    """
    C = check_capacitance(C)
    y = sla.solve(C, root[:, None] * (M @ coeffs), assume_a="pos", check_finite=False)
    return coeffs + t * root[:, None] * y
