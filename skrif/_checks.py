"""Small input predicates shared by the public entry points."""

import numbers

import numpy as np


def is_integer(value):
    """True for Python and NumPy integers, False for booleans (which are Integral)."""
    return isinstance(value, (numbers.Integral, np.integer)) and not isinstance(
        value, (bool, np.bool_)
    )


def undefined_single_removals(problem):
    """Training rows whose removal *alone* leaves a model that cannot be fitted.

    E.g. the only (positive-weight) training row of a class: the classifier
    without it has fewer classes, so :meth:`~skrif.InfluenceEstimator.influence`
    refuses to remove it, and every single-row effect of that row (self-influence,
    leave-one-out prediction, its row of ``influence_scores``) is undefined too.
    Returned as sorted positions (int array, usually empty).

    Candidates are rows unique in their encoded target among positive-weight rows
    (at most one per class for classifiers; only the last positive-weight row
    otherwise); each is confirmed with the objective's own ``check_removal``.
    Cost O(n q log n).
    """
    objective, Y, weights = problem.objective, problem.Y, problem.weights
    positive = np.flatnonzero(weights > 0)
    if positive.size <= 1:
        candidates = positive
    elif objective.is_classifier:
        _, inverse, counts = np.unique(
            Y[positive], axis=0, return_inverse=True, return_counts=True
        )
        candidates = positive[counts[np.ravel(inverse)] == 1]
    else:
        return np.zeros(0, dtype=np.intp)
    undefined = []
    for i in candidates:
        kept = weights.copy()
        kept[i] = 0.0
        try:
            objective.check_removal(Y, kept)
        except ValueError:
            undefined.append(i)
    return np.asarray(undefined, dtype=np.intp)
