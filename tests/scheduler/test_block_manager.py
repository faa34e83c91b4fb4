"""BlockManager: hash chain, collisions, LRU eviction, tail-first freeing, ref counts."""

from __future__ import annotations

from hireserve.scheduler.block_manager import BlockManager
from hireserve.scheduler.sequence import Sequence


def computed(bm: BlockManager, tokens: list[int]) -> Sequence:
    """A sequence whose prompt has all its K/V computed and committed (as after a prefill)."""
    seq = Sequence(tokens)
    hits, _ = bm.match_prefix(seq)
    bm.allocate_hits(seq, hits)
    bm.allocate_slots(seq, len(tokens))
    seq.num_computed_tokens = len(tokens)
    bm.commit(seq)
    return seq


def test_hash_chain_is_parent_then_block_tokens() -> None:
    bm = BlockManager(8, 4)
    seq = Sequence([1, 2, 3, 4, 5, 6, 7, 8, 9])
    h0 = hash((None, (1, 2, 3, 4)))
    h1 = hash((h0, (5, 6, 7, 8)))
    assert bm.block_hashes(seq, 2)[:2] == [h0, h1]
    # Same second block after a different first block: a different chain.
    other = Sequence([0, 2, 3, 4, 5, 6, 7, 8])
    assert bm.block_hashes(other, 2)[1] != h1


def test_blocks_are_published_only_once_computed() -> None:
    bm = BlockManager(8, 4)
    a = Sequence(list(range(9)))
    bm.allocate_hits(a, [])
    bm.allocate_slots(a, 9)
    assert bm.match_prefix(Sequence([*list(range(9)), 99])) == ([], True)  # pending, not cached
    a.num_computed_tokens = 6  # first block complete, second half done
    bm.commit(a)
    hits, wait = bm.match_prefix(Sequence([*list(range(9)), 99]))
    assert [b.block_id for b in hits] == a.block_table[:1]
    assert wait  # the second block is still being computed by `a`


def test_prefix_hit_shares_blocks_and_counts_refs() -> None:
    bm = BlockManager(8, 4)
    a = computed(bm, list(range(10)))  # 2 full blocks + 2 tokens
    b = Sequence([*list(range(8)), 50, 51, 52])
    hits, wait = bm.match_prefix(b)
    assert not wait and [h.block_id for h in hits] == a.block_table[:2]
    bm.allocate_hits(b, hits)
    bm.allocate_slots(b, b.num_tokens)
    assert [bm.blocks[i].ref_count for i in a.block_table] == [2, 2, 1]
    assert bm.num_free_blocks == 8 - 4
    bm.free(a)
    assert [bm.blocks[i].ref_count for i in b.block_table] == [1, 1, 1]
    assert bm.usage == 3 / 8


def test_full_prompt_hit_still_computes_its_last_block() -> None:
    bm = BlockManager(8, 4)
    computed(bm, list(range(8)))
    hits, _ = bm.match_prefix(Sequence(list(range(8))))
    assert len(hits) == 1  # the last token (and its block) must be computed for logits


def test_hash_collision_never_returns_a_wrong_block() -> None:
    bm = BlockManager(8, 4, hash_fn=lambda parent, toks: 0)  # every block collides
    computed(bm, [1, 2, 3, 4, 5])
    hits, wait = bm.match_prefix(Sequence([9, 9, 9, 9, 5]))
    assert hits == [] and not wait
    hits, _ = bm.match_prefix(Sequence([1, 2, 3, 4, 5]))
    assert len(hits) == 1 and hits[0].token_ids == (1, 2, 3, 4)


def test_stale_parent_is_not_trusted() -> None:
    # A block whose parent id was evicted and refilled (even with the same tokens) is not a hit:
    # its K/V were computed against the old parent.
    bm = BlockManager(4, 2)
    a = computed(bm, [1, 2, 3, 4, 5])
    p, q = a.block_table[0], a.block_table[1]
    bm.free(a)
    bm._free.move_to_end(p, last=False)  # make the parent the next to be evicted
    c = computed(bm, [8, 8, 8])  # takes p for [8, 8]
    assert c.block_table[0] == p
    bm.free(c)
    bm._free.move_to_end(p, last=False)
    d = computed(bm, [1, 2, 9])  # [1, 2] is recomputed into p, a new generation of it
    assert d.block_table[0] == p
    assert bm.blocks[q].cached  # q survives in the cache...
    hits, _ = bm.match_prefix(Sequence([1, 2, 3, 4, 5]))
    assert [h.block_id for h in hits] == [p]  # ...but is not served behind the new p


def test_freed_sequence_tail_is_evicted_first_and_uncached_blocks_go_first() -> None:
    bm = BlockManager(6, 2)
    a = computed(bm, [1, 2, 3, 4, 5, 6, 7])  # 3 full blocks cached + 1 partial
    table = list(a.block_table)
    bm.free(a)
    order = bm.free_block_ids()
    assert order[0] == table[3]  # the partial block is not cached: reused first
    cached_order = [i for i in order if bm.blocks[i].cached]
    assert cached_order == [table[2], table[1], table[0]]  # tail first
    # Allocating two blocks consumes the two never-used ones, then the uncached partial block.
    b = Sequence([8, 8, 8, 8, 8])
    bm.allocate_hits(b, [])
    bm.allocate_slots(b, 5)
    assert table[3] in b.block_table and table[2] not in b.block_table
    bm.allocate_slots(b, 7)  # one more block: evicts the tail of `a`, not its head
    assert table[2] in b.block_table
    assert bm.match_prefix(Sequence([1, 2, 3, 4, 5, 6, 7]))[0] == [
        bm.blocks[table[0]],
        bm.blocks[table[1]],
    ]


def test_lru_keeps_recently_freed_prefixes() -> None:
    bm = BlockManager(4, 2)
    a = computed(bm, [1, 2, 3])
    b = computed(bm, [4, 5, 6])
    bm.free(a)
    bm.free(b)  # b freed after a: a's block is older and goes first
    c = Sequence([7, 7, 7])
    bm.allocate_hits(c, [])
    bm.allocate_slots(c, 3)  # two blocks: the two uncached ones (partial blocks)
    bm.allocate_slots(c, 5)  # one more: evicts a's cached block
    assert bm.match_prefix(Sequence([1, 2, 3]))[0] == []
    assert len(bm.match_prefix(Sequence([4, 5, 6]))[0]) == 1


def test_prefix_caching_off_never_matches() -> None:
    bm = BlockManager(8, 4, enable_prefix_caching=False)
    computed(bm, list(range(9)))
    assert bm.match_prefix(Sequence(list(range(9)))) == ([], False)
    assert bm.num_cached_blocks == 0
