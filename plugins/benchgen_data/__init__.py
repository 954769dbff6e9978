"""Built-in dataset sources (phantom, NIfTI folder, BIDS, manifest) and preprocessing steps."""
