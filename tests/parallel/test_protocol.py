"""The step header and payload survive the trip from rank 0 to a worker unchanged."""

from __future__ import annotations

import torch

from hireserve.server.engine.parallel.protocol import (
    SHUTDOWN,
    STEP,
    StepTensors,
    decode_ints,
    encode_ints,
    pack_step,
    payload_length,
    unpack_step,
)
from hireserve.server.layers.attention.metadata import AttentionMetadata


def test_step_round_trip() -> None:
    # Two decodes and one 3-token prefill chunk over block tables of width 3.
    meta = AttentionMetadata(
        slot_mapping=torch.tensor([9, 21, 4, 5, 6]),
        query_start_loc=torch.tensor([0, 1, 2, 5], dtype=torch.int32),
        seq_lens=torch.tensor([10, 22, 7], dtype=torch.int32),
        block_tables=torch.tensor([[2, 0, 0], [1, 3, 5], [1, 0, 0]], dtype=torch.int32),
        query_lens_cpu=[1, 1, 3],
        seq_lens_cpu=[10, 22, 7],
        num_decodes=2,
        block_size=8,
    )
    step = StepTensors(torch.tensor([11, 12, 13, 14, 15]), torch.tensor([9, 21, 4, 5, 6]),
                       meta, torch.tensor([0, 1, 4]))
    header, payload = pack_step(step)
    fields = decode_ints(header)
    assert fields[0] == STEP and payload_length(fields) == payload.numel()
    assert len(header) == 8 * (7 + 2 * 3)  # fixed fields + two lists of one int per sequence
    got = unpack_step(fields, payload.clone(), block_size=8)
    for a, b in [(got.input_ids, step.input_ids), (got.positions, step.positions),
                 (got.logits_rows, step.logits_rows), (got.meta.slot_mapping, meta.slot_mapping),
                 (got.meta.query_start_loc, meta.query_start_loc),
                 (got.meta.seq_lens, meta.seq_lens), (got.meta.block_tables, meta.block_tables)]:
        assert a.dtype == b.dtype and torch.equal(a, b)
    assert (got.meta.query_lens_cpu, got.meta.seq_lens_cpu) == ([1, 1, 3], [10, 22, 7])
    assert (got.meta.num_decodes, got.meta.block_size) == (2, 8)


def test_commands_are_plain_int64s() -> None:
    assert decode_ints(encode_ints(SHUTDOWN)) == [SHUTDOWN]
    assert encode_ints(3, 1000) == (3).to_bytes(8, "little") + (1000).to_bytes(8, "little")
