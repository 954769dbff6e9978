"""Score: one path from a metric plugin's result to stored, flattened values."""
