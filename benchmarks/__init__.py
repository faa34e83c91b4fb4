"""Benchmarks: load generators, simulators and their reports (RESULTS.md)."""
