"""labels_v1: a short name for a requirement ("PostgreSQL", "ICU experience"), once per job.

`skills_matched` and the summaries name requirements by these labels instead of whole lines of
the job description. The label is generated, constrained to a short JSON string, greedy, in
the requirement's own language; it names the requirement and invents nothing about a
candidate (it is written before any resume is read).
"""

from __future__ import annotations

from typing import Any

from hireserve.server.prompts.budget import closed_object, text_field
from hireserve.server.prompts.fence import defuse
from hireserve.server.prompts.results import AnswerError, load_object, string

PROMPT_VERSION = "labels_v1"
SCHEMA_VERSION = "labels_schema_v1"
MAX_LABEL_CHARS = 40

SYSTEM = """You name the requirements of job descriptions. Given one requirement, write its \
short name: the skill, experience or qualification it asks for, in two to five words, in the \
language of the requirement. No years, no adjectives such as "strong". Answer with JSON."""

EXAMPLE_REQUIREMENT = "At least 4 years managing warehouse stock with SAP, ideally in retail."
EXAMPLE_ANSWER = '{"label":"Warehouse stock management"}'


def messages(requirement: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": f"Requirement: {EXAMPLE_REQUIREMENT}"},
        {"role": "assistant", "content": EXAMPLE_ANSWER},
        {"role": "user", "content": f"Requirement: {defuse(' '.join(requirement.split()))}"},
    ]


def schema(scale: float = 1.0) -> dict[str, Any]:
    return closed_object({"label": text_field(max(8, int(MAX_LABEL_CHARS * scale)), 1)},
                         SCHEMA_VERSION)


def parse(answer: str) -> str:
    label = " ".join(string(load_object(answer), "label").split()).strip(" .,;:")
    if not label:
        raise AnswerError("'label' is empty")
    return label
