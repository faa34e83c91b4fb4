"""Synthetic screening workloads: job descriptions shared by many resumes, English and Chinese,
resume lengths drawn from a seeded mix that looks like real traffic.

Nothing here is personal data: names, employers and schools come from small made-up pools.
Lengths are in tokens of the tokenizer passed as `count_tokens` (the server's, so a benchmark
knows what the engine sees); without one, a characters-per-token estimate stands in.

    wl = make_workload(64, num_jobs=1, seed=0, lengths=LengthMix.uniform(300, 800))
    for job, resume in wl.pairs(): ...
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

CountTokens = Callable[[str], int]

# Rough tokens per character when no tokenizer is given (BPE vocabularies of Llama/Qwen size).
_CHARS_PER_TOKEN = {"en": 4.3, "zh": 1.4}


@dataclass(frozen=True)
class LengthMix:
    """Resume length in tokens. Most resumes fall log-uniformly in [body_min, body_max]; a
    `tail_fraction` runs log-uniformly up to `tail_max`; an optional `long_fraction` are very long
    documents (portfolios, publication lists) uniform in [long_min, long_max]."""

    body_min: int = 500
    body_max: int = 3_000
    tail_fraction: float = 0.10
    tail_max: int = 32_000
    long_fraction: float = 0.0  # 0.05 for the "5% at 64K-128K" mix
    long_min: int = 64_000
    long_max: int = 128_000

    @classmethod
    def uniform(cls, low: int, high: int) -> LengthMix:
        """Every resume uniform in [low, high] tokens (short CPU runs)."""
        return cls(body_min=low, body_max=high, tail_fraction=0.0, tail_max=high)

    def __post_init__(self) -> None:
        if not 0 < self.body_min <= self.body_max <= self.tail_max:
            raise ValueError("need 0 < body_min <= body_max <= tail_max")
        if not 0 <= self.tail_fraction + self.long_fraction <= 1:
            raise ValueError("tail_fraction + long_fraction must be in [0, 1]")
        if self.long_fraction and not 0 < self.long_min <= self.long_max:
            raise ValueError("need 0 < long_min <= long_max")

    @property
    def max_tokens(self) -> int:
        return self.long_max if self.long_fraction else self.tail_max

    def sample(self, rng: random.Random) -> int:
        u = rng.random()
        if u < self.long_fraction:
            return rng.randint(self.long_min, self.long_max)
        if u < self.long_fraction + self.tail_fraction:
            return _log_uniform(rng, self.body_max, self.tail_max)
        if self.body_min == self.body_max:
            return self.body_min
        return _log_uniform(rng, self.body_min, self.body_max)


def _log_uniform(rng: random.Random, low: int, high: int) -> int:
    return min(high, max(low, round(math.exp(rng.uniform(math.log(low), math.log(high))))))


@dataclass(frozen=True)
class Document:
    doc_id: str
    language: str  # "en" | "zh"
    text: str
    num_tokens: int  # counted (or estimated) body tokens; the prompt adds its own frame

    def __repr__(self) -> str:  # never print the text
        return f"Document({self.doc_id!r}, {self.language}, {self.num_tokens} tokens)"


@dataclass(frozen=True)
class Workload:
    jobs: list[Document]
    resumes: list[Document]
    job_of: list[int] = field(repr=False)  # resume i is screened against jobs[job_of[i]]
    seed: int = 0

    def pairs(self) -> Iterator[tuple[Document, Document]]:
        for i, resume in enumerate(self.resumes):
            yield self.jobs[self.job_of[i]], resume

    def __len__(self) -> int:
        return len(self.resumes)


def make_workload(
    num_resumes: int,
    *,
    num_jobs: int = 1,
    seed: int = 0,
    lengths: LengthMix | None = None,
    zh_fraction: float = 0.3,
    job_tokens: tuple[int, int] = (250, 600),
    count_tokens: CountTokens | None = None,
) -> Workload:
    """`num_resumes` resumes spread over `num_jobs` job descriptions (each job gets many resumes,
    in a shuffled order so a server sees them interleaved). A job's resumes are in its language
    80% of the time. Same arguments, same workload, byte for byte."""
    if num_resumes < 1 or num_jobs < 1:
        raise ValueError("need at least one resume and one job")
    lengths = lengths or LengthMix()
    rng = random.Random(seed)
    jobs = []
    for j in range(num_jobs):
        lang = "zh" if rng.random() < zh_fraction else "en"
        target = rng.randint(*job_tokens)
        jobs.append(_document(f"job-{j}", lang, target, rng, count_tokens, job=True))
    job_of = [i % num_jobs for i in range(num_resumes)]
    rng.shuffle(job_of)
    resumes = []
    for i in range(num_resumes):
        job_lang = jobs[job_of[i]].language
        lang = job_lang if rng.random() < 0.8 else ("en" if job_lang == "zh" else "zh")
        target = lengths.sample(rng)
        resumes.append(_document(f"resume-{i}", lang, target, rng, count_tokens, job=False))
    return Workload(jobs, resumes, job_of, seed)


def _document(doc_id: str, lang: str, target: int, rng: random.Random,
              count_tokens: CountTokens | None, *, job: bool) -> Document:
    """Appends generated paragraphs until the token count reaches `target`. Each piece is
    counted on its own (pieces end in a newline, so the sum is within a few tokens of the
    count of the whole)."""
    from benchmarks import corpus

    count = count_tokens or (lambda s: max(1, round(len(s) / _CHARS_PER_TOKEN[lang])))
    pieces: list[str] = []
    total = 0
    for piece in corpus.pieces(lang, rng, job=job):
        n = count(piece)
        if total + n > target and pieces:
            cut = _truncate(piece, target - total, n)
            if cut:
                pieces.append(cut)
                total += count(cut)
            break
        pieces.append(piece)
        total += n
        if total >= target:
            break
    return Document(doc_id, lang, "".join(pieces), total)


def _truncate(piece: str, want: int, have: int) -> str:
    """Cuts a piece to about `want` of its `have` tokens (proportionally by characters)."""
    keep = max(0, int(len(piece) * want / max(have, 1)))
    return piece[:keep].rstrip() + "\n" if keep else ""
