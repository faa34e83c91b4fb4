"""What rank 0 tells the workers each step: a small header over a pipe, a payload by broadcast.

The header is raw int64s (no pickle): a command code, the sizes of the payload's parts and
the two host-side lists the attention backends loop over (query and sequence lengths, one
entry per sequence). The payload is one int64 tensor on the device, broadcast from rank 0:
input ids, positions, slot mapping, query_start_loc, seq_lens, the padded block tables and
the rows whose logits are gathered. Its size is the step's token count plus a few entries per
sequence, never the sequences' histories.

Why the header travels by pipe rather than by a collective: an idle server sends nothing for
hours, and a worker waiting in a collective would hit the collective timeout; a worker waiting
on a pipe sees EOF the moment rank 0 dies.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass

import torch

from hireserve.server.layers.attention.metadata import AttentionMetadata

# Command codes: the header's first int64.
STEP = 1
SHUTDOWN = 2
SETUP = 3  # [SETUP, num_blocks]: allocate the KV cache, then answer READY

READY = b"ready"
_FIXED = 7  # command, tokens, seqs, table width, decodes, logits rows, payload length


@dataclass
class StepTensors:
    """Everything a rank needs to run one forward (the runner's StepInputs, minus sampling)."""

    input_ids: torch.Tensor  # [T] int64
    positions: torch.Tensor  # [T] int64
    meta: AttentionMetadata
    logits_rows: torch.Tensor  # [n] int64


def encode_ints(*values: int) -> bytes:
    return array("q", values).tobytes()


def decode_ints(data: bytes) -> list[int]:
    ints = array("q")
    ints.frombytes(data)
    return ints.tolist()


def pack_step(step: StepTensors) -> tuple[bytes, torch.Tensor]:
    """-> (header bytes, payload [L] int64 on the step's device)."""
    meta = step.meta
    num_tokens, num_seqs = step.input_ids.numel(), meta.num_seqs
    width = meta.block_tables.shape[1] if meta.block_tables.dim() == 2 else 0
    payload = torch.cat([
        step.input_ids,
        step.positions,
        meta.slot_mapping,
        meta.query_start_loc.long(),
        meta.seq_lens.long(),
        meta.block_tables.long().reshape(-1),
        step.logits_rows,
    ])
    header = encode_ints(
        STEP, num_tokens, num_seqs, width, meta.num_decodes, step.logits_rows.numel(),
        payload.numel(), *meta.query_lens_cpu, *meta.seq_lens_cpu,
    )
    return header, payload


def payload_length(header: list[int]) -> int:
    return header[6]


def unpack_step(header: list[int], payload: torch.Tensor, block_size: int) -> StepTensors:
    """The inverse of `pack_step`, on a worker: views into `payload`, int32 where the
    attention backends expect int32."""
    _, t, b, width, num_decodes, n, length = header[:_FIXED]
    lists = header[_FIXED:]
    if len(lists) != 2 * b or payload.numel() != length:
        raise ValueError("step header and payload disagree")
    sizes = [t, t, t, b + 1, b, b * width, n]
    ids, pos, slots, cu, seq_lens, tables, rows = torch.split(payload, sizes)
    meta = AttentionMetadata(
        slot_mapping=slots,
        query_start_loc=cu.int(),
        seq_lens=seq_lens.int(),
        block_tables=tables.int().view(b, width),
        query_lens_cpu=lists[:b],
        seq_lens_cpu=lists[b:],
        num_decodes=num_decodes,
        block_size=block_size,
    )
    return StepTensors(ids, pos, meta, rows)
