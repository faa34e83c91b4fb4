"""From a protobuf Document to the text the model reads, and what we learned on the way.

    await read_resume(pool, doc, field=..., blind=...)   in a document worker process
    prepare_resume(doc, field=..., blind=..., limits=...) in this thread (tests, tools)

The work itself (read, flag, redact, split into lines, withhold instructions to the screener) is
documents/prepare.py; this module adds the protobuf glue and maps what can go wrong to gRPC
codes: a document that cannot be read (corrupt, encrypted, over a limit or a budget, past its
CPU, memory or time limit) is INVALID_ARGUMENT naming `field`; a full reading queue is
RESOURCE_EXHAUSTED with RetryInfo. The errors raised here chain to nothing, so no traceback
keeps a refused upload alive.
"""

from __future__ import annotations

import grpc

from hireserve.server.documents import DocumentError, DocumentLimits
from hireserve.server.documents.pool import DocumentPool, DocumentPoolFull, DocumentTimeout
from hireserve.server.documents.prepare import Prepared, prepare, withhold_injections
from hireserve.server.errors import ServiceError, invalid_argument, resource_exhausted
from hireserve.v1 import common_pb2, screening_pb2

__all__ = ["PreparedResume", "prepare_resume", "read_resume", "withhold_injections"]

_CATEGORY = {
    name.removeprefix("REDACTION_CATEGORY_").lower(): value
    for name, value in screening_pb2.RedactionCategory.items()
    if value != screening_pb2.REDACTION_CATEGORY_UNSPECIFIED
}


class PreparedResume(Prepared):
    def withheld_flag(self) -> list[str]:
        if not self.withheld_lines:
            return []
        return [f"{self.withheld_lines} resume line(s) addressed to the screener were withheld "
                "from the model and cannot count as evidence."]

    def report(self) -> screening_pb2.DocumentReport:
        d = self.document
        return screening_pb2.DocumentReport(
            format=d.format, pages=d.pages, hidden_characters_dropped=d.hidden_text_dropped,
            warnings=list(d.warnings),
        )

    def redaction_counts(self) -> list[screening_pb2.RedactionCount]:
        return [
            screening_pb2.RedactionCount(category=_CATEGORY[name], count=count)
            for name, count in sorted(self.redactions.items()) if count
        ]


def _content(doc: common_pb2.Document, field: str) -> bytes | str:
    which = doc.WhichOneof("content")
    if which is None:
        raise invalid_argument(field, "the document is empty: set text or data")
    return doc.text if which == "text" else doc.data


async def read_resume(pool: DocumentPool, doc: common_pb2.Document, *, field: str, blind: bool,
                      deadline: float | None = None) -> PreparedResume:
    """Prepares `doc` in the pool's worker (off the event loop and outside this process's GIL);
    `deadline` (time.monotonic) bounds the wait. Cancelling the caller kills the worker."""
    data = _content(doc, field)
    try:
        prepared = await pool.prepare(data, doc.media_type, doc.filename, field=field,
                                      blind=blind, deadline=deadline)
    except DocumentError as exc:
        raise invalid_argument(exc.field, exc.reason) from None
    except DocumentPoolFull as exc:
        raise resource_exhausted(str(exc), exc.retry_after_s) from None
    except DocumentTimeout as exc:
        raise ServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, str(exc)) from None
    return _resume(prepared)


def prepare_resume(doc: common_pb2.Document, *, field: str, blind: bool,
                   limits: DocumentLimits) -> PreparedResume:
    data = _content(doc, field)
    try:
        prepared = prepare(data, doc.media_type, doc.filename, field=field, blind=blind,
                           limits=limits)
    except DocumentError as exc:
        raise invalid_argument(exc.field, exc.reason) from None
    return _resume(prepared)


def _resume(prepared: Prepared) -> PreparedResume:
    return PreparedResume(prepared.text, prepared.document, prepared.red_flags,
                          prepared.redactions, prepared.lines, prepared.withheld_lines)
