"""Issue 27 item 5: progress from long-running functions (scikit-learn's
``verbose`` convention: 0 silent, higher values print more)."""

import numpy as np
from sklearn.linear_model import LinearRegression, Ridge

from skrif import InfluenceEstimator
from skrif.validation import validate_influence


def test_amip_summary_verbose_prints_progress(capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ [0.3, 0.2, 0.0] + rng.normal(size=120)
    est = InfluenceEstimator(LinearRegression()).fit(X, y)
    est.amip_summary(cov_type="HC1", verbose=0)
    assert capsys.readouterr().err == ""
    est.amip_summary(cov_type="HC1", verbose=1)
    err = capsys.readouterr().err
    assert "x0" in err and "x2" in err  # one line per coefficient at least


def test_validate_influence_verbose_prints_progress(capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, 2.0, 0.0] + rng.normal(size=80)
    est = InfluenceEstimator(Ridge()).fit(X[:60], y[:60])
    validate_influence(est, X[60:], y[60:], n_sets=4, random_state=0, verbose=1)
    assert "refit" in capsys.readouterr().err
