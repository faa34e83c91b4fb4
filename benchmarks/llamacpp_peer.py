"""llama.cpp on a GGUF, timed like benchmarks/quant_speed.py times our engine (its subprocess).

Runs in its own virtual environment, never the server's (llama-cpp-python compiles llama.cpp
with cmake: about 25 minutes on the 2-core dev VM, once):

    python3 -m venv /work/bench-venvs/llamacpp
    CMAKE_BUILD_PARALLEL_LEVEL=2 /work/bench-venvs/llamacpp/bin/pip install llama-cpp-python==0.3.36

Reads one JSON job on stdin: {"model": gguf path, "threads": n, "prefill": [token ids],
"prompt": [token ids], "new_tokens": n}; writes one JSON line: prefill tokens/s (one
`eval` of the whole prefill list, one batch), and decode tokens/s at batch 1 (greedy: argmax of
the last logits, one `eval` per token, after `prompt`), with the tokens it generated. It imports
nothing from hireserve (this environment has no torch).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from llama_cpp import Llama


def main() -> None:
    job = json.load(sys.stdin)
    threads = int(job["threads"])
    prefill, prompt = list(job["prefill"]), list(job["prompt"])
    llm = Llama(model_path=job["model"], n_ctx=max(len(prefill), len(prompt)) + 64 + job[
        "new_tokens"], n_threads=threads, n_threads_batch=threads, n_batch=len(prefill),
        n_ubatch=len(prefill), verbose=False)
    n_vocab = llm.n_vocab()

    def last_logits() -> np.ndarray:
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(n_vocab,))

    llm.eval(prefill[:8])  # warm-up
    llm.reset()
    start = time.perf_counter()
    llm.eval(prefill)
    prefill_s = time.perf_counter() - start

    llm.reset()
    llm.eval(prompt)
    token = int(np.argmax(last_logits()))
    generated = [token]
    start = time.perf_counter()
    for _ in range(job["new_tokens"] - 1):
        llm.eval([token])
        token = int(np.argmax(last_logits()))
        generated.append(token)
    decode_s = time.perf_counter() - start
    print(json.dumps({"prefill_tok_s": len(prefill) / prefill_s,
                      "decode_tok_s": (len(generated) - 1) / decode_s, "tokens": generated}))


if __name__ == "__main__":
    main()
