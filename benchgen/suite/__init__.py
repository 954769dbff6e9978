"""Suite: a benchmark TOML read, checked and assembled into the run's configuration."""
