"""What every screen_v3 answer must satisfy, whatever the weights say, recomputed here from the
response and from the resume as the server reads it (redacted, injections withheld):

- one RequirementAssessment per requirement of the job, must-haves first;
- each evidence is verbatim one of the resume's content lines, with its line number, and is
  empty when the verdict is MISSING;
- 0 <= value <= 1 and the verdict is the value's third;
- match_score = round(100 * sum(w * value) / sum(w)), w = 2 for a must-have, 1 for a nice;
- skills_matched / skills_missing are the labels of the MET / MISSING requirements;
- the summary (unless generated on request) states how many must-haves are met.

Also a spy on the engine's public API, to see which prompts the pipeline asked.
"""

from __future__ import annotations

from typing import Any

from hireserve.server.documents import DocumentLimits
from hireserve.server.prompts import labels_v1, screen_v3
from hireserve.server.service.resume import PreparedResume, prepare_resume
from hireserve.v1 import common_pb2, screening_pb2

MUST = screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE
NICE = screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE
MET = screening_pb2.REQUIREMENT_VERDICT_MET
PARTIAL = screening_pb2.REQUIREMENT_VERDICT_PARTIAL
MISSING = screening_pb2.REQUIREMENT_VERDICT_MISSING
WEIGHT = {MUST: 2, NICE: 1}
FLOAT32 = 1e-6  # value and confidence travel as proto floats


def prepared(document: common_pb2.Document) -> PreparedResume:
    """The resume as the server's Screen reads it (blind: names and contacts redacted)."""
    return prepare_resume(document, field="resume", blind=True, limits=DocumentLimits())


def expected_verdict(value: float) -> int | None:
    """The verdict of a value; None right at a boundary, where float32 cannot tell."""
    for bound in (1 / 3, 2 / 3):
        if abs(value - bound) < FLOAT32:
            return None
    return MET if value >= 2 / 3 else PARTIAL if value >= 1 / 3 else MISSING


def check_screen(r: screening_pb2.ScreenResponse, document: common_pb2.Document, *,
                 requirements: list[tuple[str, int]] | None = None,
                 explained: bool = False) -> None:
    assert r.prompt_version == screen_v3.PROMPT_VERSION
    assert r.model
    items = list(r.requirements)
    assert 1 <= len(items) <= 12
    if requirements is not None:
        assert [(a.requirement, a.importance) for a in items] == requirements
    importances = [a.importance for a in items]
    assert importances == sorted(importances, key=lambda i: WEIGHT[i], reverse=True), \
        "must-haves first"

    content = {(line.text, line.number) for line in prepared(document).lines if not line.heading}
    for a in items:
        assert a.requirement and 0 < len(a.label) <= labels_v1.MAX_LABEL_CHARS
        assert -FLOAT32 <= a.value <= 1 + FLOAT32
        assert 0.5 - FLOAT32 <= a.confidence <= 1 + FLOAT32
        verdict = expected_verdict(a.value)
        assert verdict is None or a.verdict == verdict, (a.value, a.verdict)
        if a.verdict == MISSING:
            assert (a.evidence, a.evidence_line, a.skills_list_evidence) == ("", 0, False)
        else:  # a verbatim line of the resume as the model read it, never written
            assert (a.evidence, a.evidence_line) in content, (a.evidence, a.evidence_line)

    weights = [WEIGHT[a.importance] for a in items]
    exact = 100 * sum(w * a.value for w, a in zip(weights, items, strict=True)) / sum(weights)
    assert abs(r.match_score - exact) <= 0.5 + 1e-4, (r.match_score, exact)
    assert 0 <= r.match_score <= 100
    assert list(r.skills_matched) == [a.label for a in items if a.verdict == MET]
    assert list(r.skills_missing) == [a.label for a in items if a.verdict == MISSING]

    assert r.usage.prompt_tokens > 0 and 0 <= r.usage.cached_prompt_tokens <= r.usage.prompt_tokens
    assert r.summary and r.experience_evaluation
    if not explained and r.output_language == "en":
        musts = [a for a in items if a.importance == MUST]
        met = sum(a.verdict == MET for a in musts)
        assert r.summary.startswith(f"Meets {met} of {len(musts)} must-have requirements."), \
            r.summary


class EngineSpy:
    """Records (request id, prompt ids) of every scored question and every generated answer the
    pipeline sends through the AsyncEngine, then lets it through."""

    def __init__(self, server: Any) -> None:
        self.engine = server.engine
        self.scored: list[tuple[str, list[int]]] = []
        self.generated: list[tuple[str, list[int]]] = []

    def __enter__(self) -> EngineSpy:
        score, submit = self.engine.score, self.engine.submit

        async def spy_score(prompt_ids, candidates, **kwargs):
            self.scored.append((kwargs.get("request_id") or "", list(prompt_ids)))
            return await score(prompt_ids, candidates, **kwargs)

        async def spy_submit(prompt_ids, params, **kwargs):
            self.generated.append((kwargs.get("request_id") or "", list(prompt_ids)))
            return await submit(prompt_ids, params, **kwargs)

        self.engine.score, self.engine.submit = spy_score, spy_submit
        return self

    def __exit__(self, *exc: object) -> None:
        del self.engine.score, self.engine.submit  # back to the class's methods

    def job_requests(self) -> list[str]:
        """Request ids of the job analysis (headings, line labels, anchors, labels)."""
        return [rid for rid, _ in self.scored + self.generated if "-job-" in rid]

    def questions(self) -> list[list[int]]:
        """Prompt ids of the resume questions (not the job analysis), in submission order."""
        return [ids for rid, ids in self.scored if "-job-" not in rid]


def same_rubric(a: screening_pb2.ScreenResponse, b: screening_pb2.ScreenResponse) -> bool:
    """The same requirements, verdicts, evidence and labels, and the same values up to float
    noise (a prefix computed in one step or read from the cache differs in the last bits)."""
    def exact(r: screening_pb2.ScreenResponse) -> list[tuple]:
        return [(x.requirement, x.importance, x.label, x.verdict, x.evidence, x.evidence_line,
                 x.skills_list_evidence) for x in r.requirements]

    def close(x: float, y: float) -> bool:
        return abs(x - y) <= 1e-4

    return (a.match_score == b.match_score and exact(a) == exact(b)
            and all(close(x.value, y.value) and close(x.confidence, y.confidence)
                    for x, y in zip(a.requirements, b.requirements, strict=True)))
