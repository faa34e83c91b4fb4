"""`hireserve serve`: flags for the server and the engine, then run until SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from pathlib import Path

from hireserve.server.config import ServerConfig
from hireserve.server.engine.args import EngineArgs

ENGINE_DEFAULTS = EngineArgs()
SERVER_DEFAULTS = ServerConfig()


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    d, s = ENGINE_DEFAULTS, SERVER_DEFAULTS
    g = p.add_argument_group("server")
    g.add_argument("--host", default=s.host, help="address to bind (default %(default)s)")
    g.add_argument("--port", type=int, default=s.port, help="gRPC port (default %(default)s)")
    g.add_argument("--metrics-port", type=int, default=s.metrics_port,
                   help="Prometheus /metrics port, 0 disables (default %(default)s)")
    g.add_argument("--metrics-host", default=s.metrics_host,
                   help="address of the /metrics endpoint (default %(default)s: this host "
                        "only; 0.0.0.0 in a pod so Prometheus can scrape it)")
    g.add_argument("--tls-cert", type=Path, help="PEM certificate chain (enables TLS)")
    g.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    g.add_argument("--tls-client-ca", type=Path,
                   help="PEM CA bundle: clients must present a certificate it signed (mTLS)")
    g.add_argument("--token-file", type=Path,
                   help="file holding a bearer token; calls without it get UNAUTHENTICATED")
    g.add_argument("--max-message-mib", type=int, default=s.max_message_bytes // 2**20,
                   help="largest request in MiB (default %(default)s; fits a 20 MiB PDF)")
    g.add_argument("--max-concurrent-rpcs", type=int, default=s.max_concurrent_rpcs,
                   help="calls in progress before new ones get RESOURCE_EXHAUSTED; health "
                        "checks are exempt (default %(default)s)")
    g.add_argument("--max-request-mib-in-flight", type=int,
                   default=s.max_request_bytes_in_flight // 2**20,
                   help="MiB of requests held by calls in progress before new ones get "
                        "RESOURCE_EXHAUSTED (default %(default)s)")
    g.add_argument("--document-workers", type=int, default=s.document_workers,
                   help="processes that read PDF and DOCX, under CPU, memory and time limits "
                        "(default %(default)s)")
    g.add_argument("--document-queue", type=int, default=s.document_queue,
                   help="documents waiting for a worker before RESOURCE_EXHAUSTED "
                        "(default %(default)s)")
    g.add_argument("--grace-period", type=float, default=s.grace_period_s,
                   help="seconds calls in flight get to finish after SIGTERM "
                        "(default %(default)s)")
    g.add_argument("--max-schema-kib", type=int, default=s.max_schema_bytes // 1024,
                   help="largest Generate json_schema in KiB (default %(default)s)")
    g.add_argument("--schema-compile-timeout", type=float, default=s.schema_compile_timeout_s,
                   help="seconds a Generate json_schema may take to compile before it is "
                        "refused (default %(default)s)")
    g.add_argument("--audit-log", type=Path,
                   help="append one JSON line per decision to this file (off by default); "
                        "see docs/audit.md")
    g.add_argument("--audit-fsync", choices=["record", "batch"], default=s.audit_fsync,
                   help="fsync each record, or every 64 records / 1 s (default %(default)s)")
    g.add_argument("--log-level", default="INFO", help="default %(default)s")

    e = p.add_argument_group("engine")
    e.add_argument("--model", default=d.model,
                   help="Hugging Face directory, .gguf file, preset (qwen2.5-0.5b, qwen2.5-1.5b: "
                        "embedded Qwen2.5-Coder GGUFs; qwen2.5-7b-instruct: config only) or "
                        "'default' (embedded SmolLM2-135M-Instruct)")
    e.add_argument("--load-format", default=d.load_format, choices=["auto", "dummy"],
                   help="dummy: random weights of the real shape (benchmarks)")
    e.add_argument("--dtype", default=d.dtype,
                   help="auto (bf16 on CUDA; fp32 on CPU, but bf16 for the embedded "
                        "Qwen2.5 models on CPUs with AMX/AVX512-BF16), bfloat16, float16, float32")
    e.add_argument("--device", default=d.device, help="auto, cpu, cuda, cuda:N")
    e.add_argument("--attention-backend", default=d.attention_backend,
                   choices=["auto", "torch", "flash_attn"])
    e.add_argument("--block-size", type=int,
                   help="tokens per KV block (default: 256 with flash-attn, else 16)")
    e.add_argument("--num-kv-blocks", type=int, help="KV cache blocks (overrides the budget)")
    e.add_argument("--kv-cache-memory", help="KV cache budget, e.g. 2GiB")
    e.add_argument("--gpu-memory-utilization", type=float, default=d.gpu_memory_utilization)
    e.add_argument("--max-model-len", type=int, help="default: the model's context")
    e.add_argument("--max-num-batched-tokens", type=int, default=d.max_num_batched_tokens,
                   help="per-step token budget (default %(default)s)")
    e.add_argument("--max-num-seqs", type=int, default=d.max_num_seqs)
    e.add_argument("--max-waiting", type=int, default=d.max_waiting,
                   help="queue length before RESOURCE_EXHAUSTED (default %(default)s)")
    e.add_argument("--long-prefill-token-threshold", type=int)
    e.add_argument("--itl-target-ms", type=float,
                   help="inter-token latency target for latency-aware chunked prefill")
    e.add_argument("--no-prefix-caching", dest="enable_prefix_caching", action="store_false")
    e.add_argument("--no-chunked-prefill", dest="enable_chunked_prefill", action="store_false")
    e.add_argument("--no-fast-forward", dest="enable_fast_forward", action="store_false",
                   help="sample every token, even those a JSON grammar forces")
    e.add_argument("--scheduling-policy", default=d.scheduling_policy,
                   choices=["fcfs", "priority"])
    e.add_argument("--rope-scaling", type=json.loads,
                   help='JSON, e.g. \'{"rope_type":"yarn","factor":4.0,'
                        '"original_max_position_embeddings":32768}\'')
    e.add_argument("--tensor-parallel-size", type=int, default=d.tensor_parallel_size)
    e.add_argument("--quantization", default=d.quantization,
                   choices=["auto", "int4", "int8", "none"],
                   help="weight-only quantization of the linear layers. auto (default): a GGUF "
                        "serves its own 4-bit weights (int4 groups of 32; 5- to 8-bit tensors "
                        "as exact int4 pairs or int8) when activations are bf16/fp16, other "
                        "checkpoints stay dense. int4: also round a dense checkpoint to 4 bits "
                        "(groups of 128); int8: int8 per output row; none: dense")
    e.add_argument("--cpu-threads", type=int, default=d.cpu_threads,
                   help="torch threads per process on CPU (default: one per core, divided "
                        "among tensor-parallel ranks); 1 when other busy processes share "
                        "the cores")
    e.add_argument("--seed", type=int, default=d.seed)


def configs_from_args(ns: argparse.Namespace) -> tuple[ServerConfig, EngineArgs]:
    server = ServerConfig(
        host=ns.host, port=ns.port, metrics_port=ns.metrics_port or None,
        metrics_host=ns.metrics_host, tls_cert=ns.tls_cert,
        tls_key=ns.tls_key, tls_client_ca=ns.tls_client_ca, token_file=ns.token_file,
        max_message_bytes=ns.max_message_mib * 2**20, grace_period_s=ns.grace_period,
        audit_log=ns.audit_log, audit_fsync=ns.audit_fsync,
        max_schema_bytes=ns.max_schema_kib * 1024,
        schema_compile_timeout_s=ns.schema_compile_timeout,
        max_concurrent_rpcs=ns.max_concurrent_rpcs,
        max_request_bytes_in_flight=ns.max_request_mib_in_flight * 2**20,
        document_workers=ns.document_workers, document_queue=ns.document_queue,
    )
    engine = EngineArgs(
        model=ns.model, load_format=ns.load_format, dtype=ns.dtype, device=ns.device,
        attention_backend=ns.attention_backend, block_size=ns.block_size,
        num_kv_blocks=ns.num_kv_blocks, kv_cache_memory=ns.kv_cache_memory,
        gpu_memory_utilization=ns.gpu_memory_utilization, max_model_len=ns.max_model_len,
        max_num_batched_tokens=ns.max_num_batched_tokens, max_num_seqs=ns.max_num_seqs,
        max_waiting=ns.max_waiting, long_prefill_token_threshold=ns.long_prefill_token_threshold,
        itl_target_ms=ns.itl_target_ms, enable_prefix_caching=ns.enable_prefix_caching,
        enable_chunked_prefill=ns.enable_chunked_prefill,
        enable_fast_forward=ns.enable_fast_forward,
        scheduling_policy=ns.scheduling_policy, rope_scaling=ns.rope_scaling,
        tensor_parallel_size=ns.tensor_parallel_size, seed=ns.seed,
        quantization=ns.quantization, cpu_threads=ns.cpu_threads,
    )
    return server, engine


def run_serve(ns: argparse.Namespace) -> int:
    from hireserve.server.logs import setup_logging

    setup_logging(ns.log_level)
    server_config, engine_args = configs_from_args(ns)
    from hireserve.server.app import serve

    try:
        return asyncio.run(serve(server_config, engine_args))
    except KeyboardInterrupt:
        return 0
    except (ValueError, FileNotFoundError, OSError) as exc:
        logging.getLogger("hireserve").error("cannot serve: %s", exc)
        return 2
