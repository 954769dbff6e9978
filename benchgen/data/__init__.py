"""Data: a suite's cohort from its dataset source through preprocessing to cached splits."""
