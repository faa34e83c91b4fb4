"""An in-process hireserve server for client tests: the real proto services, computed answers.

Scores are keyword overlap between the job description and the resume (so the test can
recompute them independently); documents are read with pypdf / python-docx / UTF-8 like the
real server, and a resume whose bytes cannot be read gets INVALID_ARGUMENT with a BadRequest
field violation (a per-resume google.rpc.Status inside ScreenBatch). Failures can be scripted
per method to exercise retries.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections import defaultdict, deque
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from hireserve.v1 import (
    common_pb2,
    generation_pb2,
    generation_pb2_grpc,
    screening_pb2,
    screening_pb2_grpc,
)

MODEL = "fake/Qwen2.5-0.5B-Instruct"


def rich_status(code: grpc.StatusCode, message: str, *, field: str | None = None,
                retry_after_s: float | None = None) -> status_pb2.Status:
    details = []
    if field is not None:
        bad = error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=message)])
        packed = any_pb2.Any()
        packed.Pack(bad)
        details.append(packed)
    if retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromMilliseconds(int(retry_after_s * 1000))
        packed = any_pb2.Any()
        packed.Pack(error_details_pb2.RetryInfo(retry_delay=delay))
        details.append(packed)
    return status_pb2.Status(code=getattr(code_pb2, code.name), message=message,
                             details=details)


class Reject(Exception):
    def __init__(self, status: status_pb2.Status) -> None:
        super().__init__(status.message)
        self.status = status


def words(text: str) -> set[str]:
    return set(ordered_words(text))


def ordered_words(text: str) -> list[str]:
    """Distinct words of `text` in order of first appearance."""
    found = re.findall(r"[a-z][a-z0-9+#.-]*[a-z0-9+#]|[a-z]", text.lower())
    return list(dict.fromkeys(w for w in found if len(w) >= 2))


MAX_REQUIREMENTS = 12  # as the server's screening/requirements.py
MUST_HAVES = 8  # the first job terms are must-haves, the rest nice-to-haves
WEIGHT = {screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE: 2,
          screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE: 1}


def _is_skills_list(line: str) -> bool:
    return line.strip().lower().startswith("skills")


def rubric(jd: str, text: str) -> list[screening_pb2.RequirementAssessment]:
    """The fake's screen_v3 verdicts, must-haves first: each of the first 12 job terms is a
    requirement (its job description line, labelled by the term), met (value 1) on the first
    resume line that holds it, partial (0.5) when only a skills list names it, else missing."""
    jd_lines = [line.strip().lstrip("-*• ").strip() for line in jd.splitlines()]
    resume_lines = text.splitlines()
    out = []
    for i, term in enumerate(ordered_words(jd)[:MAX_REQUIREMENTS]):
        hits = [(n, line.strip()) for n, line in enumerate(resume_lines, 1)
                if term in words(line)]
        applied = [h for h in hits if not _is_skills_list(h[1])]
        number, evidence = (applied or hits or [(0, "")])[0]
        value = 1.0 if applied else 0.5 if hits else 0.0
        verdict = (screening_pb2.REQUIREMENT_VERDICT_MET if applied
                   else screening_pb2.REQUIREMENT_VERDICT_PARTIAL if hits
                   else screening_pb2.REQUIREMENT_VERDICT_MISSING)
        out.append(screening_pb2.RequirementAssessment(
            requirement=next((line for line in jd_lines if term in words(line)), term),
            importance=(screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE if i < MUST_HAVES
                        else screening_pb2.REQUIREMENT_IMPORTANCE_NICE_TO_HAVE),
            verdict=verdict, evidence=evidence, evidence_line=number,
            confidence=0.9, skills_list_evidence=bool(hits) and not applied,
            value=value, label=term))
    return out


def score(jd: str, resume_text: str) -> int:
    """The fake's match score, the server's rule over its verdicts: round(100 * sum(w * value)
    / sum(w)), w = 2 for a must-have and 1 for a nice-to-have. Tests recompute it with this
    same function from the files."""
    items = rubric(jd, resume_text)
    total = sum(WEIGHT[a.importance] for a in items)
    return round(100 * sum(WEIGHT[a.importance] * a.value for a in items) / total) if total else 0


def read_text(doc: common_pb2.Document, field_name: str) -> tuple[str, str, int]:
    """(text, format, pages), or Reject with a field violation, like hireserve/server/documents."""
    if doc.WhichOneof("content") == "text":
        return doc.text, "text", 0
    data = doc.data
    if not data:
        raise Reject(rich_status(grpc.StatusCode.INVALID_ARGUMENT, "document is empty",
                                 field=field_name))
    try:
        if b"%PDF-" in data[:1024]:
            import pypdf

            reader = pypdf.PdfReader(io.BytesIO(data))
            return "\n".join(p.extract_text() for p in reader.pages), "pdf", len(reader.pages)
        if data.startswith(b"PK\x03\x04"):
            import docx

            d = docx.Document(io.BytesIO(data))
            return "\n".join(p.text for p in d.paragraphs), "docx", 0
        if doc.filename.endswith(".pdf") or doc.media_type == "application/pdf":
            raise ValueError("not a PDF: the %PDF header is missing")
        fmt = "markdown" if doc.filename.endswith(".md") else "text"
        return data.decode("utf-8-sig"), fmt, 0
    except Exception as exc:  # any reader failure is the caller's bad document
        raise Reject(rich_status(grpc.StatusCode.INVALID_ARGUMENT, str(exc) or "unreadable",
                                 field=field_name)) from exc


@dataclass
class Script:
    """What the fake saw and what it should do next."""

    calls: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    failures: dict[str, deque[status_pb2.Status]] = field(
        default_factory=lambda: defaultdict(deque))
    token: str | None = None
    # resume_id -> errors that resume gets inside ScreenBatch before it succeeds
    resume_failures: dict[str, deque[status_pb2.Status]] = field(
        default_factory=lambda: defaultdict(deque))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, method: str, status: status_pb2.Status, times: int = 1) -> None:
        self.failures[method].extend([status] * times)

    def times(self, method: str) -> list[float]:
        return [t for m, _, t in self.calls if m == method]

    def enter(self, method: str, context: grpc.ServicerContext) -> None:
        metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
        with self.lock:
            self.calls.append((method, metadata, time.monotonic()))
            scripted = self.failures[method].popleft() if self.failures[method] else None
        if self.token is not None and metadata.get("authorization") != f"Bearer {self.token}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")
        if scripted is not None:
            context.abort_with_status(rpc_status.to_status(scripted))


def _abort(context: grpc.ServicerContext, exc: Reject) -> None:
    context.abort_with_status(rpc_status.to_status(exc.status))


def screen_response(jd: str, doc: common_pb2.Document, options: screening_pb2.ScreenOptions,
                    field_name: str) -> screening_pb2.ScreenResponse:
    text, fmt, pages = read_text(doc, field_name)
    items = rubric(jd, text)
    flags = ["Text addressed to the screener"] if "ignore all previous" in text.lower() else []
    musts = [a for a in items if a.importance == screening_pb2.REQUIREMENT_IMPORTANCE_MUST_HAVE]
    met = [a for a in musts if a.verdict == screening_pb2.REQUIREMENT_VERDICT_MET]
    return screening_pb2.ScreenResponse(
        match_score=score(jd, text),
        skills_matched=[a.label for a in items
                        if a.verdict == screening_pb2.REQUIREMENT_VERDICT_MET],
        skills_missing=[a.label for a in items
                        if a.verdict == screening_pb2.REQUIREMENT_VERDICT_MISSING],
        requirements=items,
        experience_evaluation=f"{len(words(text))} distinct terms in the resume.",
        red_flags=flags, summary=f"Meets {len(met)} of {len(musts)} must-have requirements.",
        # Nothing is generated unless the caller asks for prose (ScreenOptions.explain).
        usage=common_pb2.Usage(prompt_tokens=len(text) // 4,
                               generated_tokens=42 if options.explain else 0),
        model=MODEL, prompt_version="screen_v3",
        output_language=options.output_language or "en",
        document=screening_pb2.DocumentReport(format=fmt, pages=pages),
    )


class FakeScreening(screening_pb2_grpc.ScreeningServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script

    def Screen(self, request, context):
        self.script.enter("Screen", context)
        if not request.job_description.strip():
            _abort(context, Reject(rich_status(grpc.StatusCode.INVALID_ARGUMENT,
                                               "the job description is empty",
                                               field="job_description")))
        try:
            return screen_response(request.job_description, request.resume, request.options,
                                   "resume")
        except Reject as exc:
            _abort(context, exc)

    def ScreenBatch(self, request, context):
        self.script.enter("ScreenBatch", context)
        ids = [r.resume_id for r in request.resumes]
        problem = ("resumes", "the batch holds no resume") if not ids else next(
            ((f"resumes[{i}].resume_id", "empty or duplicate resume id")
             for i, rid in enumerate(ids) if not rid or rid in ids[:i]), None)
        if problem is not None:
            _abort(context, Reject(rich_status(grpc.StatusCode.INVALID_ARGUMENT, problem[1],
                                               field=problem[0])))
        scores: list[tuple[int, int, str]] = []
        failed: list[str] = []
        # Results stream as each resume finishes: here in reverse, so the client cannot rely
        # on request order.
        for i in reversed(range(len(request.resumes))):
            item = request.resumes[i]
            result = screening_pb2.ScreenBatchResult(resume_id=item.resume_id)
            with self.script.lock:
                queue = self.script.resume_failures[item.resume_id]
                scripted = queue.popleft() if queue else None
            if scripted is not None:
                result.error.CopyFrom(scripted)
                failed.append(item.resume_id)
                yield screening_pb2.ScreenBatchResponse(result=result)
                continue
            try:
                r = screen_response(request.job_description, item.resume, request.options,
                                    f"resumes[{i}].resume")
                result.response.CopyFrom(r)
                scores.append((-r.match_score, i, item.resume_id))
            except Reject as exc:
                result.error.CopyFrom(exc.status)
                failed.append(item.resume_id)
            yield screening_pb2.ScreenBatchResponse(result=result)
        ranked = [screening_pb2.RankedResume(resume_id=rid, match_score=-s, rank=n)
                  for n, (s, _, rid) in enumerate(sorted(scores), 1)]
        yield screening_pb2.ScreenBatchResponse(ranking=screening_pb2.BatchRanking(
            ranked=ranked, failed_resume_ids=failed))

    def GenerateQuestions(self, request, context):
        self.script.enter("GenerateQuestions", context)
        n = request.num_questions or 5
        mix = request.mix if request.HasField("mix") else screening_pb2.QuestionMix(
            technical=3, behavioural=1, open_ended=1)
        if n < mix.technical + mix.behavioural + mix.open_ended:
            _abort(context, Reject(rich_status(
                grpc.StatusCode.INVALID_ARGUMENT, "fewer questions than the mix asks for",
                field="num_questions")))
        try:
            text, fmt, pages = read_text(request.resume, "resume")
        except Reject as exc:
            _abort(context, exc)
        terms = sorted(words(text)) or ["experience"]
        kinds = ([screening_pb2.QUESTION_TYPE_TECHNICAL] * mix.technical
                 + [screening_pb2.QUESTION_TYPE_BEHAVIOURAL] * mix.behavioural
                 + [screening_pb2.QUESTION_TYPE_OPEN_ENDED] * mix.open_ended)
        kinds += [screening_pb2.QUESTION_TYPE_TECHNICAL] * (n - len(kinds))
        probes = [terms[i % len(terms)] for i in range(len(kinds))]
        questions = [screening_pb2.Question(type=k, question=f"Tell me about {p}.", probes=p)
                     for k, p in zip(kinds, probes, strict=True)]
        return screening_pb2.GenerateQuestionsResponse(
            questions=questions, model=MODEL, prompt_version="questions_v1",
            usage=common_pb2.Usage(prompt_tokens=len(text) // 4, generated_tokens=n * 20),
            output_language=request.options.output_language or "en",
            document=screening_pb2.DocumentReport(format=fmt, pages=pages))


class FakeGeneration(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(self, script: Script) -> None:
        self.script = script

    def Generate(self, request, context):
        self.script.enter("Generate", context)
        if request.WhichOneof("input") == "chat":
            for i, m in enumerate(request.chat.messages):
                if m.role not in ("system", "user", "assistant"):
                    _abort(context, Reject(rich_status(
                        grpc.StatusCode.INVALID_ARGUMENT, f"unknown role {m.role!r}",
                        field=f"chat.messages[{i}].role")))
            prompt = " ".join(m.content for m in request.chat.messages)
        elif request.prompt:
            prompt = request.prompt
        else:
            _abort(context, Reject(rich_status(grpc.StatusCode.INVALID_ARGUMENT,
                                               "the prompt is empty", field="prompt")))
        # The completion is the prompt upper-cased, cut to max_tokens characters, in 3s.
        text = prompt.upper()[: request.max_tokens or 16]
        for i in range(0, len(text), 3):
            yield generation_pb2.GenerateResponse(text=text[i:i + 3])
        yield generation_pb2.GenerateResponse(
            finish_reason=common_pb2.FINISH_REASON_LENGTH,
            usage=common_pb2.Usage(prompt_tokens=len(prompt), generated_tokens=len(text)))

    def GetModelInfo(self, request, context):
        self.script.enter("GetModelInfo", context)
        return generation_pb2.GetModelInfoResponse(
            model=MODEL, context_length=32768, dtype="bfloat16", tensor_parallel_size=1,
            attention_backend="torch_sdpa", build_version="0.1.0")


class FakeServer:
    """`with FakeServer() as fake: fake.target` -> "127.0.0.1:<bound port>"."""

    def __init__(self, credentials: grpc.ServerCredentials | None = None) -> None:
        self.script = Script()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        screening_pb2_grpc.add_ScreeningServiceServicer_to_server(
            FakeScreening(self.script), self.server)
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(
            FakeGeneration(self.script), self.server)
        self.health = health.HealthServicer()
        self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        if credentials is None:
            self.port = self.server.add_insecure_port("127.0.0.1:0")
        else:
            self.port = self.server.add_secure_port("127.0.0.1:0", credentials)
        self.target = f"127.0.0.1:{self.port}"

    def reset(self) -> None:
        self.script.calls.clear()
        self.script.failures.clear()
        self.script.resume_failures.clear()
        self.script.token = None

    def __enter__(self) -> FakeServer:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(None)
