"""Board: ranks, intervals, verdicts and every rendering of them (terminal, files, report)."""
