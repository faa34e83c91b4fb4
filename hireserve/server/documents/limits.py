"""Limits that keep a hostile or accidental document from exhausting the server.

Size, pages and characters bound what a document may hold; the work budgets bound what reading
it may cost: decoded PDF content and its operators (a 7 KB PDF can point ten pages at one
3 MiB content stream), DOCX elements and XML part sizes. The CPU, memory and wall-clock limits
are enforced around the reader by the worker pool (documents/pool.py) as a last line: a
document that reaches one is refused with INVALID_ARGUMENT naming the limit.
"""

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
    # Work budgets. A resume page's content stream is 5-50 KB and a few thousand operators;
    # shared streams count once per page that draws them.
    # pypdf parses about 60K operators a second here: the budgets cost a few seconds at most.
    max_content_bytes: int = 2 * MIB  # decoded PDF page content, summed over the pages
    max_content_operators: int = 100_000  # PDF content-stream operators, summed over the pages
    max_xml_part_bytes: int = 16 * MIB  # one DOCX XML part, uncompressed
    max_docx_elements: int = 50_000  # DOCX paragraphs, runs and table cells visited (~30 µs each)
    # Enforced by the worker pool around each document (RLIMIT_CPU, RLIMIT_AS, a timer).
    max_cpu_seconds: int = 10
    max_memory_bytes: int = 1024 * MIB  # address space of a reading process
    max_wall_seconds: float = 30.0

    def __post_init__(self) -> None:
        positive = (self.max_bytes, self.max_pages, self.max_chars, self.max_uncompressed_bytes,
                    self.max_content_bytes, self.max_content_operators, self.max_xml_part_bytes,
                    self.max_docx_elements, self.max_cpu_seconds, self.max_memory_bytes,
                    self.max_wall_seconds)
        if min(positive) <= 0:
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


class WorkBudget:
    """Counts a reader's work against one limit; past it, DocumentError names the limit."""

    def __init__(self, limit: int, what: str, field: str) -> None:
        self.limit, self.what, self.field = limit, what, field
        self.used = 0

    def spend(self, amount: int = 1) -> None:
        self.used += amount
        if self.used > self.limit:
            raise DocumentError(
                self.field, f"{self.what} exceeds the budget of {self.limit} (a document this "
                            "costly to read is refused; simplify or split it)")
