"""Plain text and Markdown: decode UTF-8 (or UTF-16 with a BOM), refuse binary data."""

from __future__ import annotations

import codecs

from hireserve.server.documents.base import DocumentError

# Control characters other than tab, newline, carriage return and form feed mark binary data.
_ALLOWED_CONTROLS = {"\t", "\n", "\r", "\f"}
_MAX_CONTROL_FRACTION = 0.01


def decode_text(data: bytes | str, field: str) -> str:
    if isinstance(data, str):
        text = data
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DocumentError(field, "invalid UTF-16 text") from exc
    else:
        if b"\x00" in data:
            raise DocumentError(field, "binary data, not text (contains NUL bytes)")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DocumentError(
                field, f"not UTF-8 text (invalid byte at offset {exc.start}); send UTF-8"
            ) from exc
    text = text.lstrip("\ufeff")
    controls = sum(1 for ch in text if ch < " " and ch not in _ALLOWED_CONTROLS)
    if "\x00" in text or controls > max(2, _MAX_CONTROL_FRACTION * len(text)):
        raise DocumentError(field, "binary data, not text (too many control characters)")
    return text.replace("\r\n", "\n").replace("\r", "\n")
