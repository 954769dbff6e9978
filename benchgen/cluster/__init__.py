"""Suites beyond one process: units of work (fits, sampling + scoring per seed) submitted through submitit
to local processes or SLURM job arrays; workers write shards that the submitter merges into the store.
See docs/cluster.md."""
