"""DOCX to text with python-docx, after checking the zip cannot expand into a bomb.

Hidden runs are dropped and counted: w:vanish, white font colour, or a font under the visible
size, whether set on the run, its character style or its paragraph style chain.
Reading is bounded: the zip's declared sizes (total, per XML part, ratio) are checked before
anything inflates, and paragraphs, runs and table cells count against `max_docx_elements`.
Anything python-docx or lxml raise on a malformed file (a header naming a missing relationship,
broken XML) becomes a DocumentError.
Not covered: text boxes (w:txbxContent), footnotes, comments and tracked deletions.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import docx
from docx.document import Document as DocxDocument
from docx.shared import RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from hireserve.server.documents.base import DocumentError, ParsedDocument
from hireserve.server.documents.limits import DocumentLimits, WorkBudget, check_chars

_WHITE_MIN = 0xF5  # every channel at least this: white on a white page


def check_zip(data: bytes, limits: DocumentLimits, field: str) -> None:
    """Reject by the central directory's declared sizes before any member is inflated.

    Python's zipfile never inflates a member past its declared size, so checking the declared
    sizes bounds what python-docx can expand.
    """
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError, NotImplementedError, OSError) as exc:
        raise DocumentError(field, "corrupt DOCX (bad zip archive)") from exc
    if len(infos) > limits.max_zip_entries:
        raise DocumentError(field, f"DOCX has {len(infos)} zip entries; too many")
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise DocumentError(
            field,
            f"DOCX expands to {total} bytes; the limit is {limits.max_uncompressed_bytes}",
        )
    for info in infos:
        if info.filename.endswith((".xml", ".rels")) and info.file_size > limits.max_xml_part_bytes:
            raise DocumentError(
                field, f"DOCX part {info.filename[:80]!r} is {info.file_size} bytes uncompressed; "
                       f"the limit is {limits.max_xml_part_bytes}")
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_compression_ratio:
            raise DocumentError(field, f"DOCX member compressed {ratio:.0f}:1 (zip bomb?)")


def read_docx(data: bytes, limits: DocumentLimits, field: str) -> ParsedDocument:
    check_zip(data, limits, field)
    budget = WorkBudget(limits.max_docx_elements, "DOCX paragraphs, runs and cells", field)
    lines: list[str] = []
    hidden = 0
    try:
        document = docx.Document(io.BytesIO(data))
        for paragraph in _paragraphs(document, budget):
            visible_text, hidden_count = _paragraph_text(paragraph, min_half_points(limits),
                                                         budget)
            hidden += hidden_count
            lines.append(visible_text.rstrip())
    except (DocumentError, MemoryError, RecursionError):
        raise
    except Exception as exc:  # python-docx raises KeyError, ValueError, lxml errors...
        raise DocumentError(field, f"corrupt DOCX ({type(exc).__name__})") from exc
    text = "\n".join(lines).strip()
    warnings = (f"dropped {hidden} hidden characters",) if hidden else ()
    if not text:
        raise DocumentError(field, "DOCX contains no visible text")
    check_chars(text, limits, field)
    return ParsedDocument(text, "docx", 0, hidden, warnings)


def min_half_points(limits: DocumentLimits) -> float:
    return limits.min_visible_font_pt * 2


def _paragraphs(document: DocxDocument, budget: WorkBudget) -> Iterator[Paragraph]:
    # Headers first: resumes often put the name and contacts there, and readers see them.
    # lxml proxies are recreated on access, so compare elements, never their id().
    seen: list[Any] = []
    for section in document.sections:
        for part in (section.header, section.first_page_header):
            if part.is_linked_to_previous or any(part._element is e for e in seen):
                continue
            seen.append(part._element)
            yield from _block_paragraphs(part.iter_inner_content(), budget)
    yield from _block_paragraphs(document.iter_inner_content(), budget)


def _block_paragraphs(blocks: Iterator[Any], budget: WorkBudget) -> Iterator[Paragraph]:
    for block in blocks:
        budget.spend()
        if isinstance(block, Paragraph):
            yield block
        elif isinstance(block, Table):
            seen_cells: list[Any] = []  # merged cells repeat; lxml keeps one proxy per element
            for row in block.rows:
                for cell in row.cells:
                    if any(cell._tc is tc for tc in seen_cells):
                        continue
                    seen_cells.append(cell._tc)
                    yield from _block_paragraphs(cell.iter_inner_content(), budget)


def _paragraph_text(paragraph: Paragraph, min_half_pt: float,
                    budget: WorkBudget) -> tuple[str, int]:
    parts: list[str] = []
    hidden = 0
    paragraph_style = paragraph.style
    for item in paragraph.iter_inner_content():
        runs = item.runs if hasattr(item, "runs") else [item]
        for run in runs:
            budget.spend()
            if _run_hidden(run, paragraph_style, min_half_pt):
                hidden += sum(1 for ch in run.text if not ch.isspace())
            else:
                parts.append(run.text)
    return "".join(parts), hidden


def _run_hidden(run: Any, paragraph_style: Any, min_half_pt: float) -> bool:
    # Direct formatting wins over the character style, which wins over the paragraph style.
    fonts = [run.font]
    style = run.style if run._r.rPr is not None and run._r.rPr.rStyle is not None else None
    for chain_start in (style, paragraph_style):
        s = chain_start
        while s is not None:
            fonts.append(s.font)
            s = s.base_style
    hidden = _first(f.hidden for f in fonts)
    if hidden:
        return True
    rgb = _first(f.color.rgb if f.color.type is not None else None for f in fonts)
    if isinstance(rgb, RGBColor) and min(rgb) >= _WHITE_MIN:
        return True
    size = _first(f.size for f in fonts)
    return size is not None and size.pt * 2 < min_half_pt


def _first(values: Iterator[Any]) -> Any:
    for value in values:
        if value is not None:
            return value
    return None
