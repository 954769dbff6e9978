"""Feature extractors for Fréchet distances and PRDC."""
