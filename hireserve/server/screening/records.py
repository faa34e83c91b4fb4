"""Audit records of the pipeline's decisions (server/audit.py writes them, when configured).

A Screen record keeps the hashes of its inputs (never the texts), the prompt version, how the
answer was read (prefill-only scoring of yes/no, or the sampling of generated prose), the typed
result with every requirement's verdict, value and evidence, and the sha256 of the job's rubric.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from hireserve.server.audit import make_record
from hireserve.server.prompts import screen_v3
from hireserve.server.screening.calls import Call

# How a screen_v3 answer is read: no sampling at all.
SCORING = {"method": "prefill_scoring", "answers": sorted(screen_v3.ANSWER_WORDS)}


def _plain(value: Any) -> Any:
    if isinstance(value, Message):
        return MessageToDict(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _options(settings: Any) -> Any:
    """The options as the caller sent them, so that a reviewer holding the request can verify
    the record's hash (verify_inputs); the settings themselves when there is no request."""
    return _plain(settings.options if settings.options is not None else settings)


def _document(document: Any) -> str | bytes:
    content: str | bytes = (document.text if document.WhichOneof("content") == "text"
                            else document.data)
    return content


class Auditor:
    def __init__(self, state: Any, model_name: str) -> None:
        self.state = state
        self.model_name = model_name

    async def screen(self, call: Call, method: str, jd: str, document: Any, settings: Any,
                     result: Any, started: float) -> None:
        if self.state.audit is None:
            return
        assessed = result.assessed
        outcome = {
            "match_score": assessed.match_score,
            "requirements": [
                {"requirement": a.requirement.text, "importance": a.requirement.importance,
                 "verdict": a.verdict.value, "value": round(a.value, 4),
                 "confidence": round(a.confidence, 4),
                 "evidence": a.evidence.text if a.evidence else "",
                 "evidence_line": a.evidence.number if a.evidence else 0}
                for a in assessed.assessments],
            "skills_matched": list(result.skills_matched),
            "skills_missing": list(result.skills_missing),
            "summary": result.summary,
            "experience_evaluation": result.experience_evaluation,
            "red_flags": list(result.red_flags),
            "output_language": result.output_language,
            "requirements_fallback": result.profile.fallback,
            "requirements_sha256": result.profile.digest,
        }
        sampling = settings.sampling if settings.explain else SCORING
        await self._append(call, method, screen_v3.PROMPT_VERSION, "none", sampling,
                           {"job_description": jd, "resume": _document(document),
                            "options": _options(settings)}, outcome, started)

    async def questions(self, call: Call, jd: str, document: Any, n: int, mix: Any,
                        settings: Any, interview: Any, started: float) -> None:
        if self.state.audit is None:
            return
        from hireserve.server.prompts import questions_v1

        outcome = {"questions": [{"type": q.type.name.lower(), "question": q.question,
                                  "probes": q.probes} for q in interview.questions.questions]}
        await self._append(call, "GenerateQuestions", questions_v1.PROMPT_VERSION,
                           questions_v1.SCHEMA_VERSION, interview.params,
                           {"job_description": jd, "resume": _document(document),
                            "num_questions": n, "mix": _plain(mix), "options": _options(settings)},
                           outcome, started)

    async def _append(self, call: Call, method: str, prompt_version: str, schema_version: str,
                      sampling: Any, inputs: dict[str, Any], result: dict[str, Any],
                      started: float) -> None:
        latency_s = time.perf_counter() - started

        def append() -> None:  # hashing a 20 MiB document and fsync: not on the event loop
            record = make_record(
                request_id=call.request_id, method=method, model_id=self.model_name,
                weights_fingerprint=self.state.weights_fingerprint,
                prompt_version=prompt_version, schema_version=schema_version,
                sampling=sampling, inputs=inputs, result=result, latency_s=latency_s)
            self.state.audit.append(record)

        await asyncio.to_thread(append)
