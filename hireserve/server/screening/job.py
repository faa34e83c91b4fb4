"""Everything the pipeline learns from a job description once, before any resume is read.

    JobAnalyzer.analyze(text, call) -> JobProfile
        requirements  the posting's own lines (screening/requirements.py); headings no word
                      list settles, and lines when no heading decides, are read by the model
                      (prompts/headings_v1.py, one prefill each, nothing generated)
        anchors       each requirement's question asked of unrelated resumes and of one that
                      states it (screening/calibration.py)
        labels        a short name per requirement (prompts/labels_v1.py, generated once)

Labels and anchors are independent and run concurrently. The profile is cached per job
description (screening/job_cache.py): a batch of 1,000 resumes analyses its job once, and the
request that ran the analysis carries its tokens.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import dataclass

from hireserve.server.engine.sampling_params import SamplingParams
from hireserve.server.prompts import headings_v1, labels_v1, screen_v3
from hireserve.server.prompts.protocol import answer_candidates, question_prompts
from hireserve.server.screening import requirements as req
from hireserve.server.screening.calibration import Anchors, yes_probability
from hireserve.server.screening.calls import Call, ModelCalls, Tokens, all_or_none
from hireserve.server.screening.verdicts import Requirement

GREEDY = SamplingParams(temperature=0.0)
FIELD = "job_description"
SHORT_REQUIREMENT_WORDS = 5  # a requirement this short is its own label


@dataclass(frozen=True)
class JobProfile:
    requirements: tuple[Requirement, ...]
    anchors: tuple[Anchors, ...]  # aligned with requirements
    fallback: bool  # no line read as a requirement: every line taken as a must-have
    tokens: Tokens  # what the analysis cost, charged to the request that ran it

    @property
    def digest(self) -> str:
        """sha256 of the rubric (texts and importances): what the audit records."""
        canonical = json.dumps([[r.text, r.importance] for r in self.requirements],
                               ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class JobAnalyzer:
    def __init__(self, calls: ModelCalls) -> None:
        self.calls = calls
        tokenizer = calls.tokenizer
        self._letters = answer_candidates(tokenizer, headings_v1.answer_words())
        self._yes_no = answer_candidates(tokenizer, screen_v3.ANSWER_WORDS)

    async def analyze(self, text: str, call: Call) -> JobProfile:
        _, sections = await asyncio.to_thread(req.job_sections, text)
        shown = req.shown_text(text, sections)
        kinds = {s.heading: req.heading_kind(s.heading) for s in sections if s.heading}
        unknown = [h for h, kind in kinds.items() if kind is None]
        tokens = Tokens()
        if unknown:
            answers, spent = await self._classify(shown, unknown, call)
            kinds.update(answers)
            tokens += spent
        known = {h: k for h, k in kinds.items() if k is not None}
        line_labels = None
        if req.needs_line_labels(sections, known):
            line_labels, spent = await self._label_lines(shown, sections, call)
            tokens += spent
        selection = req.select_requirements(sections, known, line_labels)
        texts = [item.text for item in selection.items]
        (anchors, anchor_tokens), (labels, label_tokens) = await all_or_none(
            [self._anchors(texts, call), self._labels(texts, call)])
        requirements = tuple(
            Requirement(item.text, item.importance, label, item.line)
            for item, label in zip(selection.items, labels, strict=True))
        return JobProfile(requirements, tuple(anchors), selection.fallback,
                          tokens + anchor_tokens + label_tokens)

    async def _classify(self, text: str, headings: list[str], call: Call
                        ) -> tuple[dict[str, str], Tokens]:
        tokenizer = self.calls.tokenizer
        _, prompts = await asyncio.to_thread(
            question_prompts, tokenizer, headings_v1.prefix_messages(text),
            [headings_v1.question(h) for h in headings])
        candidates = [t for ids in self._letters.values() for t in ids]
        outputs = await self.calls.score(prompts, candidates, call, field=FIELD, tag="h")
        kinds = {}
        for heading, out in zip(headings, outputs, strict=True):
            kinds[heading] = max(self._letters, key=lambda k: max(
                out.logprobs.get(t, -1e9) for t in self._letters[k]))
        return kinds, Tokens.of_scores(outputs)

    async def _label_lines(self, text: str, sections: list[req.Section], call: Call
                           ) -> tuple[dict[int, str], Tokens]:
        """No heading decides: each line is asked whether it is something the candidate must
        have (yes/no), and a yes on a line that says "a plus" / "preferred" is a nice-to-have."""
        lines = req.candidate_lines(sections)[: req.MAX_CANDIDATE_LINES]
        tokenizer = self.calls.tokenizer
        _, prompts = await asyncio.to_thread(
            question_prompts, tokenizer, headings_v1.prefix_messages(text),
            [headings_v1.line_question(line.text) for line in lines])
        yes, no = self._yes_no["yes"], self._yes_no["no"]
        outputs = await self.calls.score(prompts, [*yes, *no], call, field=FIELD, tag="l")
        labels = {}
        for line, out in zip(lines, outputs, strict=True):
            required = yes_probability(out.logprobs, yes, no) >= 0.5
            labels[line.number] = req.line_label(line.text) if required else req.OTHER
        return labels, Tokens.of_scores(outputs)

    async def _anchors(self, texts: list[str], call: Call
                       ) -> tuple[list[Anchors], Tokens]:
        if not texts:
            return [], Tokens()
        tokenizer = self.calls.tokenizer
        questions = [screen_v3.question(t) for t in texts]
        prompts: list[list[int]] = []
        for resume in screen_v3.UNRELATED_RESUMES:
            _, asked = await asyncio.to_thread(
                question_prompts, tokenizer, screen_v3.prefix_messages(resume.splitlines()),
                questions)
            prompts += asked
        for t, q in zip(texts, questions, strict=True):
            _, asked = await asyncio.to_thread(
                question_prompts, tokenizer,
                screen_v3.prefix_messages(screen_v3.stated_resume(t)), [q])
            prompts += asked
        yes, no = self._yes_no["yes"], self._yes_no["no"]
        outputs = await self.calls.score(prompts, [*yes, *no], call, field=FIELD, tag="c")
        p = [yes_probability(o.logprobs, yes, no) for o in outputs]
        k = len(texts)
        unrelated = [p[i * k:(i + 1) * k] for i in range(len(screen_v3.UNRELATED_RESUMES))]
        stated = p[-k:]
        anchors = [Anchors.from_probabilities([u[i] for u in unrelated], stated[i])
                   for i in range(k)]
        return anchors, Tokens.of_scores(outputs)

    async def _labels(self, texts: list[str], call: Call) -> tuple[list[str], Tokens]:
        """A requirement of a few words is its own label ("Go or Rust", "CCRN certification");
        a longer one is named by the model (labels_v1), all at once."""
        long = [i for i, t in enumerate(texts) if len(t.split()) > SHORT_REQUIREMENT_WORDS
                or len(t) > labels_v1.MAX_LABEL_CHARS]
        answers = await all_or_none([
            self.calls.answer(labels_v1.messages(texts[i]), labels_v1.schema, labels_v1.parse,
                              GREEDY, call, field=FIELD, tag=f"n{i}")
            for i in long])
        labels = [" ".join(t.split()).strip(" .;:") for t in texts]
        tokens = Tokens()
        for i, a in zip(long, answers, strict=True):
            labels[i] = a.value
            tokens += a.tokens
        return labels, tokens
