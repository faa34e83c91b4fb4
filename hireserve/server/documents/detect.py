"""Which reader a document needs: magic bytes first, then media type, then file extension.

The bytes win over what the caller declared: a PDF renamed to .txt is still a PDF, and a file
that claims to be a PDF without the %PDF header is rejected rather than parsed as text.
"""

from __future__ import annotations

import io
import zipfile

from hireserve.server.documents.base import DocumentError, DocumentFormat

PDF_MEDIA_TYPES = {"application/pdf", "application/x-pdf"}
DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MARKDOWN_MEDIA_TYPES = {"text/markdown", "text/x-markdown"}
TEXT_MEDIA_TYPES = {"text/plain", *MARKDOWN_MEDIA_TYPES}
MARKDOWN_EXTENSIONS = (".md", ".markdown")
TEXT_EXTENSIONS = (".txt", ".text", *MARKDOWN_EXTENSIONS)

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc, .xls
_ZIP_MAGIC = b"PK\x03\x04"


def declared_format(media_type: str, filename: str) -> str | None:
    """The format the caller's media type or file name claims ("other", or None if neither)."""
    media = media_type.split(";")[0].strip().lower()
    name = filename.lower()
    if media in PDF_MEDIA_TYPES or name.endswith(".pdf"):
        return "pdf"
    if media == DOCX_MEDIA_TYPE or name.endswith(".docx"):
        return "docx"
    if media in MARKDOWN_MEDIA_TYPES or name.endswith(MARKDOWN_EXTENSIONS):
        return "markdown"
    if media in TEXT_MEDIA_TYPES or media.startswith("text/") or name.endswith(TEXT_EXTENSIONS):
        return "text"
    if media or name:
        return "other"
    return None


def detect_format(data: bytes | str, media_type: str, filename: str, field: str) -> DocumentFormat:
    declared = declared_format(media_type, filename)
    if isinstance(data, str):
        return "markdown" if declared == "markdown" else "text"
    # Some generators put a few bytes of junk before the header; readers accept it in 1 KiB.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith(_ZIP_MAGIC):
        try:
            names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
        except (zipfile.BadZipFile, ValueError, NotImplementedError, OSError) as exc:
            raise DocumentError(field, "corrupt zip archive (DOCX)") from exc
        if "word/document.xml" in names:
            return "docx"
        raise DocumentError(field, "zip archive is not a DOCX (no word/document.xml)")
    if data.startswith(_OLE2_MAGIC):
        raise DocumentError(field, "legacy .doc/OLE files are not supported; send DOCX or PDF")
    if declared == "pdf":
        raise DocumentError(field, "not a PDF: the %PDF header is missing")
    if declared == "docx":
        raise DocumentError(field, "not a DOCX: the zip header is missing")
    if declared in (None, "text", "markdown"):
        return "markdown" if declared == "markdown" else "text"
    raise DocumentError(
        field, f"unsupported document type {media_type or filename!r}; send PDF, DOCX or text"
    )
