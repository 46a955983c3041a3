"""Benchmarks behind `ethics-review bench`: each prints its figures and ends with one JSON line."""
