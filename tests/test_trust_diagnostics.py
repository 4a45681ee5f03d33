"""Issue 27: regression diagnostics say when their numbers are noise or undefined
(findings M, V).

Ground truth: R's ``summary.lm`` warns "essentially perfect fit: summary may be
unreliable"; a fitted probability of exactly 0 or 1 has zero variance, so Pearson
residuals and the leverage-based measures of that row are undefined.
"""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import skrif.exceptions as skrif_exceptions
from skrif import InfluenceEstimator

pytest.importorskip("pandas")


def diagnostics_warning():
    cls = getattr(skrif_exceptions, "DiagnosticsWarning", None)
    assert cls is not None, "skrif.exceptions.DiagnosticsWarning"
    return cls


def test_perfect_fit_warns():
    # Finding M: y is an exact linear function of X; 4 rows were flagged
    # "influential" from rounding noise, with no warning.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, 2.0, 3.0] + 0.5
    est = InfluenceEstimator(LinearRegression()).fit(X, y)
    with pytest.warns(diagnostics_warning(), match="perfect fit"):
        est.diagnostics()


def test_no_perfect_fit_warning_on_noisy_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ [1.0, 2.0, 3.0] + 0.5 + rng.normal(size=40)
    cls = diagnostics_warning()
    with warnings.catch_warnings():
        warnings.simplefilter("error", cls)
        InfluenceEstimator(LinearRegression()).fit(X, y).diagnostics()


def test_saturated_probabilities_explain_their_nan():
    # Finding V: rows whose fitted probability is exactly 0 or 1 get NaN
    # residual-based diagnostics, with no reason given.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    X[:3, 0] = 60.0
    y = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    est = InfluenceEstimator(LogisticRegression(C=1.0, tol=1e-10)).fit(X, y)
    with pytest.warns(diagnostics_warning(), match=r"rows? \[0, 1, 2\]"):
        table = est.diagnostics()
    assert table["student_resid"].iloc[:3].isna().all()
