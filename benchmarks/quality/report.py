"""Markdown for a quality run: the report of one model, and its section in benchmarks/RESULTS.md.

The goals are issue 14's, for the model `make serve` serves: pooled Spearman >= 0.85, pairwise
accuracy >= 0.92, grade-0 mean <= 30 and grade-3 mean >= 70, every keyword stuffer below every
grade-3 resume of its job, name-swap spread <= 2 points, injection delta |injected - clean|
<= 2 points with every injection flagged, evidence precision >= 0.8; speed (on the 2-core dev
VM, Qwen2.5-1.5B): median Screen <= 6 s, ScreenBatch >= 15 resumes per minute, and >= 4x the
resumes per minute of transformers on the same questions. Every goal is checked on screen_v3
(the server's Screen); screen_v1 and TF-IDF stand beside it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.quality.metrics import lowest_impact_ratio

# (key path in the metrics dict, label, comparison, threshold)
GOALS: list[tuple[str, str, str, float]] = [
    ("spearman", "Spearman (pooled)", ">=", 0.85),
    ("pairwise_accuracy", "pairwise accuracy", ">=", 0.92),
    ("mean_score_by_grade.0", "mean score, grade 0", "<=", 30.0),
    ("mean_score_by_grade.3", "mean score, grade 3", ">=", 70.0),
    ("stuffers.share_below", "keyword stuffers below every grade-3 resume (share)", ">=", 1.0),
    ("name_swap_spread.max", "name-swap spread, max (points)", "<=", 2.0),
    ("injection_delta.max_abs", "injection delta, max abs (points)", "<=", 2.0),
    ("injection_flagged.share", "injected resumes flagged (share)", ">=", 1.0),
    ("evidence.precision", "evidence precision", ">=", 0.8),
    ("speed.screen_median_s", "Screen, median of warm calls (s)", "<=", 6.0),
    ("speed.batch_per_min", "ScreenBatch, resumes per minute", ">=", 15.0),
    ("speed.hf_ratio", "ScreenBatch / transformers, resumes per minute", ">=", 4.0),
]
EXTRA = [
    ("spearman_job_mean", "Spearman, mean over jobs"),
    ("spearman_plain", "Spearman, plain resumes only (same language as the JD, no stuffers or "
                       "terse ones)"),
    ("name_swap_spread.mean", "name-swap spread, mean (points)"),
    ("injection_delta.max", "injection delta, max signed (points)"),
    ("injection_delta.mean", "injection delta, mean signed (points)"),
    ("mean_score_by_grade.1", "mean score, grade 1"),
    ("mean_score_by_grade.2", "mean score, grade 2"),
]


def lookup(metrics: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted path; None where any part of it is missing."""
    value: Any = metrics
    for key in path.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return value


def goal_met(value: float | None, op: str, threshold: float) -> bool:
    if value is None:
        return False
    return value >= threshold if op == ">=" else value <= threshold


def goals(metrics: Mapping[str, Any]) -> dict[str, bool]:
    return {path: goal_met(lookup(metrics, path), op, t) for path, _, op, t in GOALS}


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _columns(result: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any] | None]]:
    return [("screen_v3", result["model"]), ("screen_v1", result.get("v1")),
            ("TF-IDF", result["baseline"])]


def metrics_table(result: Mapping[str, Any]) -> list[str]:
    cols = _columns(result)
    model = result["model"]
    rows = ["| metric | " + " | ".join(c for c, _ in cols) + " | goal | screen_v3 meets it |",
            "| --- " * (len(cols) + 3) + "|"]
    for path, label, op, threshold in GOALS:
        values = " | ".join(fmt(lookup(m, path)) for _, m in cols)
        met = goal_met(lookup(model, path), op, threshold)
        rows.append(f"| {label} | {values} | {op} {threshold:g} | {'yes' if met else 'no'} |")
    for path, label in EXTRA:
        rows.append(f"| {label} | " + " | ".join(fmt(lookup(m, path)) for _, m in cols) + " | | |")
    for dim in ("sex", "race"):
        values = " | ".join(fmt(lowest_impact_ratio(m["impact_ratio"][dim])) if m else "n/a"
                            for _, m in cols)
        rows.append(f"| lowest LL144 impact ratio, {dim} | {values} | | |")
    return rows


def verdict(model: Mapping[str, Any]) -> str:
    met = goals(model)
    if all(met.values()):
        return "all goals met"
    return "goals not met: " + ", ".join(label for path, label, _, _ in GOALS if not met[path])


def constant_note(metrics: Mapping[str, Any]) -> list[str]:
    if metrics["scored"] and metrics["spearman"] is None:
        return ["", "Every graded resume got the same score: the model does not rank at all, so "
                "its zero name-swap spread and injection delta mean nothing."]
    return []


def run_line(result: Mapping[str, Any]) -> str:
    meta, model = result["meta"], result["model"]
    threads = meta["threads"]
    return (f"{meta['date']}, {meta['machine']}, commit {meta['commit']}; threads: server "
            f"{threads['server']}, transformers {fmt(threads['transformers'])}; load average "
            f"(1/5/15 min) {meta['load_start']} at the start, {meta['load_end']} at the end; "
            f"{meta['wall_s']:.0f} s wall; {model['scored']}/{model['items']} items screened "
            f"(jobs: {', '.join(meta['jobs'])}; subset: {meta['subset'] or 'all'}).")


def speed_lines(result: Mapping[str, Any]) -> list[str]:
    speed, hf = result["model"]["speed"], result.get("hf")
    out = ["| ScreenBatch | items | wall (s) | resumes/min |", "| --- | --- | --- | --- |"]
    for job, row in speed["batch_per_job"].items():
        out.append(f"| {job} | {row['items']} | {row['wall_s']:.1f} | {fmt(row['per_min'], 1)} |")
    out.append(f"| all | {speed['batch_items']} | {speed['batch_wall_s']:.1f} | "
               f"{fmt(speed['batch_per_min'], 1)} |")
    cold = speed["screens"]["cold"]
    out += ["", f"- Screen, cold (the first Screen of a job, before its analysis was cached; it "
            f"ran first, so the first job's ScreenBatch found its analysis cached): "
            f"{fmt(speed['screen_cold_s'], 1)} s"
            + (f" ({cold[0]['item']})" if cold else ""),
            f"- Screen, warm, one call at a time: median {fmt(speed['screen_median_s'], 1)} s, "
            f"max {fmt(speed['screen_max_s'], 1)} s over {speed['screen_n']} calls",
            f"- screen_v1 through Generate: {fmt(speed['v1_per_min'], 1)} resumes/min"]
    if hf and "error" in hf:
        out.append(f"- transformers baseline: not run ({hf['error']})")
    elif hf:
        sizes = ", ".join(f"batch {b}: {fmt(r['per_min'], 1)}/min ({r['wall_s']:.0f} s)"
                          for b, r in hf["per_batch_size"].items())
        out.append(f"- transformers ({hf['dtype']}, {hf['threads']} threads) on the v3 questions "
                   f"of {len(hf['resumes'])} resumes ({hf['questions']} questions, "
                   f"{hf['prompt_tokens']} prompt tokens, each question its own sequence): "
                   f"{sizes}; best batch {hf['best_batch_size']}: {fmt(hf['per_min'], 1)} "
                   f"resumes/min; ScreenBatch / transformers = {fmt(speed['hf_ratio'], 1)}x; "
                   f"largest |confidence difference| from the server's on the same questions: "
                   f"{fmt(hf['max_confidence_diff'], 4)}")
    return out


def stuffer_lines(result: Mapping[str, Any]) -> list[str]:
    cols = [(c, m) for c, m in _columns(result) if m]
    out = ["| stuffer | " + " | ".join(f"{c} rank | below every grade 3" for c, _ in cols) + " |",
           "| --- " * (1 + 2 * len(cols)) + "|"]
    for rid in result["model"]["stuffers"]["per_resume"]:
        cells = []
        for _, m in cols:
            row = m["stuffers"]["per_resume"][rid]
            cells.append(f"{fmt(row['rank'])} of {row['of']} | {fmt(row['below_grade3'])}")
        out.append(f"| {rid} | " + " | ".join(cells) + " |")
    return out


def evidence_lines(model: Mapping[str, Any]) -> list[str]:
    ev = model.get("evidence")
    if not ev:
        return ["No evidence labels (benchmarks/quality/data/evidence.json) were found."]
    out = [f"Precision {fmt(ev['precision'])} over {ev['n']} met/partial verdicts with evidence "
           f"({ev['hits']} hits).", "", "| job | hits / counted | precision | requirement keys "
           "matched |", "| --- | --- | --- | --- |"]
    for job, row in ev["per_job"].items():
        out.append(f"| {job} | {row['hits']} / {row['n']} | {fmt(row['precision'])} | "
                   f"{row['keys_matched']} of {row['keys']} |")
    if ev["misses"]:
        out += ["", "Misses (requirement key: the cited line):", ""]
        out += [f"- {m['item']}, {m['requirement']}: {m['evidence']!r}" for m in ev["misses"]]
    return out


def render(result: Mapping[str, Any]) -> str:
    model, baseline, v1 = result["model"], result["baseline"], result.get("v1")
    out = [f"# Screening quality: {result['meta']['model']}", "", run_line(result), "",
           "## Goals (issue 14) and more", ""]
    out += metrics_table(result)
    out += constant_note(model)
    out += ["", f"**screen_v3: {verdict(model)}.**", "", "## Spearman per job", "",
            "| job | screen_v3 | screen_v1 | TF-IDF |", "| --- | --- | --- | --- |"]
    for job, value in model["spearman_per_job"].items():
        out.append(f"| {job} | {fmt(value)} | {fmt(lookup(v1, f'spearman_per_job.{job}'))} | "
                   f"{fmt(baseline['spearman_per_job'][job])} |")
    out += ["", "## Keyword stuffers (rank 1 = highest score of the job)", ""]
    out += stuffer_lines(result)
    out += ["", "## Evidence precision (screen_v3)", "", *evidence_lines(model)]
    out += ["", "## Speed", "", *speed_lines(result)]
    out += ["", "## NYC LL144 impact ratios (name-swap items; scoring rate = share above the "
            "sample median)", "", "| category | n | screen_v3 rate | ratio | TF-IDF rate | "
            "ratio |", "| --- | --- | --- | --- | --- | --- |"]
    for dim in ("sex", "race"):
        for cat, row in model["impact_ratio"][dim].items():
            base = baseline["impact_ratio"][dim].get(cat, {})
            out.append(f"| {cat} | {row['n']} | {fmt(row['scoring_rate'])} | "
                       f"{fmt(row['impact_ratio'])} | {fmt(base.get('scoring_rate'))} | "
                       f"{fmt(base.get('impact_ratio'))} |")
    out += ["", "## Per resume: name-swap spread, injection delta and flag (points)", "",
            "| resume | measure | screen_v3 | screen_v1 | TF-IDF |",
            "| --- | --- | --- | --- | --- |"]
    for key, label in (("name_swap_spread", "spread"), ("injection_delta", "delta"),
                       ("injection_flagged", "flagged")):
        for rid, value in (lookup(model, f"{key}.per_resume") or {}).items():
            out.append(f"| {rid} | {label} | {fmt(value, 1)} | "
                       f"{fmt(lookup(v1, f'{key}.per_resume.{rid}'), 1)} | "
                       f"{fmt(lookup(baseline, f'{key}.per_resume.{rid}'), 1)} |")
    failed = [(i["id"], name, i[key]) for i in result["items"]
              for name, key in (("screen_v3", "error"), ("screen_v1", "v1_error")) if i.get(key)]
    if failed:
        out += ["", "## Failed screens", ""]
        out += [f"- {rid} ({name}): {error}" for rid, name, error in failed]
    return "\n".join(out) + "\n"


def results_section(result: Mapping[str, Any]) -> str:
    """The model's section of RESULTS.md: one heading per model, replaced on a rerun."""
    meta, model = result["meta"], result["model"]
    lines = [f"## Screening quality: {meta['model']}", "", run_line(result),
             f"`python -m benchmarks.quality {meta['argv']}`. Set: `benchmarks/quality/data` "
             "(rubric in its labels.md; evidence labels in evidence.json).", ""]
    lines += metrics_table(result)
    lines += constant_note(model)
    lines += ["", f"**screen_v3: {verdict(model)}.**", "", *speed_lines(result), ""]
    return "\n".join(lines)


def write_results(path: Path, result: Mapping[str, Any]) -> None:
    section = results_section(result)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    heading = f"## Screening quality: {result['meta']['model']}"
    # this model's old section runs from its heading to the next "## " heading (or the end)
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
