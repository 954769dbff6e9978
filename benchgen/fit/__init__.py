"""Fit: a generator fitted once per (config, data, fit seed), or loaded from its checkpoint."""
