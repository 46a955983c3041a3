"""Use cases: the only API the CLI, the flows and the TUI call (one transaction each)."""
