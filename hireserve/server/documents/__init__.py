"""Resume and job-description documents to clean text: PDF, DOCX, plain text, Markdown.

    read_document(data, media_type, filename, limits) -> ParsedDocument

Readers drop text a human would not see (and count it), enforce size, page and character
limits and work budgets, and raise DocumentError(field, reason) for anything they cannot read:
whatever a malformed file makes a parser raise, DocumentError is the only exception that leaves
`read_document` (the fuzz tests hold it to that). The server calls it in a worker process
(documents/pool.py) that adds CPU, memory and time limits.
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
    try:
        return _read(data, media_type, filename, limits, field)
    except DocumentError:
        raise
    except MemoryError:
        raise DocumentError(field, "reading it needs more memory than the limit of "
                                   f"{limits.max_memory_bytes // 2**20} MiB") from None
    except RecursionError:
        raise DocumentError(field, "its structure is nested too deeply to read") from None
    except Exception as exc:  # a parser's bug on a malformed file is still the file's error
        raise DocumentError(field, f"unreadable document ({type(exc).__name__})") from None


def _read(data: bytes | str, media_type: str, filename: str, limits: DocumentLimits,
          field: str) -> ParsedDocument:
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
