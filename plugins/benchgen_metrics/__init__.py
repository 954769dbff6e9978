"""Built-in metrics and feature extractors: one module per metric (mmd, kid, fid with frd, msssim, prdc,
memorization, anatomy, utility), thin wrappers over :mod:`benchgen.functional` that validate inputs, extract (and
cache) features through :func:`benchgen_metrics.common.feature_sets`, bootstrap confidence intervals
(:mod:`benchgen_metrics.resampling`) and record everything that made the number. Bad input raises ``MetricError``.
"""
