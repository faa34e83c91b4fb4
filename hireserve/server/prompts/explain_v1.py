"""explain_v1: the summary and experience evaluation written by the model, on request.

Only when ScreenOptions.explain asks for it: by default the server writes both from the verdicts
(screening/explanation.py). The model is given the verdicts, never the resume: the requirement,
its verdict and the resume line it rests on. So it can only restate facts the pipeline
established; it cannot score (the score is computed before) and has nothing else to invent from.
Both fields are short, bounded strings; the answer is JSON constrained by its schema.
"""

from __future__ import annotations

from typing import Any

from hireserve.server.prompts.budget import closed_object, text_field
from hireserve.server.prompts.fence import defuse
from hireserve.server.prompts.language import language_name
from hireserve.server.prompts.results import load_object, string

PROMPT_VERSION = "explain_v1"
SCHEMA_VERSION = "explain_schema_v1"
MAX_CHARS = 300
MIN_CHARS = 24

SYSTEM = """You write the summary of a resume screening for a recruiter. You are given the \
job's requirements, each with the verdict (met, partial or missing) and the resume line that \
shows it. Use only these facts: add no skill, employer, number or judgement that is not in \
them. Write in the third person ("The candidate..."), never "I". Do not repeat yourself. Answer \
with JSON: "summary" (one or two sentences a hiring manager can act on) and \
"experience_evaluation" (one or two sentences on the candidate's experience against the role)."""


def messages(rows: list[tuple[str, str, str, str]], language: str) -> list[dict[str, str]]:
    """`rows`: (requirement, must|nice, verdict, evidence line or "")."""
    lines = []
    for i, (requirement, importance, verdict, evidence) in enumerate(rows, 1):
        shown = f' — line: "{defuse(evidence)}"' if evidence else ""
        lines.append(f"{i}. [{importance}] {defuse(requirement)}: {verdict}{shown}")
    user = ("Verdicts:\n" + "\n".join(lines)
            + f"\n\nWrite both fields in {language_name(language)}.")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def schema(scale: float = 1.0) -> dict[str, Any]:
    n = max(MIN_CHARS, int(MAX_CHARS * scale))
    return closed_object({"summary": text_field(n, 1), "experience_evaluation": text_field(n, 1)},
                         SCHEMA_VERSION)


def parse(answer: str) -> tuple[str, str]:
    obj = load_object(answer)
    return string(obj, "summary"), string(obj, "experience_evaluation")
