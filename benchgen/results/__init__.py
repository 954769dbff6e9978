"""Results: the SQLite store and which cells a suite needs and a board shows."""
