"""Plain Python values -> `hireserve.v1.Document`, and job descriptions -> text.

What each type means (no guessing between "a path" and "some text"):
- `pathlib.Path` (any `os.PathLike`): a file; its bytes are sent with its name and media type.
- `bytes`: raw file content (PDF, DOCX or UTF-8/UTF-16 text); the server detects the format.
- `str`: the document's text itself.
- a `common_pb2.Document`: sent as is.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

from hireserve.v1 import common_pb2

StrPath = Union[str, "os.PathLike[str]"]
DocumentLike = Union[str, bytes, "os.PathLike[str]", common_pb2.Document]

DOCX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": DOCX_MEDIA_TYPE,
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
}
RESUME_SUFFIXES = (".pdf", ".docx", ".txt", ".md")


def media_type_of(path: StrPath) -> str:
    """IANA media type from the file extension; empty when unknown (the server sniffs bytes)."""
    return MEDIA_TYPES.get(Path(path).suffix.lower(), "")


def document_from_file(path: StrPath, *, filename: str | None = None
                       ) -> common_pb2.Document:
    """Read a file into a Document with its file name and media type as hints."""
    p = Path(path)
    return common_pb2.Document(
        data=p.read_bytes(), filename=filename or p.name, media_type=media_type_of(p)
    )


def to_document(value: DocumentLike) -> common_pb2.Document:
    if isinstance(value, common_pb2.Document):
        return value
    if isinstance(value, os.PathLike):
        return document_from_file(value)
    if isinstance(value, bytes):
        return common_pb2.Document(data=value)
    if isinstance(value, str):
        return common_pb2.Document(text=value)
    raise TypeError(f"a document is a Path, bytes, str or Document, not {type(value).__name__}")


def read_job_description(value: StrPath) -> str:
    """A job description is text on the wire: a `str` is the text, a Path a UTF-8/16 file."""
    if not isinstance(value, os.PathLike):
        return value
    data = Path(value).read_bytes()
    if data.startswith(b"%PDF") or data.startswith(b"PK\x03\x04"):
        # The client has no PDF/DOCX reader (grpcio + protobuf only, by design).
        raise ValueError(f"{os.fspath(value)}: the job description must be a text file")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")
