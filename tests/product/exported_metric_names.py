"""The series names hireserve exports, from the metric families themselves (not a copy): what a
Prometheus rule, an HPA or an adapter rule may name."""

from __future__ import annotations

import re

SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
}


def exported_series_names() -> set[str]:
    from prometheus_client import CollectorRegistry

    from hireserve.server.metrics.families import Families

    registry = CollectorRegistry()
    Families.create(registry)
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + s for s in SUFFIXES[family.type])
    return names


def metric_names_in_promql(expr: str) -> set[str]:
    """Metric names a PromQL expression selects: identifiers followed by `{`, `[`, `)` or an
    operator, that are neither functions, keywords, label names nor recorded (colon) names."""
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_matchers = re.sub(r"\{[^}]*\}", "{}", without_strings)
    without_grouping = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                              "", without_matchers)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_][\w:]*)(?!\w)(?!\s*\()", without_grouping):
        word = m.group(1)
        if word in {"and", "or", "unless", "bool", "offset", "inf", "nan"} or ":" in word:
            continue
        names.add(word)
    return names
