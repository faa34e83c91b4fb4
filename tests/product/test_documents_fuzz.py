"""Fuzzing the document readers with seeded mutations of valid PDF and DOCX files, and the
crashers earlier fuzzing found (tests/fixtures/crashers/): whatever the bytes, a reader returns
a ParsedDocument or raises DocumentError naming the field, with a reason of its own (never the
catch-all "unreadable document" of read_document), within a bounded time."""

from __future__ import annotations

import io
import random
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hostile_docs import mutate_bytes, mutate_docx

from hireserve.server.documents import DocumentError, DocumentLimits, read_document

CRASHERS = sorted((Path(__file__).parent.parent / "fixtures" / "crashers").iterdir())
CASES = 150  # per format: about 2 s for both on 2 cores
SLOWEST_S = 5.0  # one mutated resume, on a loaded machine; the budgets keep it near 0.1 s
LIMITS = DocumentLimits()


def _pdf(compress: bool) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(datetime(2020, 1, 1, tzinfo=timezone.utc))
    pdf.set_compression(compress)
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    black, white = (0, 0, 0), (255, 255, 255)
    for text, colour, size in [("Jane Doe", black, 12), ("Senior Python developer", black, 10),
                               ("white words", white, 12), ("tiny", black, 0.5)]:
        pdf.set_text_color(*colour)
        pdf.set_font_size(size)
        pdf.cell(text=text)
        pdf.ln(8)
    pdf.add_page()
    pdf.cell(text="Second page: Kubernetes, Postgres")
    return bytes(pdf.output())


def _docx() -> bytes:
    import docx
    from docx.shared import Pt, RGBColor

    document = docx.Document()
    document.sections[0].header.paragraphs[0].text = "Jane Doe - jane@example.com"
    document.add_paragraph("Senior Python developer, 6 years")
    document.add_paragraph().add_run("hidden").font.hidden = True
    document.add_paragraph().add_run("white").font.color.rgb = RGBColor(255, 255, 255)
    document.add_paragraph().add_run("tiny").font.size = Pt(0.5)
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([["Skill", "Years"], ["Rust", "3"]]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _check(data: bytes, case: str, tmp_path: Path) -> str:
    started = time.perf_counter()
    try:
        doc = read_document(data, "", "", LIMITS, field="resumes[2].resume")
        outcome = "ok"
        assert doc.text.strip() and len(doc.text) <= LIMITS.max_chars, case
    except DocumentError as exc:
        outcome = "refused"
        assert exc.field == "resumes[2].resume", case
        if exc.reason.startswith("unreadable document"):  # a reader let a parser error out
            (tmp_path / "case.bin").write_bytes(data)
            pytest.fail(f"{case}: {exc.reason}; input saved to {tmp_path / 'case.bin'}")
    took = time.perf_counter() - started
    assert took < SLOWEST_S, f"{case} took {took:.1f} s"
    return outcome


@pytest.mark.parametrize("compress", [False, True])
def test_mutated_pdfs_are_read_or_refused(compress: bool, tmp_path: Path) -> None:
    base = _pdf(compress)
    rng = random.Random(1601 + compress)
    outcomes = [_check(mutate_bytes(rng, base), f"pdf seed {1601 + compress} case {i}", tmp_path)
                for i in range(CASES // 2)]
    # The mutations must reach both outcomes, or the test would not exercise the parsers.
    assert {"ok", "refused"} <= set(outcomes)


def test_mutated_docx_are_read_or_refused(tmp_path: Path) -> None:
    base = _docx()
    rng = random.Random(1602)
    outcomes = [_check(mutate_docx(rng, base), f"docx seed 1602 case {i}", tmp_path)
                for i in range(CASES)]
    assert {"ok", "refused"} <= set(outcomes)


@pytest.mark.parametrize("path", CRASHERS, ids=[p.name for p in CRASHERS])
def test_earlier_crashers_are_refused_as_corrupt(path: Path, tmp_path: Path) -> None:
    """Each of these once escaped the readers as KeyError, AttributeError, NotImplementedError
    or LimitReachedError (an INTERNAL for the caller, a whole ScreenBatch lost)."""
    assert _check(path.read_bytes(), path.name, tmp_path) == "refused"
    with pytest.raises(DocumentError, match="corrupt"):
        read_document(path.read_bytes(), "", path.name, LIMITS)
