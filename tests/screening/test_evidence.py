"""Evidence is one of the resume's own lines: the one that shares the requirement's rare words,
or where the model looked; different requirements take different lines when they can."""

from __future__ import annotations

from hireserve.server.prompts.lines import split_lines
from hireserve.server.screening.evidence import choose_evidence, relative_attention

RESUME = """Experience
Backend Engineer, Kassenwerk GmbH, 2020 - present
- Own the settlement service (Go, PostgreSQL 15) that books 2 million transactions a day.
- Designed the gRPC API that the merchant dashboard calls.
- On-call every sixth week on Kubernetes.
Skills: Go, Python, PostgreSQL, gRPC, Kafka, Kubernetes, Terraform
"""
LINES = [line for line in split_lines(RESUME) if not line.heading]


def test_shared_rare_words_pick_the_line() -> None:
    reqs = ["PostgreSQL in depth", "Designing gRPC APIs", "On-call rotation on Kubernetes"]
    got = choose_evidence(reqs, LINES, shown=[True] * 3, order=[0.9, 0.8, 0.7])
    assert [e.text if e else None for e in got] == [LINES[1].text, LINES[2].text, LINES[3].text]
    assert all(e is not None and e.number > 0 for e in got)


def test_a_missing_requirement_gets_no_evidence_and_skills_lists_are_marked() -> None:
    got = choose_evidence(["Kafka", "Rust"], LINES, shown=[True, False], order=[0.5, 0.0])
    assert got[1] is None
    assert got[0] is not None and got[0].text.startswith("Skills:") and got[0].skills_list


def test_a_taken_line_goes_to_another_requirement_only_when_nothing_else_is_close() -> None:
    lines = [line for line in split_lines("- Go and PostgreSQL services\n- Team lunch organiser\n")]
    got = choose_evidence(["Go", "PostgreSQL"], lines, shown=[True, True], order=[0.9, 0.8])
    assert got[0] is not None and got[1] is not None
    assert got[0].text == got[1].text  # the only relevant line serves both


def test_attention_carries_evidence_across_languages() -> None:
    lines = list(split_lines("- 负责账务表结构设计\n- 设计对内 gRPC 接口\n- 参与值班\n"))
    # No word is shared with an English requirement: where the model looked decides.
    attention = [[0.1, 0.1, 0.6], [0.5, 0.1, 0.1], [0.2, 0.3, 0.2]]
    got = choose_evidence(["On-call rotation", "Schema design", "Payments"], lines,
                          shown=[True, True, False], order=[0.9, 0.8, 0.1], attention=attention)
    assert [e.text if e else None for e in got] == [lines[2].text, lines[0].text, None]
    rel = relative_attention(attention)
    assert rel[0][2] > 0 > rel[0][0]
