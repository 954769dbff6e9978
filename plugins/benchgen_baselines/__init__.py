"""Baseline generators: real held-out scans, memorized training scans, a PCA Gaussian and noise."""
