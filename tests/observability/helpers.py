"""Reading a Prometheus exposition back, independently of the code that wrote it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families


def samples(exposition: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """{(sample name, labels): value} of every sample in a text exposition."""
    out: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(exposition.decode("utf-8")):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(exposition: bytes, name: str, **labels: str) -> float:
    """One sample's value; 0.0 when the series is absent (a counter never incremented)."""
    return samples(exposition).get((name, frozenset(labels.items())), 0.0)


def bucket_counts(exposition: bytes, name: str, **labels: str) -> dict[float, float]:
    """{upper bound: cumulative count} of a histogram."""
    out: dict[float, float] = {}
    for (sample, labelset), v in samples(exposition).items():
        d = dict(labelset)
        le = d.pop("le", None)
        if sample == f"{name}_bucket" and le is not None and d == labels:
            out[float(le)] = v
    return out


def family_names(exposition: bytes) -> set[str]:
    return {f.name for f in text_string_to_metric_families(exposition.decode("utf-8"))}
