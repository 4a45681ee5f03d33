"""OneHotEncoder: categories move only when a removal takes the last row of one.

Then the refitted encoder has no column for it (and with ``drop`` the reference may
change): a discrete change, answered per row by the exact path. Otherwise the
encoded columns of every row are unchanged.
"""

import numpy as np

from .base import StepRemoval, Unsupported


class OneHotEncoderRemoval(StepRemoval):
    @staticmethod
    def check(step, path):

        if step.min_frequency is not None or step.max_categories is not None:
            raise Unsupported(
                f"The pipeline step {path!r} is OneHotEncoder with infrequent categories "
                "(min_frequency/max_categories): which categories are grouped depends on "
                "counts that a removal changes."
            )

    def train(self, U, change):

        if change.alpha is not None or change.beta is not None or change.n_tangents:
            raise Unsupported(
                "OneHotEncoder after a step that moves its input (e.g. a scaler): the "
                "categories themselves would change."
            )
        U = np.asarray(U, dtype=object)
        r = change.removed
        discrete = change.discrete.copy()
        for j, cats in enumerate(self.step.categories_):
            col = U[:, j]
            # Rows alone in their category: removing one removes the category.
            values, inverse, counts = np.unique(col.astype(str), return_inverse=True, return_counts=True)
            discrete |= counts[inverse[r]] == 1
        width = len(self.step.get_feature_names_out())
        return change.like(width, coef=np.zeros((r.size, 0)), cols=None,
                           basis=np.zeros((change.n, 0)), discrete=discrete)

    def basis(self, U, B):
        return np.zeros((np.shape(U)[0], 0))
