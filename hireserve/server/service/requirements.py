"""A job description's requirements: extracted once per job description, shared by every resume.

    job_lines(text)                           the job description's lines (title as a heading)
    Requirements.from_labels(lines, labels)   headings' and model's labels -> ranked, capped
    RequirementsCache.get(key, extract)       LRU by key; one extraction in flight per key

The key is sha256(model, requirements prompt version, job description), so a new model or a
new prompt never reuses old answers. Concurrent screens of one job description (a ScreenBatch
of 1,000 resumes, or many Screen calls) await the one extraction in flight: the first caller
runs it, as a task the others share, so a caller that goes away does not cancel it for the rest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from hireserve.server.errors import ServiceError
from hireserve.server.prompts import requirements_v1
from hireserve.server.prompts.lines import Line, split_lines
from hireserve.server.prompts.screen_v2 import RequirementLine
from hireserve.v1 import common_pb2

MAX_REQUIREMENTS = 12  # the rubric's length: each costs ~12 decoded tokens per resume
CACHE_SIZE = 256

# Headings decide before the model does: a small model reads "Nice to have:" and still answers
# "must" for the bullets below it (Qwen2.5-0.5B labelled 3 of 11 bullets of a clearly headed
# posting). A line under such a heading, or saying so itself, is nice-to-have; a line under a
# requirements heading is a must-have; one under "About us" or "Benefits" is none. The model
# labels only what no heading decides (no model call at all when headings decide every line).
_NICE = re.compile(
    r"nice[ -]to[ -]have|preferred|bonus|a plus|\bplus\b|desirable|ideally|optional"
    r"|优先|加分", re.IGNORECASE)
_MUST = re.compile(
    r"requirement|qualification|must[ -]have|what you(?:'|’)?ll? (?:need|bring)|you have"
    r"|who you are|skills|experience required|任职要求|岗位要求|任职资格|要求", re.IGNORECASE)
_NONE = re.compile(
    r"about (?:us|the company|the team)|who we are|benefit|perks|what we offer|salary"
    r"|compensation|how to apply|location|福利|待遇|公司介绍|关于我们", re.IGNORECASE)
MAX_TITLE_WORDS = 12


def job_lines(job_description: str) -> list[Line]:
    """The job description's lines; its first line is the job's title (a heading, not a
    requirement) when it is short, not a sentence, and not the only line."""
    lines = split_lines(job_description)
    if all(line.heading for line in lines):  # "SENIOR RUST ENGINEER" alone is the job
        return [Line(line.text, number=line.number) for line in lines]
    first = lines[0]
    others = sum(not line.heading for line in lines[1:])
    if (others and not first.heading and len(first.text.split()) <= MAX_TITLE_WORDS
            and not first.text.endswith((".", "。", "!", "?"))):
        lines[0] = Line(first.text, heading=True, section="", number=first.number)
    return lines


def heading_label(line: Line) -> str | None:
    """"must", "nice" or "none" when the line's heading (or its own words, for "nice")
    decides; None when only the model can tell."""
    if _NICE.search(line.section) or _NICE.search(line.text):
        return "nice"
    if _MUST.search(line.section):
        return "must"
    if _NONE.search(line.section):
        return "none"
    return None


@dataclass(frozen=True)
class Requirements:
    items: tuple[RequirementLine, ...]
    # True when the model marked no line as a requirement and every candidate line was taken
    # as a must-have instead (reported in the response: the rubric is then less reliable).
    fallback: bool
    # The tokens of the extraction, charged to the one request that ran it.
    usage: common_pb2.Usage

    @property
    def digest(self) -> str:
        """sha256 of the rubric itself (texts and importances): what the audit records."""
        canonical = json.dumps([[r.text, r.importance] for r in self.items],
                               ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @classmethod
    def from_labels(cls, lines: list[Line], labels: list[str],
                    usage: common_pb2.Usage) -> Requirements:
        candidates = [lines[i] for i in requirements_v1.candidate_ids(lines)]
        if len(labels) != len(candidates):
            raise ValueError(f"{len(labels)} labels for {len(candidates)} lines")
        chosen: list[tuple[int, int, RequirementLine]] = []
        for order, (line, label) in enumerate(zip(candidates, labels, strict=True)):
            label = heading_label(line) or label
            if label == "none":
                continue
            chosen.append((0 if label == "must" else 1, order, RequirementLine(line.text, label)))
        fallback = not chosen
        if fallback:
            chosen = [(0, order, RequirementLine(line.text, "must"))
                      for order, line in enumerate(candidates)]
        # Must-haves first, each group in the job description's order; capped.
        chosen.sort(key=lambda c: (c[0], c[1]))
        items = tuple(req for _, _, req in chosen[:MAX_REQUIREMENTS])
        return cls(items, fallback, usage)


def cache_key(model: str, job_description: str) -> str:
    h = hashlib.sha256()
    for part in (model, requirements_v1.PROMPT_VERSION, job_description):
        h.update(part.encode())
        h.update(b"\x00")
    return h.hexdigest()


class RequirementsCache:
    def __init__(self, size: int = CACHE_SIZE) -> None:
        self.size = size
        self._done: OrderedDict[str, Requirements] = OrderedDict()
        self._running: dict[str, asyncio.Task[Requirements]] = {}

    def __len__(self) -> int:
        return len(self._done)

    async def get(self, key: str, extract: Callable[[], Awaitable[Requirements]]
                  ) -> tuple[Requirements, bool]:
        """The requirements for `key`, and whether this call ran the extraction (its caller
        is the one charged for the extraction's tokens)."""
        if key in self._done:
            self._done.move_to_end(key)
            return self._done[key], False
        running = self._running.get(key)
        if running is not None:
            try:
                return await asyncio.shield(running), False
            except ServiceError:
                # The owner's extraction failed on its own terms (its deadline, its client
                # gone): try once more as the owner, under this caller's deadline.
                if key in self._done:
                    return self._done[key], False
        return await self._run(key, extract), True

    async def _run(self, key: str, extract: Callable[[], Awaitable[Requirements]]
                   ) -> Requirements:
        task = asyncio.ensure_future(extract())
        self._running[key] = task

        def finished(t: asyncio.Task[Requirements]) -> None:
            if self._running.get(key) is t:
                del self._running[key]
            if not t.cancelled() and t.exception() is None:
                self._done[key] = t.result()
                self._done.move_to_end(key)
                while len(self._done) > self.size:
                    self._done.popitem(last=False)

        task.add_done_callback(finished)
        return await asyncio.shield(task)
