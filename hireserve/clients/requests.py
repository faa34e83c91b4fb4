"""Request messages from plain Python values; shared by the sync and async clients."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Union

from hireserve.clients.documents import DocumentLike, StrPath, read_job_description, to_document
from hireserve.v1 import common_pb2, generation_pb2, screening_pb2

# {"temperature": 0.2, "seed": 7} or the message itself; unknown keys raise ValueError.
SamplingLike = Union[common_pb2.SamplingParams, Mapping[str, float]]  # noqa: UP007
# Sequence: ids are "0", "1", ...; Mapping: the caller's ids.
ResumesLike = Union[Sequence[DocumentLike], Mapping[str, DocumentLike]]  # noqa: UP007
# (role, content) pairs or {"role": ..., "content": ...} dicts.
ChatLike = Sequence[Union[tuple[str, str], Mapping[str, str]]]  # noqa: UP007
MixLike = Union[screening_pb2.QuestionMix, Mapping[str, int]]  # noqa: UP007


def sampling(value: SamplingLike | None) -> common_pb2.SamplingParams | None:
    if value is None or isinstance(value, common_pb2.SamplingParams):
        return value
    return common_pb2.SamplingParams(**value)


def options(output_language: str = "", blind: bool = False,
            sampling_params: SamplingLike | None = None, explain: bool = False,
            prompt_version: str = "") -> screening_pb2.ScreenOptions:
    return screening_pb2.ScreenOptions(
        output_language=output_language, blind_screening=blind,
        sampling=sampling(sampling_params), explain=explain, prompt_version=prompt_version,
    )


def screen(job_description: StrPath, resume: DocumentLike,
           opts: screening_pb2.ScreenOptions) -> screening_pb2.ScreenRequest:
    return screening_pb2.ScreenRequest(
        job_description=read_job_description(job_description), resume=to_document(resume),
        options=opts,
    )


def screen_batch(job_description: StrPath, resumes: ResumesLike,
                 opts: screening_pb2.ScreenOptions) -> screening_pb2.ScreenBatchRequest:
    items: Iterable[tuple[str, DocumentLike]]
    items = resumes.items() if isinstance(resumes, Mapping) else (
        (str(i), r) for i, r in enumerate(resumes)
    )
    return screening_pb2.ScreenBatchRequest(
        job_description=read_job_description(job_description),
        resumes=[screening_pb2.BatchResume(resume_id=rid, resume=to_document(doc))
                 for rid, doc in items],
        options=opts,
    )


def questions(resume: DocumentLike, job_description: StrPath | None,
              num_questions: int, mix: MixLike | None,
              opts: screening_pb2.ScreenOptions) -> screening_pb2.GenerateQuestionsRequest:
    if mix is not None and not isinstance(mix, screening_pb2.QuestionMix):
        mix = screening_pb2.QuestionMix(**mix)
    return screening_pb2.GenerateQuestionsRequest(
        resume=to_document(resume),
        job_description=read_job_description(job_description) if job_description else "",
        num_questions=num_questions, mix=mix, options=opts,
    )


def generate(prompt: str | ChatLike, *, max_tokens: int, sampling_params: SamplingLike | None,
             stop: Sequence[str], json_schema: str, ignore_eos: bool
             ) -> generation_pb2.GenerateRequest:
    request = generation_pb2.GenerateRequest(
        sampling=sampling(sampling_params), max_tokens=max_tokens, stop=list(stop),
        json_schema=json_schema, ignore_eos=ignore_eos,
    )
    if isinstance(prompt, str):
        request.prompt = prompt
    else:
        request.chat.SetInParent()  # an empty conversation is still a conversation
        for m in prompt:
            role, content = (m["role"], m["content"]) if isinstance(m, Mapping) else m
            request.chat.messages.add(role=role, content=content)
    return request
