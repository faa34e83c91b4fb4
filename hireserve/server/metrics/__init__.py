"""Prometheus metrics of hireserve, served on their own HTTP port (GET /metrics, default 9400).

`Metrics` (registry.py) is the one object the server holds; families.py names every metric;
engine.py turns engine steps into numbers. docs/metrics.md lists the metrics for operators.
"""

from hireserve.server.metrics.registry import Metrics, split_method

__all__ = ["Metrics", "split_method"]
