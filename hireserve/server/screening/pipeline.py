"""The screening pipeline: the one object the ScreeningService holds.

    screen(jd, document, settings, call)        -> ScreenResult
    screen_batch(jd, documents, settings, call) -> ScreenResult or ServiceError per resume,
                                                   as each finishes
    questions(document, jd, n, mix, settings, call) -> QuestionsResult   (GenerateQuestions)

A Screen reads the resume in a document worker (redacted: the rubric never needs a name),
analyses the job description once per text (screening/job.py, cached), asks one prefill-only
question per requirement (screening/assess.py), and explains the verdicts in code
(screening/explanation.py) unless the caller asks for generated prose (screening/prose.py).
Every decision is written to the audit log when one is configured.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hireserve.server.engine.async_engine import AsyncEngine
from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.errors import ServiceError, invalid_argument
from hireserve.server.prompts import QuestionMix, screen_v3
from hireserve.server.prompts.language import resolve_output_language
from hireserve.server.screening.assess import Assessed, Assessor
from hireserve.server.screening.calls import Call, ModelCalls, Tokens
from hireserve.server.screening.experience import dated_roles
from hireserve.server.screening.explanation import explain, template_language
from hireserve.server.screening.interview import Interview, InterviewWriter
from hireserve.server.screening.job import JobAnalyzer, JobProfile
from hireserve.server.screening.job_cache import JobCache, cache_key
from hireserve.server.screening.prose import ProseWriter
from hireserve.server.screening.records import Auditor
from hireserve.server.screening.verdicts import Verdict
from hireserve.server.service.resume import PreparedResume, read_resume

SCREEN_PROMPTS = (screen_v3.PROMPT_VERSION,)  # ScreenOptions.prompt_version; "" is the first
BATCH_CONCURRENCY = 64  # resumes of one batch in the engine at once (x ~10 questions each)
GREEDY = SamplingParams(temperature=0.0)


@dataclass(frozen=True)
class ScreenSettings:
    output_language: str = ""  # BCP-47; "" = the resume's language
    explain: bool = False  # generated prose instead of the verdicts' own sentences
    sampling: SamplingParams = GREEDY  # for generated prose only
    prompt_version: str = ""
    options: Any = None  # the caller's options as sent (ScreenOptions): what the audit hashes


@dataclass(frozen=True)
class QuestionSettings:
    output_language: str = ""
    blind: bool = False
    sampling: SamplingParams = GREEDY
    options: Any = None  # the caller's options as sent (ScreenOptions): what the audit hashes


@dataclass(frozen=True)
class QuestionsOutcome:
    interview: Interview
    resume: PreparedResume
    output_language: str


@dataclass(frozen=True)
class ScreenResult:
    assessed: Assessed
    profile: JobProfile
    resume: PreparedResume
    summary: str
    experience_evaluation: str
    output_language: str
    red_flags: tuple[str, ...]
    tokens: Tokens
    explained_by_model: bool = False

    @property
    def skills_matched(self) -> tuple[str, ...]:
        return tuple(a.requirement.label for a in self.assessed.assessments
                     if a.verdict is Verdict.MET)

    @property
    def skills_missing(self) -> tuple[str, ...]:
        return tuple(a.requirement.label for a in self.assessed.assessments
                     if a.verdict is Verdict.MISSING)


@dataclass
class ScreeningPipeline:
    engine: AsyncEngine
    state: Any  # service.rpc.ServiceState: documents pool, metrics, audit log
    config: Any  # ServerConfig
    model_name: str
    jobs: JobCache[JobProfile] = field(default_factory=JobCache)

    def __post_init__(self) -> None:
        self.calls = ModelCalls(self.engine, retry_after_s=self.config.retry_after_s)
        self.analyzer = JobAnalyzer(self.calls)
        self.assessor = Assessor(self.calls)
        self.prose = ProseWriter(self.calls)
        self.interviews = InterviewWriter(self.calls)
        self.auditor = Auditor(self.state, self.model_name)

    # -- Screen ------------------------------------------------------------------------------

    async def screen(self, jd: str, document: Any, settings: ScreenSettings, call: Call, *,
                     field: str = "resume", method: str = "Screen") -> ScreenResult:
        started = time.perf_counter()
        check_prompt_version(settings.prompt_version)
        resume = await self.read(document, field=field, blind=True, deadline=call.deadline)
        language = _language(settings.output_language, resume.text)
        profile, ran = await self.job(jd, call)
        assessed = await self.assessor.assess(profile, resume.lines, call, field=field)
        tokens = assessed.tokens + (profile.tokens if ran else Tokens())
        if settings.explain:
            prose = await self.prose.write(profile, assessed, language,
                                           settings.sampling, call, field=field)
            summary, evaluation, written_in = prose.summary, prose.experience_evaluation, language
            tokens += prose.tokens
        else:
            text = explain(assessed.assessments, dated_roles(line.text for line in resume.lines),
                           language)
            summary, evaluation = text.summary, text.experience_evaluation
            written_in = language if template_language(language) == text.language else "en"
        result = ScreenResult(assessed, profile, resume, summary, evaluation, written_in,
                              (*resume.red_flags, *resume.withheld_flag()), tokens,
                              settings.explain)
        await self.auditor.screen(call, method, jd, document, settings, result, started)
        return result

    async def screen_batch(self, jd: str, documents: Sequence[tuple[str, Any]],
                           settings: ScreenSettings, call: Call
                           ) -> AsyncIterator[tuple[str, ScreenResult | ServiceError]]:
        """(resume id, result or its own error) as each resume finishes. A resume's own failure
        (unreadable, too long...) is its error; cancellation, the deadline and engine failure
        end the whole batch (raised)."""
        check_prompt_version(settings.prompt_version)
        gate = asyncio.Semaphore(BATCH_CONCURRENCY)

        async def one(i: int, resume_id: str, document: Any
                      ) -> tuple[str, ScreenResult | ServiceError]:
            async with gate:
                try:
                    return resume_id, await self.screen(
                        jd, document, settings, Call(f"{call.request_id}-{i}", call.deadline),
                        field=f"resumes[{i}].resume", method="ScreenBatch")
                except ServiceError as exc:
                    if exc.code.name in ("CANCELLED", "INTERNAL", "DEADLINE_EXCEEDED"):
                        raise  # the whole call is over, not this resume
                    return resume_id, exc

        with self.state.documents.batch_lane():  # the tasks read their documents in one lane
            tasks = [asyncio.ensure_future(one(i, rid, doc))
                     for i, (rid, doc) in enumerate(documents)]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:  # client gone or a fatal error: abort the rest, free their blocks
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def job(self, jd: str, call: Call) -> tuple[JobProfile, bool]:
        key = cache_key(self.model_name, screen_v3.PROMPT_VERSION, jd)
        return await self.jobs.get(
            key, lambda: self.analyzer.analyze(jd, Call(f"{call.request_id}-job", call.deadline)))

    # -- GenerateQuestions -------------------------------------------------------------------

    async def questions(self, document: Any, jd: str, n: int, mix: QuestionMix,
                        settings: QuestionSettings, call: Call) -> QuestionsOutcome:
        started = time.perf_counter()
        resume = await self.read(document, field="resume", blind=settings.blind,
                                 deadline=call.deadline)
        language = _language(settings.output_language, resume.text)
        interview = await self.interviews.write(resume, jd, n, mix, language, settings.sampling,
                                                call, field="resume")
        await self.auditor.questions(call, jd, document, n, mix, settings, interview, started)
        return QuestionsOutcome(interview, resume, language)

    # -- documents ---------------------------------------------------------------------------

    async def read(self, document: Any, *, field: str, blind: bool,
                   deadline: float | None) -> PreparedResume:
        metrics = self.state.metrics
        try:
            resume = await read_resume(self.state.documents, document, field=field, blind=blind,
                                       deadline=deadline)
        except ServiceError:
            if metrics is not None:
                metrics.record_document(_declared_format(document), "rejected")
            raise
        if metrics is not None:
            metrics.record_document(resume.document.format, "ok")
        return resume


def check_prompt_version(version: str) -> None:
    if version and version not in SCREEN_PROMPTS:
        raise invalid_argument("options.prompt_version",
                               f"{version!r}; this server screens with {', '.join(SCREEN_PROMPTS)}")


def _language(requested: str, resume_text: str) -> str:
    try:
        return resolve_output_language(requested, resume_text)
    except ValueError as exc:
        raise invalid_argument("options.output_language", str(exc)) from exc


def _declared_format(document: Any) -> str:
    """For the documents metric when reading failed: what the caller said the document was."""
    from hireserve.server.documents.detect import declared_format

    if document.WhichOneof("content") == "text":
        return "text"
    declared = declared_format(document.media_type, document.filename)
    return declared if declared not in (None, "other") else "unknown"
