"""
=================================================================
Predicted vs actual effects of removing training rows (Figure 1)
=================================================================

The paper's Figure 1 (Rubinstein & Hopkins, NeurIPS 2025) on data that ships with
scikit-learn: the breast-cancer table mapped to all degree-2 monomials of its
standardized features (:func:`skrif.datasets.load_breast_cancer_quadratic`: 300
training rows, 495 features — more parameters than rows), fitted with an
L2-penalised logistic regression.

We remove 60 sets of training rows — random, clustered by one feature, clustered
around an anchor row, and drawn from the true top-scoring rows — of 0.1% to 5% of
the data, and compare three predictions of the effect with the exact refit:

* the classical influence function (IF),
* the rescaled influence function (RIF),
* the group Newton step (NS),

on three targets: the total probability of the true class over a test subset, the
total test loss over it, and the training loss over all training rows. Each point
is one removal set; the dashed line is ``predicted = actual``. IF falls short of the
diagonal (slopes around 0.5–0.7); RIF and NS lie on it.

The same table and figure come out of ``skrif report`` (the command-line tool).
"""

import matplotlib.pyplot as plt
import numpy as np

from skrif import InfluenceDisplay, InfluenceEstimator
from skrif.datasets import default_model, load_breast_cancer_quadratic
from skrif.validation import validate_influence

data = load_breast_cancer_quadratic()
est = InfluenceEstimator(default_model()).fit(data.X_train, data.y_train)
print(
    f"{data.X_train.shape[0]} training rows, {data.X_train.shape[1]} features; "
    f"leverage median {np.median(est.leverages_):.2f}, max {est.leverages_.max():.2f}"
)

out = validate_influence(est, data.X_test, data.y_test, n_sets=60, random_state=0, as_frame=False)
s = out.summary
print(f"\n{'method':<8}{'target':<12}{'slope':>7}{'pearson':>9}{'spearman':>9}{'med. rel. err':>14}")
for i in range(len(s["method"])):
    print(
        f"{s['method'][i]:<8}{s['target'][i]:<12}{s['slope'][i]:>7.3f}{s['pearson'][i]:>9.3f}"
        f"{s['spearman'][i]:>9.3f}{s['median_relative_error'][i]:>14.3f}"
    )

display = InfluenceDisplay.from_results(out)
display.figure_.suptitle("Effect of removing training rows: predicted vs exact refit")
plt.show()
