"""Grammar fast-forward: after a step, each sequence that just sampled gets the run of tokens
its JSON grammar forces next (keys, punctuation, the rest of an enum value: the only token its
mask allows), appended without sampling.

This module is the whole mechanism. The grammar finds the run (`StructuredOutputManager.
forced_run`) and the scheduler appends it (`Scheduler.append_forced`); the tokens have no K/V
yet, so the sequence's next chunk is a FORCED_RUN (`Sequence.next_chunk_kind`) that computes
them with the sampled token in one forward and samples at its end. It is exact: sampling under
a one-token mask can only give that token, at any temperature, and a seeded request's draws
depend on (seed, output index) alone (`runner.sample_seed`), so its later tokens are those it
gives with fast-forward off. Stops, max_tokens and the context end a forced run as they end a
sampled one. A forced token's logprobs are {token: 0.0} (all the mass on it).
"""

from __future__ import annotations

from hireserve.scheduler.output import SequenceUpdate
from hireserve.scheduler.scheduler import Scheduler
from hireserve.server.engine.structured import StructuredOutputManager


def fast_forward(updates: list[SequenceUpdate], structured: StructuredOutputManager,
                 scheduler: Scheduler) -> tuple[list[SequenceUpdate], int]:
    """-> the step's updates, each with its forced run after its sampled token (the sequence
    finished if the run ended it), and how many tokens were forced."""
    if not structured.constraining:
        return updates, 0
    result: list[SequenceUpdate] = []
    total = 0
    for update in updates:
        seq = update.seq
        if update.finished or not update.new_token_ids:
            result.append(update)
            continue
        run = structured.forced_run(seq, limit=seq.stop.max_tokens - seq.num_output_tokens)
        if not run:
            result.append(update)
            continue
        appended, reason = scheduler.append_forced(seq, run)
        total += appended
        result.append(SequenceUpdate(seq, update.new_token_ids + run[:appended],
                                     reason is not None, reason))
    return result, total
