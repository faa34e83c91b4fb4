"""Human output (rich) and JSON-ready dicts for the CLI. Nothing here talks to a server."""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from hireserve.clients.errors import HireError
from hireserve.v1 import generation_pb2, screening_pb2


def to_dict(message: Message) -> dict[str, Any]:
    """Every field, with proto names and enum names (what `--json` prints)."""
    result: dict[str, Any] = json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )
    return result


def error_dict(error: HireError) -> dict[str, Any]:
    return {
        "code": error.code.name,
        "message": error.message,
        "field_violations": [{"field": v.field, "description": v.description}
                             for v in error.field_violations],
        "retry_delay_s": error.retry_delay,
    }


def score_style(score: int) -> str:
    return "green" if score >= 75 else "yellow" if score >= 50 else "red"


_MARK_STYLE = {"✓": "green", "~": "yellow", "✗": "red"}


def marks(text: str) -> Text:
    """"✓✓~✗" with each mark in its verdict's colour."""
    out = Text()
    for mark in text:
        out.append(mark, style=_MARK_STYLE.get(mark, ""))
    return out or Text("-", style="dim")


def _bullets(title: str, items: list[str], style: str = "") -> Text:
    text = Text(f"{title}: ", style="bold")
    text.append(", ".join(items) if items else "none", style=style)
    return text


def _usage_line(model: str, prompt_version: str, usage: Any, document: Any) -> Text:
    doc = f"{document.format}" + (f", {document.pages} pages" if document.pages else "")
    return Text(
        f"{model} · {prompt_version} · {usage.prompt_tokens} prompt tokens "
        f"({usage.cached_prompt_tokens} cached), {usage.generated_tokens} generated · {doc}",
        style="dim",
    )


def _redaction_name(category: screening_pb2.RedactionCategory) -> str:
    name = str(screening_pb2.RedactionCategory.Name(category))
    return name.removeprefix("REDACTION_CATEGORY_").lower()


_VERDICT_STYLE = {"met": "green", "partial": "yellow", "missing": "red"}


def _enum_name(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def rubric_table(r: screening_pb2.ScreenResponse) -> Table:
    """One row per requirement: importance, verdict and the resume line it rests on."""
    table = Table(show_header=True, header_style="bold", expand=True, box=None)
    table.add_column("Requirement", ratio=2)
    table.add_column("", width=4)
    table.add_column("Verdict", width=8)
    table.add_column("Value", width=5, justify="right")
    table.add_column("Evidence (resume line)", ratio=3)
    for a in r.requirements:
        importance = _enum_name(screening_pb2.RequirementImportance, a.importance,
                                "REQUIREMENT_IMPORTANCE_")
        verdict = _enum_name(screening_pb2.RequirementVerdict, a.verdict,
                             "REQUIREMENT_VERDICT_")
        evidence = Text(f"L{a.evidence_line}: {a.evidence}" if a.evidence_line else "-",
                        style="" if a.evidence_line else "dim")
        if a.skills_list_evidence:
            evidence.append("  (skills list only)", style="dim")
        table.add_row(a.requirement, "must" if importance == "must_have" else "nice",
                      Text(verdict, style=_VERDICT_STYLE.get(verdict, "")),
                      f"{a.value:.2f}", evidence)
    return table


def screen_panel(name: str, r: screening_pb2.ScreenResponse) -> Panel:
    parts: list[Any] = [Text(r.summary), Text("")]
    if r.requirements:  # the verdicts behind the computed score
        parts.append(rubric_table(r))
        if r.requirements_fallback:
            parts.append(Text("No requirement found in the job description: every line was "
                              "taken as a must-have.", style="yellow"))
    parts += [_bullets("Skills matched", list(r.skills_matched), "green"),
              _bullets("Skills missing", list(r.skills_missing), "yellow")]
    parts.append(Text.assemble(("Experience: ", "bold"), r.experience_evaluation))
    if r.red_flags:
        parts.append(Text("Red flags:", style="bold red"))
        parts += [Text(f"  • {flag}", style="red") for flag in r.red_flags]
    if r.redactions:
        counts = ", ".join(f"{_redaction_name(c.category)} {c.count}" for c in r.redactions)
        parts.append(Text(f"Redacted: {counts}", style="dim"))
    parts.append(_usage_line(r.model, r.prompt_version, r.usage, r.document))
    title = Text.assemble((name, "bold"), "  score ",
                          (f"{r.match_score}/100", f"bold {score_style(r.match_score)}"))
    return Panel(Group(*parts), title=title, title_align="left")


def questions_panel(name: str, r: screening_pb2.GenerateQuestionsResponse) -> Panel:
    table = Table(show_header=True, header_style="bold", expand=True, box=None)
    table.add_column("#", width=3)
    table.add_column("Type", width=12)
    table.add_column("Question", ratio=3)
    table.add_column("Probes", ratio=1)
    for i, q in enumerate(r.questions, 1):
        kind = screening_pb2.QuestionType.Name(q.type).removeprefix("QUESTION_TYPE_").lower()
        table.add_row(str(i), kind, q.question, q.probes)
    footer = _usage_line(r.model, r.prompt_version, r.usage, r.document)
    return Panel(Group(table, footer), title=Text(name, style="bold"), title_align="left")


def model_info_table(info: generation_pb2.GetModelInfoResponse) -> Table:
    table = Table(show_header=False, box=None)
    for key, value in to_dict(info).items():
        table.add_row(Text(key, style="bold"), str(value))
    return table


def health_name(response: health_pb2.HealthCheckResponse) -> str:
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(response.status))


def stdout_console() -> Console:
    return Console(highlight=False)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False)
