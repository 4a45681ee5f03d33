"""Floor 6: removing rows through a fitted pipeline's preprocessing.

When rows leave a pipeline's training data, every fitted step is refitted too: a
scaler's means and scales, an imputer's values, an encoder's categories. This
package says how, for the supported scikit-learn transformers:

* one module per transformer (``standard``, ``minmax``, ``maxabs``, ``robust``,
  ``imputer``, ``onehot``, ``polynomial``, ``spline``, ``function``): how its fitted
  statistics — and so the features of every row — move when one training row is
  removed (:class:`~skrif._preprocess.change.RowChange`: an exact column-affine part
  and tangents), for the additive per-row methods;
* ``compose``: Pipeline, ColumnTransformer, FeatureUnion, ``passthrough``/``drop``;
  ``registry`` maps transformer types to their modules;
* ``rows``: single-row IF/RIF of the final model with the preprocessing term;
* ``sets``: a set's exact leave-T-out statistics (the preprocessing refitted) and the
  model's Newton step or refit on the new features;
* ``removal``: :class:`~skrif._preprocess.removal.PipelineRemoval`, which answers
  the estimator's questions in whole-pipeline semantics.

May import: :mod:`skrif._core` and below, scikit-learn.
"""
