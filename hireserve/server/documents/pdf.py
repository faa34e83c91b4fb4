"""PDF to text with pypdf, dropping text a reader would not see.

Reading is bounded before the costly parts: pypdf's own limits are tightened to ours
(decompressed stream size, content-stream parsing work, form XObjects per page), and every
page's decoded content counts against `max_content_bytes` before its operators are parsed, then
its operators against `max_content_operators`. Anything pypdf raises on a malformed file
becomes a DocumentError.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from pypdf import PdfReader, apply_configuration
from pypdf.errors import DependencyError, FileNotDecryptedError, LimitReachedError
from pypdf.generic import ContentStream, NameObject

from hireserve.server.documents.base import DocumentError, ParsedDocument
from hireserve.server.documents.limits import DocumentLimits, WorkBudget, check_chars
from hireserve.server.documents.pdf_hidden import PageBox, classify_text_ops, filtered_operations

# pypdf logs errors that quote object ids and font names of malformed files: never ours to log.
logging.getLogger("pypdf").setLevel(logging.CRITICAL)
XFORMS_PER_PAGE = 100  # form XObjects drawn per page during text extraction (pypdf: 5,000)
WORK_PER_OPERATOR = 4  # pypdf counts parsing work per token: an operator and its ~3 operands


@contextmanager
def _bounded(limits: DocumentLimits) -> Iterator[None]:
    """pypdf's resource limits (per stream, per page) tightened to ours for this document."""
    with apply_configuration(
        zlib_maximum_output_length=limits.max_content_bytes * 4,
        stream_parsing_work_maximum_count=limits.max_content_operators * WORK_PER_OPERATOR,
        xform_maximum_invocations_per_extraction=XFORMS_PER_PAGE,
        page_tree_maximum_page_entries=limits.max_pages * 1000,
    ):
        yield


def _open(data: bytes, field: str) -> tuple[PdfReader, list[str]]:
    warnings: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            # An empty user password opens in any viewer: only owner restrictions are set.
            try:
                opened = reader.decrypt("")
            except (DependencyError, NotImplementedError) as exc:
                raise DocumentError(field, "encrypted PDF with an unsupported cipher") from exc
            if not opened:
                raise DocumentError(field, "encrypted PDF: remove the password and resend")
            warnings.append("PDF was encrypted with an empty password")
        _ = len(reader.pages)
    except DocumentError:
        raise
    except FileNotDecryptedError as exc:
        raise DocumentError(field, "encrypted PDF: remove the password and resend") from exc
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:  # PdfReadError, LimitReachedError, ValueError, KeyError...
        raise DocumentError(field, f"corrupt PDF ({type(exc).__name__})") from exc
    return reader, warnings


def read_pdf(data: bytes, limits: DocumentLimits, field: str) -> ParsedDocument:
    with _bounded(limits):
        return _read_pdf(data, limits, field)


def _read_pdf(data: bytes, limits: DocumentLimits, field: str) -> ParsedDocument:
    reader, warnings = _open(data, field)
    num_pages = len(reader.pages)
    if num_pages == 0:
        raise DocumentError(field, "PDF has no pages")
    if num_pages > limits.max_pages:
        raise DocumentError(field, f"PDF has {num_pages} pages; the limit is {limits.max_pages}")
    texts: list[str] = []
    hidden_chars = 0
    extracted = 0
    content_bytes = WorkBudget(limits.max_content_bytes, "decoded page content (bytes)", field)
    operators = WorkBudget(limits.max_content_operators, "content-stream operators", field)
    for number, page in enumerate(reader.pages, start=1):
        try:
            visible, hidden, reasons = _page_text(page, reader, limits, content_bytes, operators)
        except (DocumentError, MemoryError, RecursionError):
            raise
        except Exception as exc:  # pypdf raises many types on malformed streams
            raise DocumentError(field, f"corrupt PDF: page {number} unreadable") from exc
        hidden_count = sum(1 for ch in hidden if not ch.isspace())
        if hidden_count:
            hidden_chars += hidden_count
            why = ", ".join(sorted(reasons))
            warnings.append(f"page {number}: dropped {hidden_count} hidden characters ({why})")
        texts.append(visible.strip())
        extracted += len(visible)
        # Stop early rather than extract 50 pages of a document already over the limit.
        if extracted > limits.max_chars:
            break
    text = "\n\n".join(t for t in texts if t)
    if not text.strip():
        reason = "PDF has no extractable text (a scanned image? OCR is not supported)"
        if hidden_chars:
            reason = "PDF has no visible text (all of its text is hidden)"
        raise DocumentError(field, reason)
    check_chars(text, limits, field)
    return ParsedDocument(text, "pdf", num_pages, hidden_chars, tuple(warnings))


def _page_text(page, reader: PdfReader, limits: DocumentLimits,  # type: ignore[no-untyped-def]
               content_bytes: WorkBudget, operators: WorkBudget) -> tuple[str, str, set[str]]:
    contents = page.get_contents()
    if contents is None:
        return "", "", set()
    content_bytes.spend(len(contents.get_data()))  # decoded in C: cheap next to parsing it
    # pypdf stops parsing where our remaining budget ends, instead of parsing it all first.
    remaining = max(operators.limit - operators.used, 0) + 1
    try:
        with apply_configuration(stream_parsing_work_maximum_count=remaining * WORK_PER_OPERATOR):
            operations = list(contents.operations)
    except LimitReachedError:
        operations = []
        operators.spend(remaining)  # raises, naming the limit
    operators.spend(len(operations))
    box = PageBox(*(float(v) for v in page.mediabox))
    resources = page.get("/Resources")
    resources = resources.get_object() if resources is not None else {}
    hidden, reasons = classify_text_ops(operations, resources, box, limits.min_visible_font_pt)
    if not any(hidden):
        return page.extract_text(), "", set()
    # pypdf decodes fonts and lays out lines; we only choose which operators it sees.
    only_hidden = ContentStream(None, reader)
    only_hidden.operations = filtered_operations(operations, hidden, keep_hidden=True)
    # pypdf 7 refuses replace_contents on a reader's page; this page object is ours alone.
    page[NameObject("/Contents")] = only_hidden
    hidden_text = page.extract_text()
    only_visible = ContentStream(None, reader)
    only_visible.operations = filtered_operations(operations, hidden, keep_hidden=False)
    page[NameObject("/Contents")] = only_visible
    return page.extract_text(), hidden_text, reasons
