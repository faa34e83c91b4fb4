"""Prometheus rules in deploy/prometheus/: promtool accepts them, their unit tests pass (and
fail when a threshold is broken), and every metric they name is one hireserve exports."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from exported_metric_names import exported_series_names, metric_names_in_promql

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "prometheus"
PROMETHEUS_BUILTINS = {"up"}


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool not on PATH (Debian's `prometheus` package; .ci/run installs it)")
    return found


def _rules() -> list[dict]:
    doc = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_promtool_checks_the_rules() -> None:
    done = subprocess.run([_promtool(), "check", "rules", str(RULES_DIR / "alerts.yml")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_promtool_unit_tests_pass() -> None:
    done = subprocess.run([_promtool(), "test", "rules", "alerts_test.yml"], cwd=RULES_DIR,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_unit_tests_catch_a_broken_threshold(tmp_path: Path) -> None:
    # The unit tests are not vacuous: an error-ratio threshold no test input reaches must fail.
    promtool = _promtool()
    text = (RULES_DIR / "alerts.yml").read_text()
    broken = text.replace("job:hireserve_rpc_requests:rate5m > 0.05",
                          "job:hireserve_rpc_requests:rate5m > 0.5")
    assert broken != text
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(RULES_DIR / "alerts_test.yml", tmp_path / "alerts_test.yml")
    done = subprocess.run([promtool, "test", "rules", "alerts_test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "HireserveHighErrorRatio" in done.stdout + done.stderr


def test_every_metric_in_the_rules_is_exported() -> None:
    exported = exported_series_names() | PROMETHEUS_BUILTINS
    used: set[str] = set()
    for rule in _rules():
        names = metric_names_in_promql(rule["expr"])
        assert names <= exported, (rule.get("alert") or rule.get("record"), names - exported)
        used |= names
    # The rules cover the signals the deployment brief asks for.
    for name in ("hireserve_rpc_requests_total", "hireserve_requests_waiting",
                 "hireserve_time_to_first_token_seconds_bucket",
                 "hireserve_kv_cache_usage_ratio", "hireserve_preemptions_total",
                 "hireserve_structured_output_failures_total"):
        assert name in used, name


def test_recorded_names_follow_the_level_metric_operations_convention() -> None:
    recorded = [r["record"] for r in _rules() if "record" in r]
    assert recorded
    for name in recorded:
        level, metric, ops = name.split(":")
        assert level and ops and metric.startswith("hireserve_")


def test_name_parser_sees_through_promql_syntax() -> None:
    expr = ('histogram_quantile(0.95, sum by (job, le) (rate(foo_bucket{code=~"A|B"}[5m])))'
            " / on (job) bar_total and job:baz:rate5m > 3")
    assert metric_names_in_promql(expr) == {"foo_bucket", "bar_total"}


def test_every_alert_has_a_severity_and_summary() -> None:
    alerts = [r for r in _rules() if "alert" in r]
    assert len(alerts) >= 6
    for rule in alerts:
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
