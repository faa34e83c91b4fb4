"""From a protobuf Document to the text the model reads, and what we learned on the way.

Runs in a worker thread (PDF parsing and regexes over 400K characters are not for the event
loop). Red flags found here (hidden text, text addressed to the screener) come from the server,
not the model, so a weak model cannot miss them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hireserve.server.documents import DocumentError, DocumentLimits, ParsedDocument, read_document
from hireserve.server.errors import invalid_argument
from hireserve.server.injection import injection_red_flags
from hireserve.server.redaction import redact
from hireserve.v1 import common_pb2, screening_pb2

_CATEGORY = {
    name.removeprefix("REDACTION_CATEGORY_").lower(): value
    for name, value in screening_pb2.RedactionCategory.items()
    if value != screening_pb2.REDACTION_CATEGORY_UNSPECIFIED
}


@dataclass
class PreparedResume:
    text: str  # what the model reads (redacted when blind)
    document: ParsedDocument
    red_flags: list[str] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)

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


def prepare_resume(doc: common_pb2.Document, *, field: str, blind: bool,
                   limits: DocumentLimits) -> PreparedResume:
    which = doc.WhichOneof("content")
    if which is None:
        raise invalid_argument(field, "the document is empty: set text or data")
    data: bytes | str = doc.text if which == "text" else doc.data
    try:
        parsed = read_document(data, doc.media_type, doc.filename, limits, field=field)
    except DocumentError as exc:
        raise invalid_argument(exc.field, exc.reason) from exc
    if not parsed.text.strip():
        raise invalid_argument(field, "the document holds no readable text")
    flags: list[str] = []
    if parsed.hidden_text_dropped:
        flags.append(
            f"Hidden text: {parsed.hidden_text_dropped} characters a reader would not see "
            "(white, tiny or invisible) were removed before screening."
        )
    flags.extend(injection_red_flags(parsed.text))
    text, redactions = parsed.text, {}
    if blind:
        result = redact(parsed.text)
        text, redactions = result.text, dict(result.counts)
    return PreparedResume(text, parsed, flags, redactions)
