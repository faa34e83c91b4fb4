"""Read the server's Prometheus counters over HTTP (no client library: the text format is
simple and the load generator must run with the light client install)."""

from __future__ import annotations

import math
import urllib.request

QUERY = "hireserve_prefix_cache_query_tokens_total"
HIT = "hireserve_prefix_cache_hit_tokens_total"


def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    """Unlabelled samples by name (labelled ones summed per name); {} when unreachable."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            text = reply.read().decode()
    except OSError:
        return {}
    return parse(text)


def parse(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name = head.split("{", 1)[0].strip()
        try:
            samples[name] = samples.get(name, 0.0) + float(value)
        except ValueError:
            continue
    return samples


def prefix_hit_rate(before: dict[str, float], after: dict[str, float]) -> float | None:
    """Hit tokens / looked-up tokens between two scrapes; None when the counters are missing
    or nothing was looked up."""
    if QUERY not in after or HIT not in after:
        return None
    queried = after[QUERY] - before.get(QUERY, 0.0)
    hits = after[HIT] - before.get(HIT, 0.0)
    if queried <= 0 or math.isnan(queried):
        return None
    return hits / queried
