"""Builders of test documents: every file is generated here, none is checked in."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
CJK_FONTS = [
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
]


def make_pdf(lines: list[tuple[str, dict]], font: Path | None = None) -> bytes:
    """One page; each line is (text, style) with optional colour (r, g, b), size, mode."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    if font is not None:
        pdf.add_font("Body", fname=str(font))
        pdf.set_font("Body", size=12)
    else:
        pdf.set_font("Helvetica", size=12)
    for text, style in lines:
        pdf.set_text_color(*style.get("color", (0, 0, 0)))
        pdf.set_font_size(style.get("size", 12))
        if "mode" in style:
            pdf.text_mode = style["mode"]
        pdf.cell(text=text)
        pdf.ln(8)
        pdf.text_mode = 0
    return bytes(pdf.output())


def make_docx(paragraphs: list[tuple[str, dict]], table: list[list[str]] | None = None) -> bytes:
    import docx
    from docx.shared import Pt, RGBColor

    document = docx.Document()
    for text, style in paragraphs:
        run = document.add_paragraph().add_run(text)
        if style.get("hidden"):
            run.font.hidden = True
        if "color" in style:
            run.font.color.rgb = RGBColor(*style["color"])
        if "size" in style:
            run.font.size = Pt(style["size"])
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, value in enumerate(row):
                t.cell(r, c).text = value
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def cjk_font() -> Path:
    for path in CJK_FONTS:
        if path.exists():
            return path
    pytest.skip("no CJK TrueType font on this machine: CJK is tested through the text path")
