"""What the CLI shows of a screen_v3 answer: the panel's requirements table (verdict, value,
evidence line), the skills matched and missing, red flags; the rank table's marks (✓ ~ ✗ per
requirement, must-haves and nice-to-haves apart) and the CSV / JSON columns."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.console import Console

from hireserve.clients.rank import CSV_COLUMNS, Row, verdict_marks, write_csv, write_json
from hireserve.clients.render import marks, screen_panel
from hireserve.v1 import screening_pb2

MUST = screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE
NICE = screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE
MET = screening_pb2.REQUIREMENT_VERDICT_MET
PARTIAL = screening_pb2.REQUIREMENT_VERDICT_PARTIAL
MISSING = screening_pb2.REQUIREMENT_VERDICT_MISSING


def _render(renderable) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def _response() -> screening_pb2.ScreenResponse:
    return screening_pb2.ScreenResponse(
        match_score=63, summary="Meets 1 of 3 must-have requirements.",
        prompt_version="screen_v3", skills_matched=["Rust", "Go"],
        skills_missing=["Kubernetes"], red_flags=["Hidden text was dropped: 120 characters"],
        requirements=[
            screening_pb2.RequirementAssessment(
                requirement="5+ years of Rust", label="Rust", importance=MUST, verdict=MET,
                value=0.91, evidence="6 years of Rust at Acme", evidence_line=4),
            screening_pb2.RequirementAssessment(
                requirement="PostgreSQL query tuning", label="PostgreSQL", importance=MUST,
                verdict=PARTIAL, value=0.4, evidence="Go, Python, SQL, PostgreSQL",
                evidence_line=9, skills_list_evidence=True),
            screening_pb2.RequirementAssessment(
                requirement="Kubernetes in production", label="Kubernetes", importance=MUST,
                verdict=MISSING, value=0.05),
            screening_pb2.RequirementAssessment(
                requirement="Go is a plus", label="Go", importance=NICE, verdict=MET,
                value=1.0, evidence="Wrote the Go gateway", evidence_line=5),
        ])


def test_panel_lists_each_requirement_with_verdict_value_and_evidence() -> None:
    text = _render(screen_panel("cv.pdf", _response()))
    rows = {line.strip("│ ").split("  ")[0]: line.strip("│ ") for line in text.splitlines()
            if line.strip("│ ").startswith(("5+ years", "PostgreSQL", "Kubernetes", "Go is"))}
    assert set(rows) == {"5+ years of Rust", "PostgreSQL query tuning",
                         "Kubernetes in production", "Go is a plus"}
    rust = rows["5+ years of Rust"]
    assert "must" in rust and "met" in rust and "0.91" in rust and "L4: 6 years of Rust" in rust
    sql = rows["PostgreSQL query tuning"]
    assert "partial" in sql and "0.40" in sql and "skills list only" in sql
    k8s = rows["Kubernetes in production"]
    assert "missing" in k8s and "0.05" in k8s and "L0" not in k8s
    assert "nice" in rows["Go is a plus"] and "1.00" in rows["Go is a plus"]
    assert "Value" in text and "Evidence (resume line)" in text
    assert "score 63/100" in text and "Meets 1 of 3 must-have requirements." in text
    assert "Skills matched: Rust, Go" in text and "Skills missing: Kubernetes" in text
    assert "Red flags:" in text and "Hidden text was dropped" in text
    assert "screen_v3" in text and "fallback" not in text.lower()


def test_panel_says_when_every_line_was_taken_as_a_must_have() -> None:
    r = _response()
    r.requirements_fallback = True
    assert "every line was taken as a must-have" in _render(screen_panel("cv.pdf", r))


def test_panel_without_requirements_has_no_table() -> None:
    r = screening_pb2.ScreenResponse(match_score=0, prompt_version="screen_v3",
                                     summary="The job description states no must-have "
                                             "requirement.")
    text = _render(screen_panel("cv.pdf", r))
    assert "Verdict" not in text and "Value" not in text
    assert "Skills matched: none" in text and "Skills missing: none" in text
    assert "Red flags" not in text


def test_rank_marks_one_per_requirement_must_and_nice_apart() -> None:
    r = _response()
    assert verdict_marks(r, MUST) == "✓~✗" and verdict_marks(r, NICE) == "✓"
    styled = marks("✓~✗")
    assert styled.plain == "✓~✗"
    assert [(s.start, str(s.style)) for s in styled.spans] == [
        (0, "green"), (1, "yellow"), (2, "red")]
    assert marks("").plain == "-"  # no requirement of that kind


def test_csv_and_json_columns(tmp_path: Path) -> None:
    r = _response()
    ok = Row("cv.pdf", rank=1, score=r.match_score, must_haves=verdict_marks(r, MUST),
             nice_to_haves=verdict_marks(r, NICE), summary=r.summary,
             red_flags=[*r.red_flags, "2 resume line(s) addressed to the screener were withheld"],
             requirements=[{"requirement": a.requirement, "label": a.label,
                            "verdict": "met", "evidence": a.evidence} for a in r.requirements])
    bad = Row("broken.pdf", error="INVALID_ARGUMENT: not a PDF [field resumes[1].resume]")
    write_csv([ok, bad], tmp_path / "rank.csv")
    write_json([ok, bad], tmp_path / "rank.json")

    with (tmp_path / "rank.csv").open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames or ()) == CSV_COLUMNS == (
        "rank", "file", "score", "must_haves", "nice_to_haves", "summary", "red_flags", "error")
    assert rows[0] == {"rank": "1", "file": "cv.pdf", "score": "63", "must_haves": "✓~✗",
                       "nice_to_haves": "✓", "summary": r.summary,
                       "red_flags": "Hidden text was dropped: 120 characters | 2 resume "
                                    "line(s) addressed to the screener were withheld",
                       "error": ""}
    assert rows[1]["score"] == rows[1]["rank"] == rows[1]["must_haves"] == ""
    assert rows[1]["error"].startswith("INVALID_ARGUMENT")

    data = json.loads((tmp_path / "rank.json").read_text(encoding="utf-8"))
    assert [list(d) for d in data] == [[*CSV_COLUMNS, "requirements"]] * 2
    assert data[0]["red_flags"] == ok.red_flags and data[0]["score"] == 63
    assert [q["label"] for q in data[0]["requirements"]] == ["Rust", "PostgreSQL", "Kubernetes",
                                                             "Go"]
    assert data[1]["requirements"] == [] and data[1]["score"] is None
