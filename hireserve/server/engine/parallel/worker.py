"""A tensor-parallel worker process (ranks 1..N-1): load a shard, then mirror rank 0's forwards.

The worker never sees a sequence or a request: each step it receives rank 0's header (pipe)
and payload (broadcast), rebuilds the attention metadata and runs the same forward, taking
part in every all-reduce and in the logits gather. It samples nothing.

It exits when rank 0 says SHUTDOWN, when the pipe reaches EOF (rank 0 died or closed it),
when its parent pid changes (rank 0 was killed and the worker re-parented), or when a
collective fails (a peer died).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import traceback
from multiprocessing.connection import Connection

import torch

from hireserve.server.distributed import (
    backend_for,
    broadcast_from_first,
    destroy_tp_group,
    init_tp_group,
)
from hireserve.server.engine.args import EngineArgs
from hireserve.server.engine.parallel.protocol import (
    READY,
    SETUP,
    SHUTDOWN,
    STEP,
    decode_ints,
    payload_length,
    unpack_step,
)
from hireserve.server.layers.attention.metadata import forward_context

PARENT_POLL_S = 1.0


def _device(args: EngineArgs, rank: int) -> torch.device:
    device = args.resolved_device()
    if device.type == "cuda":
        device = torch.device("cuda", rank)  # one GPU per rank
        torch.cuda.set_device(device)
    else:
        args.apply_cpu_threads()  # N processes share the host's cores: a share each
    return device


def _next_header(conn: Connection, parent_pid: int) -> list[int] | None:
    """The next header from rank 0, or None when rank 0 is gone."""
    while True:
        try:
            if conn.poll(PARENT_POLL_S):
                return decode_ints(conn.recv_bytes())
        except (EOFError, OSError):
            return None
        if os.getppid() != parent_pid:
            return None


def _serve(rank: int, world: int, port: int, conn: Connection, args: EngineArgs,
           parent_pid: int, timeout_s: float) -> int:
    from hireserve.server.engine.kv_cache import kv_heads_per_rank
    from hireserve.server.engine.runner import ModelRunner
    from hireserve.server.models.loader import load_model
    from hireserve.server.models.source import SourceKind, resolve_model

    device = _device(args, rank)
    store = torch.distributed.TCPStore(  # type: ignore[attr-defined]
        "127.0.0.1", port, world, is_master=False,
        timeout=datetime.timedelta(seconds=timeout_s),
    )
    store.set(f"joined/{rank}", "1")
    init_tp_group(rank=rank, world_size=world, store=store, backend=backend_for(device),
                  timeout_s=timeout_s)
    dtype = args.resolved_dtype()
    torch.manual_seed(args.seed)
    source = resolve_model(args.model)
    model, config = load_model(
        source, dtype=dtype, device=device, load_format=args.load_format,
        rope_scaling=args.rope_scaling,
        quantization=args.resolved_quantization(source.kind is SourceKind.GGUF))
    header = _next_header(conn, parent_pid)
    if header is None or header[0] != SETUP:
        return 1
    block_size = args.resolved_block_size()
    runner = ModelRunner(model, config, device=device, dtype=dtype, block_size=block_size,
                         num_blocks=header[1], attention_backend=args.attention_backend)
    facts = f"{kv_heads_per_rank(config)},{runner.kv_cache.nbytes}"
    conn.send_bytes(READY + facts.encode())

    with torch.inference_mode():
        while True:
            header = _next_header(conn, parent_pid)
            if header is None:
                return 1  # rank 0 vanished without a word
            if header[0] == SHUTDOWN:
                return 0
            if header[0] != STEP:
                raise ValueError(f"unknown command {header[0]}")
            payload = torch.empty(payload_length(header), dtype=torch.int64, device=device)
            broadcast_from_first(payload)
            step = unpack_step(header, payload, block_size)
            with forward_context(step.meta):
                hidden = model(step.input_ids, step.positions)
            model.compute_logits(hidden[step.logits_rows])  # our slice, for rank 0's gather


def worker_main(rank: int, world: int, port: int, conn: Connection, args: EngineArgs,
                parent_pid: int, timeout_s: float) -> None:
    """Process entry point (must be importable: the spawn start method pickles it by name)."""
    try:
        code = _serve(rank, world, port, conn, args, parent_pid, timeout_s)
    except BaseException as exc:
        traceback.print_exc()
        with contextlib.suppress(OSError):  # at start-up rank 0 awaits an answer: say why
            conn.send_bytes(f"error: {type(exc).__name__}: {exc}".encode())
        sys.stderr.flush()
        os._exit(1)  # no clean-up that could block on a broken process group
    if code == 0:
        destroy_tp_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
