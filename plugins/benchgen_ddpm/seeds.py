"""Seeds derived from integers: the training loop, the denoiser's noise and the samplers each draw from
streams keyed by ``(seed, purpose, step, ...)`` instead of carrying RNG state, so a resumed or re-batched
run draws exactly what the uninterrupted one drew.

The second part names the stream: 1 an epoch's order and 2 a training step's batch (``loop``), 3 the
validation noise (``objective``), 4 sampling (``sampling``)."""

from __future__ import annotations


def seed_for(*parts: int) -> int:
    """A 63-bit seed from integers (splitmix-style), so streams for different (seed, step, ...) differ."""
    h = 0x9E3779B97F4A7C15
    for x in parts:
        h = (h ^ (x & 0xFFFFFFFFFFFFFFFF)) * 0xBF58476D1CE4E5B9 & 0xFFFFFFFFFFFFFFFF
        h ^= h >> 31
    return h & 0x7FFFFFFFFFFFFFFF
