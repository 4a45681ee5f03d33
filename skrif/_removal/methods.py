"""The removal methods: one table read by the estimator, validation, display and CLI.

Adding a method is one row here plus its algebra in :class:`skrif._core.fitted.RemovalModel`
(and, for a new approximation, below it in :func:`skrif._core.influence.parameter_change`).

=========  =======  ========  =========  ==============================================
name       label    additive  predicted  meaning
=========  =======  ========  =========  ==============================================
``if``     IF       yes       yes        classical influence function ``H⁻¹ Σ_T g_i``
``rif``    RIF      yes       yes        rescaled influence ``Σ_T H⁻¹ g_i / (1 − h_i)``
``newton`` NS       no        yes        one Newton step on the leave-T-out objective
``refit``  refit    no        no         exact refit (the ground truth of validation)
=========  =======  ========  =========  ==============================================

*Additive* methods give single-row effects that are summed over a set, so they
serve per-row score matrices, rankings, self-influence and leave-one-out values.
*Predicted* methods are approximations checked against exact refits by
:func:`skrif.validation.validate_influence`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class RemovalMethod:
    """One row of the method table.

    Attributes
    ----------
    name : str
        Canonical name, as passed to ``method=`` and stored in results.
    label : str
        Short label for plots, tables and reports.
    additive : bool
        Whether the effect of a set is the sum of single-row effects.
    predicted : bool
        Whether it is an approximation (validated against exact refits).
    aliases : tuple of str
        Other accepted spellings (case-insensitive in the command line).
    description : str
        One line for help texts.
    plot_style : tuple of (str, object) pairs
        Matplotlib scatter keywords of its points in
        :class:`~skrif.InfluenceDisplay` (predicted methods).
    """

    name: str
    label: str
    additive: bool
    predicted: bool
    aliases: tuple = ()
    description: str = ""
    plot_style: tuple = ()


TABLE = (
    # IF is drawn hollow and on top, so that it stays visible where RIF agrees with it.
    RemovalMethod(
        "if", "IF", True, True, (), "classical influence function",
        (("facecolors", "none"), ("edgecolors", "tab:red"), ("marker", "o"),
         ("linewidths", 1.1), ("zorder", 3)),
    ),
    RemovalMethod(
        "rif", "RIF", True, True, (), "rescaled influence function",
        (("color", "tab:blue"), ("marker", "s"), ("zorder", 2)),
    ),
    RemovalMethod(
        "newton", "NS", False, True, ("ns",), "group Newton step",
        (("color", "tab:green"), ("marker", "^"), ("zorder", 2)),
    ),
    RemovalMethod("refit", "refit", False, False, (), "exact refit"),
)

BY_NAME = {m.name: m for m in TABLE}
#: Every accepted spelling (names and aliases) → its canonical name.
SPELLINGS = {s: m.name for m in TABLE for s in (m.name, *m.aliases)}

#: All methods, in table order.
METHODS = tuple(BY_NAME)
#: Methods whose single-row effects are additive (score matrices, rankings, LOO).
ADDITIVE_METHODS = tuple(m.name for m in TABLE if m.additive)
#: Approximations that validation checks against exact refits.
PREDICTED_METHODS = tuple(m.name for m in TABLE if m.predicted)
#: Display labels ("IF", "RIF", "NS", "refit").
LABELS = {m.name: m.label for m in TABLE}


def canonical(method):
    """The canonical name of ``method`` (a name or an alias), or ``None`` if unknown."""
    return SPELLINGS.get(method) if isinstance(method, str) else None


def label(method):
    """Display label of ``method`` (its name if it is not in the table)."""
    return LABELS.get(method, method)
