"""The CLI's screen panel shows the screen_v2 verdicts with their evidence lines."""

from __future__ import annotations

from rich.console import Console

from hireserve.clients.render import screen_panel
from hireserve.v1 import screening_pb2


def _render(r: screening_pb2.ScreenResponse) -> str:
    console = Console(width=160, record=True, color_system=None)
    console.print(screen_panel("cv.pdf", r))
    return console.export_text()


def test_panel_lists_each_requirement_with_verdict_and_evidence() -> None:
    r = screening_pb2.ScreenResponse(
        match_score=63, summary="Solid Rust.", prompt_version="screen_v2",
        skills_matched=["5+ years of Rust", "Go"], skills_missing=["Kubernetes"],
        requirements=[
            screening_pb2.RequirementAssessment(
                requirement="5+ years of Rust", verdict=screening_pb2.REQUIREMENT_VERDICT_MET,
                importance=screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE,
                evidence="6 years of Rust at Acme", evidence_line=4),
            screening_pb2.RequirementAssessment(
                requirement="Go", verdict=screening_pb2.REQUIREMENT_VERDICT_PARTIAL,
                importance=screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE,
                evidence="Go, Python, SQL, Docker", evidence_line=9, skills_list_evidence=True),
            screening_pb2.RequirementAssessment(
                requirement="Kubernetes", verdict=screening_pb2.REQUIREMENT_VERDICT_MISSING,
                importance=screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE),
        ])
    text = _render(r)
    rows = {line.split()[0]: line for line in text.splitlines()
            if line.strip("│ ").split(" ")[0] in ("5+", "Go", "Kubernetes")
            for line in [line.strip("│ ")]}
    assert "must" in rows["5+"] and "met" in rows["5+"] and "L4: 6 years of Rust" in rows["5+"]
    assert "nice" in rows["Go"] and "partial" in rows["Go"] and "skills list only" in rows["Go"]
    assert "missing" in rows["Kubernetes"] and "L0" not in rows["Kubernetes"]
    assert "score 63/100" in text and "Skills matched" not in text


def test_panel_without_rubric_shows_the_model_lists() -> None:
    r = screening_pb2.ScreenResponse(match_score=80, prompt_version="screen_v1",
                                     skills_matched=["Rust"], skills_missing=["Go"])
    text = _render(r)
    assert "Skills matched: Rust" in text and "Skills missing: Go" in text
    assert "Verdict" not in text
