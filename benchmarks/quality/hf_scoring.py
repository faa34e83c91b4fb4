"""The speed baseline: the same screen_v3 questions scored by transformers, in the same run.

For a subset of the screened resumes, each resume's questions are rebuilt exactly as the server
asks them: the resume read and redacted by the server's own code (service/resume.py), its rows
as the model reads them (screening/assess.resume_rows), the requirement lines the server
reported for it, and the token ids of screening/assess.resume_prompts with the server's
tokenizer. transformers (AutoModelForCausalLM on the same weights the server serves, as
benchmarks/hf_baseline.py loads them, in the server's dtype) scores every question as its own
sequence, in static batches with left padding (prompts sorted by length, so a batch pads
little), and the next-token log-probabilities of the answer words are read at the last
position. Each batch size is timed over the whole subset; the best is the baseline. Only the
resumes' questions are timed (prompts built beforehand, one warm-up forward first): the job's
analysis, which ScreenBatch's wall includes, is not asked of transformers, so the ratio
against ScreenBatch leans in transformers' favour.

The server's confidence (max(P(yes), P(no))) of each question is compared with transformers'
as a check that both scored the very same prompts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

BATCH_SIZES = (1, 4, 16)


@dataclass(frozen=True)
class Resume:
    id: str
    text: str
    requirements: tuple[str, ...]  # the lines the server asked about, in its order
    confidences: tuple[float, ...] = ()  # the server's, aligned with requirements


def question_prompts(tokenizer: Any, resume: Resume) -> list[list[int]]:
    """The token ids of the resume's questions, as the server builds them."""
    from hireserve.server.documents import DocumentLimits
    from hireserve.server.screening.assess import resume_prompts
    from hireserve.server.service.resume import prepare_resume
    from hireserve.v1 import common_pb2

    prepared = prepare_resume(common_pb2.Document(text=resume.text), field="resume", blind=True,
                              limits=DocumentLimits())
    prompts, _ = resume_prompts(tokenizer, prepared.lines, resume.requirements)
    return prompts


def answer_ids(tokenizer: Any) -> dict[str, tuple[int, ...]]:
    from hireserve.server.prompts import protocol, screen_v3

    return protocol.answer_candidates(tokenizer, screen_v3.ANSWER_WORDS)


@torch.inference_mode()
def score_prompts(hf: torch.nn.Module, prompts: Sequence[Sequence[int]],
                  candidates: Sequence[int], *, batch_size: int, pad_token_id: int
                  ) -> list[dict[int, float]]:
    """Per prompt, in order: candidate id -> log-probability of it as the next token."""
    device = next(hf.parameters()).device
    order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
    wanted = torch.tensor(list(candidates), dtype=torch.long)
    out: list[dict[int, float]] = [{} for _ in prompts]
    for lo in range(0, len(order), batch_size):
        chunk = order[lo:lo + batch_size]
        width = max(len(prompts[i]) for i in chunk)
        ids = torch.full((len(chunk), width), pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):  # left padding: every prompt ends at the last column
            ids[row, width - len(prompts[i]):] = torch.tensor(list(prompts[i]))
            mask[row, width - len(prompts[i]):] = 1
        # positions count from each prompt's first real token, as generate() derives them
        # (RoPE alone would not care: it sees only relative positions)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = hf(input_ids=ids.to(device), attention_mask=mask.to(device),
                    position_ids=positions.to(device), use_cache=False, logits_to_keep=1).logits
        logprobs = torch.log_softmax(logits[:, -1, :].float(), dim=-1)[:, wanted].cpu()
        for row, i in enumerate(chunk):
            out[i] = dict(zip(candidates, logprobs[row].tolist(), strict=True))
    return out


def _confidences(logprobs: Sequence[Mapping[int, float]], yes: Sequence[int],
                 no: Sequence[int]) -> list[float]:
    from hireserve.server.screening.calibration import yes_probability

    return [max(p, 1.0 - p) for p in (yes_probability(lp, yes, no) for lp in logprobs)]


def run_baseline(model: str, resumes: Sequence[Resume], *, dtype: str = "float32",
                 threads: int | None = None, batch_sizes: Sequence[int] = BATCH_SIZES
                 ) -> dict[str, Any]:
    """Resumes per minute of transformers on the resumes' questions at each batch size."""
    from benchmarks.hf_baseline import load_hf_model
    from hireserve.server.engine.tokenizer import Tokenizer
    from hireserve.server.models.source import resolve_model

    if threads:
        torch.set_num_threads(threads)
    tokenizer = Tokenizer.from_source(resolve_model(model))
    prompts_of = [question_prompts(tokenizer, r) for r in resumes]
    prompts = [p for ps in prompts_of for p in ps]
    words = answer_ids(tokenizer)
    candidates = [*words["yes"], *words["no"]]
    hf = load_hf_model(model, getattr(torch, dtype))
    pad = tokenizer.hf.pad_token_id
    pad = pad if pad is not None else min(tokenizer.eos_token_ids, default=0)
    # warm-up: the first forward pays for allocations the timed ones would not
    score_prompts(hf, [min(prompts, key=len)], candidates, batch_size=1, pad_token_id=pad)
    per_size: dict[str, dict[str, float]] = {}
    logprobs: list[dict[int, float]] = []
    for size in batch_sizes:
        started = time.perf_counter()
        logprobs = score_prompts(hf, prompts, candidates, batch_size=size, pad_token_id=pad)
        wall = time.perf_counter() - started
        per_size[str(size)] = {"wall_s": wall, "per_min": 60.0 * len(resumes) / wall}
    best = max(per_size, key=lambda s: per_size[s]["per_min"])
    ours = _confidences(logprobs, words["yes"], words["no"])
    theirs = [c for r in resumes for c in r.confidences]
    diffs = [abs(a - b) for a, b in zip(ours, theirs, strict=True)] if len(theirs) == len(
        ours) else []
    return {
        "model": model, "dtype": dtype, "threads": torch.get_num_threads(),
        "resumes": [r.id for r in resumes], "questions": len(prompts),
        "prompt_tokens": sum(len(p) for p in prompts),
        "per_batch_size": per_size, "best_batch_size": int(best),
        "per_min": per_size[best]["per_min"],
        "max_confidence_diff": max(diffs) if diffs else None,
    }
