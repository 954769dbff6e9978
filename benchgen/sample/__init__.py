"""Sample: synthetic sets drawn from fitted generators, cached by checkpoint and seed."""
