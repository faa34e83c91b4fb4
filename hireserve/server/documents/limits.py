"""Limits that keep a hostile or accidental document from exhausting the server."""

from __future__ import annotations

from dataclasses import dataclass

from hireserve.server.documents.base import DocumentError

MIB = 1024 * 1024


@dataclass(frozen=True)
class DocumentLimits:
    max_bytes: int = 20 * MIB  # size of the upload as received
    max_pages: int = 50  # PDF pages; a resume is rarely over 10
    # Extracted characters: ~128K tokens of context leave room for about 400K characters.
    max_chars: int = 400_000
    # A DOCX is a zip: its members' declared sizes are checked before anything expands.
    max_uncompressed_bytes: int = 100 * MIB
    max_compression_ratio: float = 100.0  # per member, for members over ratio_floor_bytes
    ratio_floor_bytes: int = 1 * MIB  # small XML parts legitimately compress 100x
    max_zip_entries: int = 2_000
    # Text a reader would not see is dropped: fonts below this height in points.
    min_visible_font_pt: float = 1.0

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.max_pages, self.max_chars, self.max_uncompressed_bytes) <= 0:
            raise ValueError("document limits must be positive")


def check_size(data: bytes | str, limits: DocumentLimits, field: str) -> None:
    size = len(data.encode("utf-8")) if isinstance(data, str) else len(data)
    if size == 0:
        raise DocumentError(field, "document is empty")
    if size > limits.max_bytes:
        raise DocumentError(field, f"document is {size} bytes; the limit is {limits.max_bytes}")


def check_chars(text: str, limits: DocumentLimits, field: str) -> None:
    if not text.strip():
        raise DocumentError(field, "document contains no readable text")
    if len(text) > limits.max_chars:
        raise DocumentError(
            field, f"extracted text has {len(text)} characters; the limit is {limits.max_chars}"
        )
