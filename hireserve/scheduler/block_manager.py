"""Paged KV blocks: ref counts, a free list that doubles as the LRU of cached blocks, and
prefix caching by chained hashes of full blocks.

A cached block is identified by hash(parent hash, its token ids). A lookup trusts a hash only
after comparing the block's stored token ids and its parent's identity (block id and the
allocation generation of that id), so a hash collision can never return a wrong block.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from collections.abc import Sequence as Seq
from dataclasses import dataclass

from hireserve.scheduler.sequence import Sequence

HashFn = Callable[[int | None, tuple[int, ...]], int]
ParentRef = tuple[int, int] | None  # (block id, generation) of the previous block, or None


def chained_hash(parent: int | None, token_ids: tuple[int, ...]) -> int:
    # Python's hash of a tuple of ints is deterministic across processes (no salt for ints);
    # collisions are possible and are caught by the token and parent comparisons.
    return hash((parent, token_ids))


@dataclass(eq=False)
class Block:
    block_id: int
    ref_count: int = 0
    generation: int = 0  # bumped each time the id is handed out for new content
    # Set while the block holds a known full block of tokens (pending or cached):
    hash: int | None = None
    parent_hash: int | None = None
    parent: ParentRef = None
    token_ids: tuple[int, ...] | None = None
    cached: bool = False  # registered in the prefix cache (all its tokens computed)

    def clear_content(self) -> None:
        self.hash = None
        self.parent_hash = None
        self.parent = None
        self.token_ids = None
        self.cached = False


class BlockManager:
    def __init__(
        self,
        num_blocks: int,
        block_size: int,
        enable_prefix_caching: bool = True,
        hash_fn: HashFn = chained_hash,
    ) -> None:
        self.num_blocks = num_blocks
        self.block_size = block_size
        self.enable_prefix_caching = enable_prefix_caching
        self.hash_fn = hash_fn
        self.blocks = [Block(i) for i in range(num_blocks)]
        # Free blocks, evicted from the front. Uncached free blocks go to the front (nothing to
        # lose), freed cached blocks to the back: least recently freed is evicted first.
        self._free: OrderedDict[int, None] = OrderedDict.fromkeys(range(num_blocks))
        self._cached: dict[int, Block] = {}  # hash -> block whose tokens are all computed
        self._pending: dict[int, Block] = {}  # hash -> block whose tokens are being computed
        self._num_committed: dict[int, int] = {}  # seq_id -> leading blocks already committed
        self.query_tokens = 0  # prefix-cache lookups, in prompt tokens
        self.hit_tokens = 0

    # ---- state -------------------------------------------------------------------------
    @property
    def num_free_blocks(self) -> int:
        return len(self._free)

    @property
    def usage(self) -> float:
        return 1.0 - len(self._free) / self.num_blocks

    @property
    def num_cached_blocks(self) -> int:
        return len(self._cached)

    def free_block_ids(self) -> list[int]:
        """Free block ids in eviction order (first is evicted first)."""
        return list(self._free)

    def cached_blocks(self) -> list[Block]:
        return list(self._cached.values())

    # ---- hashing -----------------------------------------------------------------------
    def block_hashes(self, seq: Sequence, num_blocks: int) -> list[int]:
        """Chained hashes of at least the first `num_blocks` full blocks of `seq` (memoized on
        the sequence; token ids only ever grow, so earlier hashes stay valid)."""
        hashes = seq.block_hashes
        bs = self.block_size
        toks = seq.token_ids
        while len(hashes) < num_blocks:
            i = len(hashes)
            parent = hashes[-1] if hashes else None
            hashes.append(self.hash_fn(parent, tuple(toks[i * bs : (i + 1) * bs])))
        return hashes

    def _same(self, block: Block, token_ids: tuple[int, ...], parent: ParentRef) -> bool:
        return block.token_ids == token_ids and block.parent == parent

    # ---- prefix lookup -----------------------------------------------------------------
    def match_prefix(self, seq: Sequence) -> tuple[list[Block], bool]:
        """Longest cached prefix of `seq` in full blocks, and whether the next block is being
        computed right now by another sequence (then the caller should wait for it).

        The match stops one token short of the end: the last token is always computed so the
        step has logits to sample from.
        """
        if not self.enable_prefix_caching:
            return [], False
        bs = self.block_size
        n_full = (seq.num_tokens - 1) // bs
        hashes = self.block_hashes(seq, n_full)
        toks = seq.token_ids
        matched: list[Block] = []
        parent: ParentRef = None
        for i in range(n_full):
            h = hashes[i]
            block_toks = tuple(toks[i * bs : (i + 1) * bs])
            hit = self._cached.get(h)
            if hit is not None and self._same(hit, block_toks, parent):
                matched.append(hit)
                parent = (hit.block_id, hit.generation)
                continue
            pending = self._pending.get(h)
            wait = pending is not None and self._same(pending, block_toks, parent)
            return matched, wait
        return matched, False

    def count_query(self, num_tokens: int, num_hit_tokens: int) -> None:
        self.query_tokens += num_tokens
        self.hit_tokens += num_hit_tokens

    # ---- allocation --------------------------------------------------------------------
    def blocks_needed(self, seq: Sequence, num_tokens_after: int) -> int:
        """New blocks `seq` needs so that positions < num_tokens_after have a slot."""
        return max(0, -(-num_tokens_after // self.block_size) - len(seq.block_table))

    def can_allocate(self, num_new_blocks: int, hits: Seq[Block] = (), reserve: int = 0) -> bool:
        revived = sum(1 for b in hits if b.ref_count == 0)  # hits that sit in the free list
        return num_new_blocks + revived + reserve <= len(self._free)

    def allocate_hits(self, seq: Sequence, hits: Seq[Block]) -> None:
        """Give an empty-table `seq` the cached prefix blocks `hits`."""
        assert not seq.block_table, "prefix hits go at the start of an empty block table"
        for b in hits:
            if b.ref_count == 0:
                del self._free[b.block_id]
            b.ref_count += 1
            seq.block_table.append(b.block_id)
        self._num_committed[seq.seq_id] = len(hits)

    def allocate_slots(self, seq: Sequence, num_tokens_after: int) -> None:
        """Append blocks so that positions < num_tokens_after have a slot. Full blocks whose
        tokens are known become "pending" so other prompts can wait for them."""
        n = self.blocks_needed(seq, num_tokens_after)
        if n > len(self._free):
            raise RuntimeError(f"out of KV blocks: need {n}, {len(self._free)} free")
        self._num_committed.setdefault(seq.seq_id, 0)
        bs = self.block_size
        for _ in range(n):
            block_id, _ = self._free.popitem(last=False)
            b = self.blocks[block_id]
            self._evict(b)
            b.generation += 1
            b.ref_count = 1
            i = len(seq.block_table)
            seq.block_table.append(block_id)
            if self.enable_prefix_caching and (i + 1) * bs <= seq.num_tokens:
                self._set_content(seq, i, b)
                if b.hash is not None and b.hash not in self._pending:
                    self._pending[b.hash] = b

    def _set_content(self, seq: Sequence, i: int, b: Block) -> None:
        bs = self.block_size
        h = self.block_hashes(seq, i + 1)[i]
        b.hash = h
        b.parent_hash = seq.block_hashes[i - 1] if i > 0 else None
        if i > 0:
            p = self.blocks[seq.block_table[i - 1]]
            b.parent = (p.block_id, p.generation)
        else:
            b.parent = None
        b.token_ids = tuple(seq.token_ids[i * bs : (i + 1) * bs])

    def _evict(self, b: Block) -> None:
        if b.cached and b.hash is not None and self._cached.get(b.hash) is b:
            del self._cached[b.hash]
        b.clear_content()

    def _drop_pending(self, b: Block) -> None:
        if b.hash is not None and self._pending.get(b.hash) is b:
            del self._pending[b.hash]

    def commit(self, seq: Sequence) -> None:
        """Register the blocks whose tokens are now all computed (call after each step)."""
        if not self.enable_prefix_caching:
            return
        start = self._num_committed.get(seq.seq_id, 0)
        end = min(seq.num_computed_tokens // self.block_size, len(seq.block_table))
        for i in range(start, end):
            b = self.blocks[seq.block_table[i]]
            if b.cached:
                continue  # a prefix hit, already registered
            if b.hash is None:  # a decode block filled by generated tokens
                self._set_content(seq, i, b)
            self._drop_pending(b)
            parent_ok = i == 0 or self.blocks[seq.block_table[i - 1]].cached
            assert b.hash is not None
            if parent_ok and b.hash not in self._cached:
                self._cached[b.hash] = b
                b.cached = True
            # else: the same content is cached in another block (computed twice), or the
            # chain is broken; the block stays private and is recycled when freed.
        self._num_committed[seq.seq_id] = max(start, end)

    def free(self, seq: Sequence) -> None:
        """Release all of `seq`'s blocks, tail first, so its tail is evicted first."""
        for block_id in reversed(seq.block_table):
            b = self.blocks[block_id]
            assert b.ref_count > 0, f"double free of block {block_id}"
            b.ref_count -= 1
            if b.ref_count == 0:
                self._drop_pending(b)
                if b.cached:
                    self._free[block_id] = None  # back of the LRU
                else:
                    b.clear_content()
                    self._free[block_id] = None
                    self._free.move_to_end(block_id, last=False)
        seq.block_table.clear()
        self._num_committed.pop(seq.seq_id, None)

    def reset_prefix_cache(self) -> None:
        """Forget every unreferenced cached block (e.g. after a weight reload)."""
        for b in list(self._cached.values()):
            if b.ref_count == 0:
                self._evict(b)
