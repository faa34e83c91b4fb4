"""The scheduler simulator's --quick run finishes in seconds with a consistent report."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks import scheduler_sim


def test_quick_simulation_report_is_consistent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim.json"
    results_md = tmp_path / "RESULTS.md"
    results_md.write_text("# Results\n\n## Other section\n\nkept\n")
    assert scheduler_sim.main(["--quick", "--json", str(out), "--results", str(results_md)]) == 0
    rows = json.loads(out.read_text())
    assert {r["policy"] for r in rows} == set(scheduler_sim.POLICIES)
    for r in rows:
        assert r["completed"] == r["submitted"] > 0, r
        assert 0.0 <= r["prefix_hit_rate"] <= 1.0
        for key in ("ttft_p50_s", "ttft_p99_s", "itl_p50_s", "itl_p99_s"):
            assert r[key] > 0 and math.isfinite(r[key]), (key, r)
        assert r["ttft_p50_s"] <= r["ttft_p99_s"] and r["itl_p50_s"] <= r["itl_p99_s"]
        assert r["itl_p99_s"] <= r["itl_max_s"]
        assert r["output_tok_s"] > 0 and r["total_tok_s"] > r["output_tok_s"]
        if r["policy"] == "ours, no prefix cache":
            assert r["prefix_hit_rate"] == 0.0
        else:  # every resume shares the ~1,000-token job description
            assert r["prefix_hit_rate"] > 0.1
    long_rows = [r for r in rows if r["workload"].startswith("5%")]
    assert long_rows and all(r["long_ttft_p50_s"] > 0 for r in long_rows)
    printed = capsys.readouterr().out
    assert "## Scheduler simulator" in printed and "| ours + latency-aware |" in printed
    md = results_md.read_text()
    assert "## Other section\n\nkept" in md and "## Scheduler simulator" in md
    assert scheduler_sim.DATE in md


def test_results_section_is_replaced_not_duplicated(tmp_path: Path) -> None:
    md = tmp_path / "RESULTS.md"
    md.write_text("# R\n\n## Scheduler simulator\n\nold\n\n## Next\n\nx\n")
    scheduler_sim.write_section("## Scheduler simulator\n\nnew\n", md)
    scheduler_sim.write_section("## Scheduler simulator\n\nnewer\n", md)
    text = md.read_text()
    assert text.count("## Scheduler simulator") == 1
    assert "newer" in text and "old" not in text and "## Next\n\nx" in text
