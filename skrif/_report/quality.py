"""The test split's quality and the leak check of the report: how well the model
predicts held-out rows (accuracy, log-loss or R², RMSE), and columns that predict
the target too well to be honest features."""

import numpy as np

from .render import fmt, sig


def test_quality(model, X, y, classifier, y_train):
    """Accuracy, ROC AUC, log-loss (classifiers) or R², RMSE (regressors) of
    ``model`` (a fitted InfluenceEstimator: rows as it takes them) on ``X, y``."""
    if classifier:
        return quality_of(model.predict_proba(X), y, y_train, model.classes_)
    return quality_of(model.predict(X), y, y_train)


def quality_of(values, y, y_train, classes=None):
    """:func:`test_quality` of given predictions: class probabilities (columns in the
    order of ``classes``) for classifiers, predictions for regressors."""
    from sklearn.metrics import accuracy_score, log_loss, r2_score, roc_auc_score

    if classes is not None:
        proba = np.asarray(values, dtype=float)
        predicted = classes[np.argmax(proba, axis=1)]
        try:
            if len(classes) == 2:
                auc = roc_auc_score(y == classes[1], proba[:, 1])
            else:
                auc = roc_auc_score(y, proba, multi_class="ovr", labels=classes)
        except ValueError:  # a class absent from the test split
            auc = np.nan
        values, counts = np.unique(y_train, return_counts=True)
        majority = values[np.argmax(counts)]
        return {
            "accuracy": accuracy_score(y, predicted),
            "roc_auc": auc,
            "log_loss": log_loss(y, proba, labels=classes),
            "baseline_accuracy": float(np.mean(y == majority)),
            "majority": majority,
        }
    predicted = np.asarray(values, dtype=float).reshape(len(y))
    rmse = float(np.sqrt(np.mean((y - predicted) ** 2)))
    return {
        "r2": r2_score(y, predicted),
        "rmse": rmse,
        "baseline_rmse": float(np.sqrt(np.mean((y - np.mean(y_train)) ** 2))),
    }


def quality_text(q, classifier):
    if classifier:
        return (
            f"accuracy {fmt(q['accuracy'], 3)}, ROC AUC {fmt(q['roc_auc'], 3)}, "
            f"log-loss {fmt(q['log_loss'], 3)} per row"
        )
    return f"R² {fmt(q['r2'], 3)}, RMSE {sig(q['rmse'], 4)}"


def _correlations(X, y):
    """Pearson correlation of every column of ``X`` with ``y`` (0 for constants)."""
    Xc = X - X.mean(axis=0)
    yc = y - y.mean()
    denom = np.sqrt((Xc**2).sum(axis=0) * (yc @ yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (Xc.T @ yc) / np.where(denom > 0, denom, 1.0), 0.0)


def leak_flags(data, quality, classifier):
    """Notes when the test quality is nearly perfect or one feature nearly is the target."""
    flags = []
    X, y = data["X_train"], np.asarray(data["y_train"])
    names = data["feature_names"]
    if classifier and quality["accuracy"] >= 0.995 and len(data["y_test"]) >= 20:
        flags.append(
            f"test accuracy is {fmt(quality['accuracy'], 3)}: nearly perfect predictions "
            "usually mean a feature is derived from the target (a leak)"
        )
    if not classifier and quality["r2"] >= 0.995:
        flags.append(
            f"test R² is {fmt(quality['r2'], 4)}: nearly perfect predictions usually mean "
            "a feature is derived from the target (a leak)"
        )
    from scipy.stats import rankdata

    if hasattr(X, "toarray"):  # sparse features: no per-column check (never densified)
        pass
    elif classifier and len(np.unique(y)) == 2:
        # One feature alone separating the classes: its AUC (rank-sum form) ≈ 0 or 1.
        positive = y == np.unique(y)[1]
        n1, n0 = positive.sum(), (~positive).sum()
        ranks = rankdata(X, axis=0)
        auc = (ranks[positive].sum(axis=0) - n1 * (n1 + 1) / 2) / (n1 * n0)
        strength = np.maximum(auc, 1 - auc)
        for j in np.flatnonzero(strength >= 0.995)[:3]:
            flags.append(
                f"feature {names[j]!r} alone separates the training classes (AUC "
                f"{fmt(strength[j], 3)})"
            )
    elif not classifier:
        # Rank (Spearman) correlation: a monotone transform of the target is as much
        # a leak as a linear one (ISLR Wage: wage = exp(logwage), Spearman 1.0,
        # Pearson 0.95).
        pearson = _correlations(X, y)
        spearman = _correlations(rankdata(X, axis=0), rankdata(y))
        strong = np.flatnonzero((np.abs(spearman) >= 0.99) | (np.abs(pearson) >= 0.99))
        for j in strong[:3]:
            flags.append(
                f"feature {names[j]!r} has rank correlation {fmt(spearman[j], 3)} "
                f"(Pearson {fmt(pearson[j], 3)}) with the target"
            )
    if flags:
        flags[-1] += (
            ": a possible leak. If such a column is computed from the target or recorded "
            "after it, --drop it."
        )
    return flags
