"""Resume and job-description documents to clean text: PDF, DOCX, plain text, Markdown.

    read_document(data, media_type, filename, limits) -> ParsedDocument

Readers drop text a human would not see (and count it), enforce size, page and character
limits, and raise DocumentError(field, reason) for anything they cannot read.
"""

from __future__ import annotations

from hireserve.server.documents.base import DocumentError, DocumentFormat, ParsedDocument
from hireserve.server.documents.detect import detect_format
from hireserve.server.documents.limits import DocumentLimits, check_chars, check_size
from hireserve.server.documents.text import decode_text

__all__ = [
    "DocumentError",
    "DocumentFormat",
    "DocumentLimits",
    "ParsedDocument",
    "read_document",
]


def read_document(
    data: bytes | str,
    media_type: str = "",
    filename: str = "",
    limits: DocumentLimits | None = None,
    *,
    field: str = "resume",
) -> ParsedDocument:
    """Read one document; `field` names the request field in errors (e.g. "resumes[3]")."""
    limits = limits or DocumentLimits()
    check_size(data, limits, field)
    fmt = detect_format(data, media_type, filename, field)
    if fmt == "pdf":
        from hireserve.server.documents.pdf import read_pdf  # pypdf is imported only when needed

        assert isinstance(data, bytes)
        return read_pdf(data, limits, field)
    if fmt == "docx":
        from hireserve.server.documents.docx import read_docx

        assert isinstance(data, bytes)
        return read_docx(data, limits, field)
    text = decode_text(data, field).strip()
    check_chars(text, limits, field)
    return ParsedDocument(text, fmt, 0, 0, ())
