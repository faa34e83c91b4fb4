"""What a document reader returns, and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DocumentFormat = Literal["pdf", "docx", "text", "markdown"]


class DocumentError(ValueError):
    """A document that cannot be read: encrypted, corrupt, empty, too large or unsupported.

    `field` names the request field (e.g. "resume"), so the RPC layer can answer a BadRequest
    field violation; `reason` says what is wrong in words a caller can act on. Neither ever
    contains the document's text.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ParsedDocument:
    """Clean text of a document plus what the reader had to do to get it."""

    text: str
    format: DocumentFormat
    pages: int  # PDF page count; 0 for formats without pages (DOCX, text, Markdown)
    hidden_text_dropped: int  # characters a reader would not see (white, tiny, invisible)
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        # Resumes are personal data: the repr never shows the text.
        return (
            f"ParsedDocument(format={self.format!r}, pages={self.pages}, chars={len(self.text)}, "
            f"hidden_text_dropped={self.hidden_text_dropped}, warnings={len(self.warnings)})"
        )
