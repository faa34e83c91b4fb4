"""Incremental detokenization: streamed chunks add up to the full decode and never carry half a
character, with the Qwen2.5 preset and the SmolLM2 GGUF tokenizers."""

from __future__ import annotations

import pytest

from hireserve.server.engine.detokenizer import IncrementalDetokenizer
from hireserve.server.engine.tokenizer import Tokenizer
from hireserve.server.models.source import resolve_model

TEXTS = {
    "chinese": "候选人拥有八年后端开发经验，精通分布式系统与数据库优化。",
    "arabic": "لديه خبرة واسعة في تطوير البرمجيات وإدارة الفرق التقنية.",
    "emoji": "Great fit 👍🏽🎉 — strong team player 👩‍💻🚀 (ユーザー 🙂)",
    "mixed": "Résumé: 张伟, مهندس, 10 yrs ✓ done\n\n  next line",
}


@pytest.fixture(scope="module", params=["qwen2.5-7b-instruct", "default"])
def tok(request: pytest.FixtureRequest) -> Tokenizer:
    return Tokenizer.from_source(resolve_model(request.param))


@pytest.mark.parametrize("name", list(TEXTS))
@pytest.mark.parametrize("step", [1, 3])
def test_chunks_add_up_without_broken_characters(tok: Tokenizer, name: str, step: int) -> None:
    ids = tok.encode(TEXTS[name])
    detok = IncrementalDetokenizer(tok, prompt_token_ids=tok.encode("Summary:"))
    chunks = [detok.push(ids[i : i + step]) for i in range(0, len(ids), step)]
    assert "".join(chunks) == tok.decode(ids) == TEXTS[name]
    assert detok.text == TEXTS[name]
    assert not any("\ufffd" in chunk for chunk in chunks)


def test_holds_back_partial_characters(tok: Tokenizer) -> None:
    ids = tok.encode(TEXTS["emoji"])
    # Byte-level BPE splits these emoji across tokens: some single tokens decode to U+FFFD.
    assert any("\ufffd" in tok.decode([i]) for i in ids)
    detok = IncrementalDetokenizer(tok)
    chunks = [detok.push([i]) for i in ids]
    assert "" in chunks  # something had to wait for the rest of its character
    assert "".join(chunks) == TEXTS["emoji"]


def test_flush_releases_an_unfinished_character(tok: Tokenizer) -> None:
    ids = tok.encode("ok 🚀")
    # Cut inside the rocket's bytes: find the longest prefix whose decode ends in U+FFFD.
    cut = max(n for n in range(1, len(ids)) if tok.decode(ids[:n]).endswith("\ufffd"))
    detok = IncrementalDetokenizer(tok)
    streamed = "".join(detok.push([i]) for i in ids[:cut])
    assert "\ufffd" not in streamed
    assert streamed + detok.flush() == tok.decode(ids[:cut])


def test_special_tokens_skipped_or_kept(tok: Tokenizer) -> None:
    im_end = tok.hf.convert_tokens_to_ids("<|im_end|>")
    ids = [*tok.encode("done"), im_end]
    skipping = IncrementalDetokenizer(tok)
    assert "".join(skipping.push([i]) for i in ids) == "done"
    keeping = IncrementalDetokenizer(tok, skip_special_tokens=False)
    assert "".join(keeping.push([i]) for i in ids) == "done<|im_end|>"
    assert "done" not in repr(keeping)
