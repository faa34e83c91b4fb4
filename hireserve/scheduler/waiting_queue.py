"""The waiting queue, ordered by policy: FCFS, or priority (lower first) then FCFS.

Preempted sequences are put back at the front (of their priority class), so work that was
already admitted resumes before newcomers.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from hireserve.scheduler.config import Policy
from hireserve.scheduler.sequence import Sequence


class WaitingQueue:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._keys: list[tuple[int, int, int]] = []  # (priority, ticket, seq_id), sorted
        self._seqs: dict[int, tuple[tuple[int, int, int], Sequence]] = {}
        self._back = 0
        self._front = 0

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, seq: Sequence) -> bool:
        return seq.seq_id in self._seqs

    def __iter__(self) -> Iterator[Sequence]:
        """In admission order over a snapshot of the keys, so the caller may remove while
        iterating; removed sequences are skipped."""
        for key in list(self._keys):
            entry = self._seqs.get(key[2])
            if entry is not None and entry[0] == key:
                yield entry[1]

    def _prio(self, seq: Sequence) -> int:
        return seq.priority if self.policy == "priority" else 0

    def push(self, seq: Sequence) -> None:
        self._back += 1
        self._insert(seq, (self._prio(seq), self._back, seq.seq_id))

    def push_front(self, seq: Sequence) -> None:
        self._front -= 1
        self._insert(seq, (self._prio(seq), self._front, seq.seq_id))

    def _insert(self, seq: Sequence, key: tuple[int, int, int]) -> None:
        if seq.seq_id in self._seqs:
            raise ValueError(f"sequence {seq.seq_id} is already waiting")
        bisect.insort(self._keys, key)
        self._seqs[seq.seq_id] = (key, seq)

    def remove(self, seq: Sequence) -> None:
        key, _ = self._seqs.pop(seq.seq_id)
        i = bisect.bisect_left(self._keys, key)
        del self._keys[i]
