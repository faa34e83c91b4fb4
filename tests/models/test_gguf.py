"""The embedded default model (SmolLM2-135M-Instruct, GGUF Q4_1) through our loader and runner
versus transformers loading the same GGUF."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from model_harness import Harness
from transformers import AutoModelForCausalLM, AutoTokenizer

from hireserve.server.models.gguf_loader import unpermute_rows
from hireserve.server.models.source import embedded_gguf_path

PROMPT = "<|im_start|>user\nWrite three sentences about the sea.<|im_end|>\n<|im_start|>assistant\n"
NEW_TOKENS = 32


def test_unpermute_inverts_llama_cpp_permutation() -> None:
    # llama.cpp's convert_hf_to_gguf permute, written from its definition: per head, the two
    # rotary halves are interleaved row by row.
    def permute(w: np.ndarray, n_head: int) -> np.ndarray:
        return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2) \
            .reshape(w.shape)

    w = np.arange(6 * 8 * 3, dtype=np.float32).reshape(6 * 8, 3)
    np.testing.assert_array_equal(unpermute_rows(permute(w, 6), 6), w)
    b = np.arange(4 * 8, dtype=np.float32)
    np.testing.assert_array_equal(unpermute_rows(permute(b, 4), 4), b)


@pytest.mark.slow
def test_smollm2_gguf_greedy_tokens_match_transformers() -> None:
    path = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    prompt = tokenizer(PROMPT)["input_ids"]
    hf = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, dtype=torch.float32
    ).eval()
    hf.generation_config.eos_token_id = None  # exactly NEW_TOKENS tokens, EOS or not
    with torch.inference_mode():
        expected = hf.generate(
            torch.tensor([prompt]), max_new_tokens=NEW_TOKENS, do_sample=False, pad_token_id=2
        )[0, len(prompt) :].tolist()
        hf_prefill = hf(torch.tensor([prompt])).logits[0, -1].float()

    h = Harness(path, block_size=16, num_blocks=8)
    assert h.config.tie_word_embeddings and h.config.num_kv_heads == 3
    seq = h.sequence(prompt)
    out = h.runner.execute(h.output(h.chunk(seq, 0, len(prompt)))).sampled
    ours_prefill = h.logits(h.chunk(seq, 0, len(prompt)))[0]
    torch.testing.assert_close(ours_prefill, hf_prefill, atol=2e-3, rtol=0)
    generated = [out[0]]
    while len(generated) < NEW_TOKENS:
        seq.token_ids.append(generated[-1])
        (token,) = h.runner.execute(h.output(h.chunk(seq, seq.num_tokens - 1, 1))).sampled
        generated.append(token)
    assert generated == expected
