"""Run the screen_v1 baseline over the set through GenerationService.Generate.

Per item, as the server ran screen_v1 before issue 14: the resume redacted as blind screening
redacts it (screen_v3 always redacts, so both methods read the same text; injected text is not
withheld, v1 never did that), the prose language detected from it, the chat of
benchmarks/quality/screen_v1.py, and greedy decoding constrained to the largest scaling of its
schema whose worst-case answer fits what the prompt leaves of the context. The prompt's token
count comes from a first Generate of one token (its usage), which also leaves the prompt in the
prefix cache for the real call. Items run `concurrency` at a time so the server batches them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from benchmarks.quality import screen_v1
from benchmarks.quality.dataset import Item, Job


@dataclass(frozen=True)
class V1Outcome:
    score: int | None = None
    red_flags: tuple[str, ...] = ()
    prompt_tokens: int = 0
    generated_tokens: int = 0
    error: str | None = None


@dataclass
class V1Run:
    outcomes: dict[str, V1Outcome] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def scores(self) -> dict[str, float]:
        return {k: float(o.score) for k, o in self.outcomes.items() if o.score is not None}

    @property
    def flags(self) -> dict[str, tuple[str, ...]]:
        return {k: o.red_flags for k, o in self.outcomes.items() if o.score is not None}

    @property
    def errors(self) -> dict[str, str]:
        return {k: o.error for k, o in self.outcomes.items() if o.error is not None}

    def per_minute(self) -> float | None:
        done = len(self.scores)
        return 60.0 * done / self.wall_s if done and self.wall_s > 0 else None


def prepared_text(text: str) -> str:
    """The resume as blind screening gives it to the model (the server's own redaction)."""
    from hireserve.server.documents import DocumentLimits
    from hireserve.server.service.resume import prepare_resume
    from hireserve.v1 import common_pb2

    return prepare_resume(common_pb2.Document(text=text), field="resume", blind=True,
                          limits=DocumentLimits()).text


def build_request(job_description: str, resume_text: str) -> list[dict[str, str]]:
    from hireserve.server.prompts.language import resolve_output_language

    text = prepared_text(resume_text)
    return screen_v1.messages(job_description, text, resolve_output_language("", text))


def fitted_schema(context_length: int, prompt_tokens: int) -> tuple[str, int]:
    """(schema JSON, max_tokens): the largest scaling whose worst-case answer fits."""
    from hireserve.server.prompts.budget import fit_schema

    schema, max_tokens = fit_schema(screen_v1.schema, context_length - prompt_tokens)
    return json.dumps(schema), max_tokens


def _generate(client: Any, chat: list[dict[str, str]], **kwargs: Any) -> tuple[str, Any]:
    text, usage = [], None
    for chunk in client.generate(chat, **kwargs):
        text.append(chunk.text)
        if chunk.HasField("usage"):
            usage = chunk.usage
    return "".join(text), usage


def screen_one(client: Any, job: Job, item: Item, *, context_length: int, temperature: float,
               timeout: float) -> V1Outcome:
    from hireserve.clients.errors import HireError
    from hireserve.server.prompts.results import AnswerError

    sampling = {"temperature": temperature}
    try:
        chat = build_request(job.description, item.text)
        _, probe = _generate(client, chat, max_tokens=1, sampling=sampling, timeout=timeout)
        prompt_tokens = int(probe.prompt_tokens) if probe is not None else 0
        schema, max_tokens = fitted_schema(context_length, prompt_tokens)
        answer, usage = _generate(client, chat, max_tokens=max_tokens, sampling=sampling,
                                  json_schema=schema, timeout=timeout)
        parsed = screen_v1.parse(answer)
    except HireError as exc:
        return V1Outcome(error=exc.one_line())
    except (AnswerError, ValueError) as exc:
        return V1Outcome(error=f"{type(exc).__name__}: {exc}")
    return V1Outcome(parsed.match_score, parsed.red_flags, prompt_tokens,
                     int(usage.generated_tokens) if usage is not None else 0)


def run_v1(client: Any, jobs: Sequence[Job], *, context_length: int, concurrency: int,
           temperature: float, timeout: float) -> V1Run:
    """Every item of every job, `concurrency` Generate calls in flight."""
    work = [(job, item) for job in jobs for item in job.items]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        outcomes = list(pool.map(
            lambda ji: screen_one(client, ji[0], ji[1], context_length=context_length,
                                  temperature=temperature, timeout=timeout), work))
    run = V1Run({item.id: o for (_, item), o in zip(work, outcomes, strict=True)},
                time.monotonic() - started)
    return run
