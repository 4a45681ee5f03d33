"""Data cleaning on real tables: label issues vs cleanlab, removal curves, null data.

Run: ``.venv/bin/python benchmarks/cleaning.py [--parts labels,curves,null] [--quick]``
(1 BLAS thread; about 25 minutes in all, ``--quick`` one seed and fewer tables).
Writes ``benchmarks/results/cleaning/{labels,curves,null}.csv`` and ``RESULTS.md``.

Six classification tables that ship offline: scikit-learn's breast cancer (binary),
wine (3 classes) and digits (10 classes), palmerpenguins (3 species), statsmodels'
``anes96`` (vote, binary) and ``fair`` (any affair, binary); features standardized;
``LogisticRegression(C=1, max_iter=10000)`` (lbfgs: what a user fits; skrif polishes
it), the same model for every method.

1. **labels** — planted noise at 5% and 15% of the rows, uniform (another class at
   random) or class-conditional (each class flips to one partner class, per-class
   rates drawn at random), 3 seeds: 72 runs. Rankings scored by precision@k
   (k = number of flipped labels): ``est.label_issues().score`` (leave-one-out
   probabilities by RIF), ``label_issues(cv=5)`` (5 folds by group Newton steps;
   not for digits: cv_predict is minutes there), the in-sample training loss,
   ``self_influence(target="loss")``, and cleanlab 2.9's self-confidence on 5-fold
   out-of-sample probabilities (``cross_val_predict``, stratified, shuffled).
   Flags: precision and recall of ``label_issues().is_issue`` and of cleanlab's
   ``find_label_issues`` on its 5-fold probabilities. Times: the wrapped fit alone,
   skrif's fit (with polishing), ``label_issues()`` on the fitted estimator, and
   cleanlab's pipeline (5 fits + ``find_label_issues`` with its default n_jobs).
   Each run also checks that ``label_issues`` flags equal ``find_label_issues`` fed
   the same probabilities.
2. **curves** — each table split 60/40 (3 seeds), training labels as they are and
   with 15% uniform noise; :func:`skrif.validation.removal_curve` by ``"harmful"``
   cross-fitted and in-sample, and by ``"label_issues"``; default loss score and
   accuracy. Plus scikit-learn's diabetes with Ridge (harmful, self).
3. **null** — data with nothing to clean (well-specified logistic and linear models,
   n = 200 training, 60 evaluation rows, p = 5; 30 data sets each): mean
   cross-fitted and in-sample gains, their t statistic over data sets, and the
   share of runs whose own gain exceeds twice its standard error.
"""

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split
from threadpoolctl import threadpool_limits

from skrif import InfluenceEstimator
from skrif.validation import removal_curve

OUT = Path(__file__).parent / "results" / "cleaning"
RATES = (0.05, 0.15)
KINDS = ("uniform", "class_conditional")


# -- tables --------------------------------------------------------------------------
def _standardize(X):
    X = np.asarray(X, dtype=float)
    sd = X.std(axis=0)
    X = X[:, sd > 0]
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _codes(y):
    return np.unique(np.asarray(y), return_inverse=True)[1].astype(int)


def load_tables():
    import statsmodels.api as sm
    from palmerpenguins import load_penguins
    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    tables = {}
    d = load_breast_cancer()
    tables["breast_cancer"] = (_standardize(d.data), _codes(d.target))
    d = load_wine()
    tables["wine"] = (_standardize(d.data), _codes(d.target))
    df = load_penguins().dropna()
    num = df[["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]]
    cat = pd.get_dummies(df[["island", "sex"]], drop_first=True, dtype=float)
    tables["penguins"] = (_standardize(np.column_stack([num, cat])), _codes(df["species"]))
    df = sm.datasets.anes96.load_pandas().data
    feats = ["popul", "TVnews", "selfLR", "ClinLR", "DoleLR", "PID", "age", "educ", "income"]
    tables["anes96"] = (_standardize(df[feats]), _codes(df["vote"]))
    df = sm.datasets.fair.load_pandas().data
    feats = ["rate_marriage", "age", "yrs_married", "children", "religious", "educ",
             "occupation", "occupation_husb"]
    tables["fair"] = (_standardize(df[feats]), (df["affairs"] > 0).astype(int).to_numpy())
    d = load_digits()
    tables["digits"] = (_standardize(d.data), _codes(d.target))
    return tables


def plant_noise(y, rate, kind, seed):
    """Flip round(rate · n) labels; return (noisy labels, flipped mask)."""
    rng = np.random.default_rng(seed)
    n, K = len(y), int(y.max()) + 1
    m = int(round(rate * n))
    noisy = y.copy()
    if kind == "uniform":
        rows = rng.choice(n, size=m, replace=False)
        noisy[rows] = (y[rows] + rng.integers(1, K, size=m)) % K
    else:  # each class to one partner class (a derangement), random per-class rates
        while True:
            partner = rng.permutation(K)
            if np.all(partner != np.arange(K)):
                break
        counts = np.bincount(y, minlength=K)
        cap = np.floor(0.45 * counts).astype(int)
        weights = rng.dirichlet(np.ones(K)) * counts
        quota = np.minimum(np.floor(weights / weights.sum() * m), cap).astype(int)
        while quota.sum() < m and np.any(quota < cap):
            quota[np.argmax(cap - quota)] += 1
        rows = np.concatenate([
            rng.choice(np.flatnonzero(y == k), size=quota[k], replace=False) for k in range(K)
        ])
        noisy[rows] = partner[y[rows]]
    flipped = np.zeros(n, dtype=bool)
    flipped[rows] = True
    return noisy, flipped


def _model():
    return LogisticRegression(C=1.0, max_iter=10000)


def _precision_at_k(score, truth):
    k = int(truth.sum())
    return float(truth[np.argsort(score, kind="stable")[:k]].mean())


def _precision_recall(flags, truth):
    flags = np.asarray(flags, dtype=bool)
    tp = np.sum(flags & truth)
    return tp / max(flags.sum(), 1), tp / truth.sum()


# -- 1. label issues -------------------------------------------------------------------
def label_run(name, X, y, rate, kind, seed):
    from cleanlab.filter import find_label_issues

    noisy, truth = plant_noise(y, rate, kind, seed)
    row = dict(table=name, n=X.shape[0], p=X.shape[1], K=int(y.max()) + 1, rate=rate,
               kind=kind, seed=seed, n_flipped=int(truth.sum()))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    t = time.perf_counter()
    clone(_model()).fit(X, noisy)
    row["t_plain_fit"] = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the polishing note on lbfgs fits
        t = time.perf_counter()
        est = InfluenceEstimator(_model()).fit(X, noisy)
        row["t_skrif_fit"] = time.perf_counter() - t
        t = time.perf_counter()
        issues = est.label_issues()
        row["t_label_issues"] = time.perf_counter() - t
        self_loss = np.asarray(est.self_influence(target="loss"), dtype=float)
        P_in = est.predict_proba(X)
        if row["K"] <= 3:
            t = time.perf_counter()
            issues_cv = est.label_issues(cv=folds)
            row["t_label_issues_cv5"] = time.perf_counter() - t
        else:
            issues_cv = None
    t = time.perf_counter()
    P5 = cross_val_predict(clone(_model()), X, noisy, cv=folds, method="predict_proba")
    row["t_cleanlab_cv"] = time.perf_counter() - t
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        cl_flags = find_label_issues(noisy, P5)
        row["t_cleanlab_filter"] = time.perf_counter() - t
        same = find_label_issues(noisy, np.asarray(issues.probabilities), n_jobs=1)
    assert np.array_equal(same, np.asarray(issues.is_issue)), "flags differ from cleanlab's"
    row["t_skrif_total"] = row["t_skrif_fit"] + row["t_label_issues"]
    row["t_cleanlab_total"] = row["t_cleanlab_cv"] + row["t_cleanlab_filter"]

    own = lambda P: P[np.arange(len(noisy)), noisy]  # noqa: E731  self-confidence
    rankings = {
        "label_issues": np.asarray(issues.score, dtype=float),
        "label_issues_cv5": None if issues_cv is None else np.asarray(issues_cv.score, dtype=float),
        "train_loss": own(P_in),
        "self_influence": -np.nan_to_num(self_loss, nan=np.inf),
        "cleanlab_cv5": own(P5),
    }
    for key, score in rankings.items():
        row[f"p@k_{key}"] = np.nan if score is None else _precision_at_k(score, truth)
    for key, flags in (("label_issues", issues.is_issue), ("cleanlab_cv5", cl_flags)):
        row[f"precision_{key}"], row[f"recall_{key}"] = _precision_recall(flags, truth)
        row[f"n_flagged_{key}"] = int(np.sum(flags))
    if issues_cv is not None:
        row["precision_label_issues_cv5"], row["recall_label_issues_cv5"] = _precision_recall(
            issues_cv.is_issue, truth)
    return row


def labels_part(tables, seeds):
    rows = []
    for name, (X, y) in tables.items():
        for rate in RATES:
            for kind in KINDS:
                for seed in range(seeds):
                    r = label_run(name, X, y, rate, kind, seed)
                    rows.append(r)
                    print(f"labels {name:13s} {rate:.2f} {kind:17s} {seed}  p@k "
                          f"skrif {r['p@k_label_issues']:.3f} cleanlab {r['p@k_cleanlab_cv5']:.3f} "
                          f"loss {r['p@k_train_loss']:.3f} self {r['p@k_self_influence']:.3f}  "
                          f"time skrif {r['t_skrif_total']:.3f} s cleanlab {r['t_cleanlab_total']:.3f} s",
                          flush=True)
    return pd.DataFrame(rows)


# -- 2. removal curves ----------------------------------------------------------------
def _accuracy(model, X, y):
    return float(np.mean(model.predict(X) == y))


def curves_part(tables, seeds):
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    regression = {"diabetes": (_standardize(d.data), (d.target - d.target.mean()) / d.target.std())}
    rows = []
    jobs = [(name, X, y, True) for name, (X, y) in tables.items()]
    jobs += [(name, X, y, False) for name, (X, y) in regression.items()]
    for name, X, y, classifier in jobs:
        for seed in range(seeds):
            X_tr, X_ev, y_tr, y_ev = train_test_split(
                X, y, test_size=0.4, random_state=seed, stratify=y if classifier else None)
            for noise in (0.0, 0.15) if classifier else (0.0,):
                y_used = y_tr if noise == 0 else plant_noise(y_tr, noise, "uniform", seed)[0]
                model = _model() if classifier else Ridge(alpha=1.0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est = InfluenceEstimator(model).fit(X_tr, y_used)
                    bys = ("harmful", "label_issues") if classifier else ("harmful", "self")
                    scorings = (None, _accuracy) if classifier else (None,)
                    for by in bys:
                        for selection in ("cross_fit", "in_sample"):
                            if by != "harmful" and selection == "in_sample":
                                continue  # rankings that do not read the evaluation rows
                            for scoring in scorings:
                                t = time.perf_counter()
                                c = removal_curve(est, X_ev, y_ev, by=by, selection=selection,
                                                  scoring=scoring, random_state=seed)
                                seconds = time.perf_counter() - t
                                frame = c.to_frame().assign(
                                    table=name, seed=seed, noise=noise, by=by, selection=selection,
                                    scoring="accuracy" if scoring else "neg_mean_loss",
                                    seconds=seconds)
                                rows.append(frame)
            print(f"curves {name} seed {seed} done", flush=True)
    return pd.concat(rows, ignore_index=True)


# -- 3. null data ---------------------------------------------------------------------
def null_part(n_sets):
    rows = []
    for kind in ("logistic", "ridge"):
        for seed in range(n_sets):
            rng = np.random.default_rng(seed)
            n, m, p = 200, 60, 5
            X = rng.normal(size=(n + m, p))
            beta = rng.normal(size=p)
            z = X @ beta
            if kind == "logistic":
                y = (rng.uniform(size=n + m) < 1 / (1 + np.exp(-z))).astype(int)
                model = LogisticRegression(solver="newton-cholesky", tol=1e-10)
            else:
                y = z + rng.normal(size=n + m)
                model = Ridge(alpha=1.0)
            est = InfluenceEstimator(model).fit(X[:n], y[:n])
            for selection in ("cross_fit", "in_sample"):
                c = removal_curve(est, X[n:], y[n:], selection=selection, n_random=5,
                                  random_state=seed)
                frame = c.to_frame().assign(kind=kind, seed=seed, selection=selection)
                if kind == "ridge":  # the true change of the expected loss on new rows
                    frame["population_gain"] = _population_gain(est, X[:n], y[:n], beta, c, m)
                rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _population_gain(est, X, y, beta, curve, m):
    """Exact change of the expected squared error on new rows (x ~ N(0, I), unit
    noise) of each point's removals: ‖b − β‖² with all rows minus without, averaged
    over the folds by their held-out rows."""
    def excess(model):
        return np.sum((model.coef_ - beta) ** 2) + model.intercept_ ** 2

    base = excess(Ridge(alpha=1.0, solver="cholesky").fit(X, y))
    gains = np.zeros(len(curve.fractions))
    for f, (_, scored) in enumerate(curve.folds):
        for k, rows in enumerate(curve.removed[f]):
            keep = np.setdiff1d(np.arange(len(y)), rows)
            refit = Ridge(alpha=1.0, solver="cholesky").fit(X[keep], y[keep])
            gains[k] += (base - excess(refit)) * len(scored) / m
    return gains


# -- summary --------------------------------------------------------------------------
def summarize(labels, curves, null):
    lines = ["# Data cleaning on real tables", "",
             "Generated by `benchmarks/cleaning.py` (1 BLAS thread).", ""]
    if labels is not None:
        ranks = [c for c in labels.columns if c.startswith("p@k_")]
        lines += ["## 1. Label issues: precision@k (k = planted errors), mean over runs", "",
                  f"{len(labels)} runs.", "", "```",
                  labels.groupby("table")[ranks].mean().round(3).to_string(), "",
                  "all tables:", labels[ranks].mean().round(3).to_string(), "```", ""]
        at_least = int((labels["p@k_label_issues"] >= labels["p@k_cleanlab_cv5"] - 1e-12).sum())
        lines += [f"label_issues at or above cleanlab (5-fold) in {at_least} of {len(labels)} runs.", ""]
        flag_cols = [c for c in labels.columns if c.startswith(("precision_", "recall_"))]
        lines += ["Flags: precision / recall, mean over runs", "", "```",
                  labels[flag_cols].mean().round(3).to_string(), "",
                  labels.groupby("table")[flag_cols].mean().round(3).to_string(), "```", ""]
        by = labels.groupby(["rate", "kind"])[
            ["p@k_label_issues", "p@k_cleanlab_cv5", "p@k_train_loss", "p@k_self_influence",
             "precision_label_issues", "precision_cleanlab_cv5", "recall_label_issues",
             "recall_cleanlab_cv5"]].mean().round(3)
        lines += ["By noise rate and type:", "", "```", by.to_string(), "```", ""]
        times = labels.groupby("table")[
            ["t_plain_fit", "t_skrif_fit", "t_label_issues", "t_skrif_total", "t_cleanlab_cv",
             "t_cleanlab_filter", "t_cleanlab_total"]].median()
        times["cleanlab / skrif (fit + label_issues)"] = (
            labels.t_cleanlab_total / labels.t_skrif_total).groupby(labels.table).median()
        times["cleanlab / label_issues (fitted)"] = (
            labels.t_cleanlab_total / labels.t_label_issues).groupby(labels.table).median()
        lines += ["Times (median seconds per run):", "", "```", times.round(4).to_string(), "```", ""]
    if curves is not None:
        lines += ["## 2. Removal curves (evaluation split, mean over 3 splits)", ""]
        for scoring in ("neg_mean_loss", "accuracy"):
            for noise in sorted(curves["noise"].unique()):
                part = curves[(curves.scoring == scoring) & (curves.noise == noise)]
                if part.empty:
                    continue
                value = part["gain"] / (-part["score_all"]) if scoring == "neg_mean_loss" else part["gain"]
                part = part.assign(value=100 * value)
                piv = part.pivot_table(index=["by", "selection", "table"], columns="fraction",
                                       values="value", aggfunc="mean")
                what = ("decrease of the mean evaluation loss, % of the loss"
                        if scoring == "neg_mean_loss" else "accuracy gain, points")
                lines += [f"### {what}; training labels with {100 * noise:g}% planted noise", "",
                          "```", piv.round(2).to_string(), "```", ""]
                rand = part[(part.by == "harmful") & (part.selection == "cross_fit")]
                rv = rand["gain_random"] / (-rand["score_all"]) if scoring == "neg_mean_loss" else rand["gain_random"]
                rp = rand.assign(r=100 * rv).pivot_table(index="table", columns="fraction",
                                                         values="r", aggfunc="mean")
                lines += ["random removal of as many rows:", "", "```", rp.round(2).to_string(),
                          "```", ""]
        sec = curves.groupby(["table", "by", "selection"])["seconds"].median().unstack()
        lines += ["seconds per curve (median):", "", "```", sec.round(2).to_string(), "```", ""]
    if null is not None:
        lines += ["## 3. Null data (nothing to clean)", ""]
        null = null.assign(sig=null["gain"] > 2 * null["gain_se"])
        g = null.groupby(["kind", "selection", "fraction"])
        table = pd.DataFrame({
            "mean_gain": g["gain"].mean(),
            "t_over_data_sets": g["gain"].mean() / (g["gain"].std(ddof=1) / np.sqrt(g["gain"].size())),
            "share_gain_above_2se": g["sig"].mean(),
            "mean_gain_random": g["gain_random"].mean(),
        })
        if "population_gain" in null:
            table["true_gain_on_new_rows"] = g["population_gain"].mean()
        lines += ["```", table.round(4).to_string(), "```", ""]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="labels,curves,null")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    parts = args.parts.split(",")
    OUT.mkdir(parents=True, exist_ok=True)
    tables = load_tables()
    seeds = 1 if args.quick else 3
    if args.quick:
        tables = {k: tables[k] for k in ("breast_cancer", "wine", "penguins", "anes96")}
    results = {}
    with threadpool_limits(limits=1, user_api="blas"):
        if "labels" in parts:
            results["labels"] = labels_part(tables, seeds)
            results["labels"].to_csv(OUT / "labels.csv", index=False)
        if "curves" in parts:
            results["curves"] = curves_part(tables, seeds)
            results["curves"].to_csv(OUT / "curves.csv", index=False)
        if "null" in parts:
            results["null"] = null_part(10 if args.quick else 30)
            results["null"].to_csv(OUT / "null.csv", index=False)
    loaded = {k: results.get(k) for k in ("labels", "curves", "null")}
    for key in loaded:  # summarize what exists, so parts can be rerun one at a time
        if loaded[key] is None and (OUT / f"{key}.csv").exists():
            loaded[key] = pd.read_csv(OUT / f"{key}.csv")
    text = summarize(loaded["labels"], loaded["curves"], loaded["null"])
    (OUT / "RESULTS.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
