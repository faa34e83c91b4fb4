"""Write the example job descriptions and resumes: `python -m examples.make_examples [--out DIR]`.

Deterministic: the same bytes on every run (fixed PDF dates and ids, fixed DOCX core
properties and zip timestamps), so regenerating leaves git clean. PDFs use the built-in
Helvetica font (no font embedded: small, but Latin-1 only), which is why the Chinese resumes
are DOCX and text.
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from datetime import datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `examples.content` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples.content import HIDDEN_INJECTION, JOBS, RESUMES

FIXED_DATE = datetime(2025, 1, 1, tzinfo=timezone.utc)
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def _is_heading(line: str) -> bool:
    return line.startswith("## ")


def render_text(lines: list[str]) -> str:
    out = [lines[0], lines[1], ""]
    for line in lines[2:]:
        out += ["", line[3:].upper()] if _is_heading(line) else [line]
    return "\n".join(out).strip() + "\n"


def render_markdown(lines: list[str]) -> str:
    out = [f"# {lines[0]}", "", lines[1], ""]
    for line in lines[2:]:
        out += ["", line, ""] if _is_heading(line) else [line]
    return "\n".join(out).replace("\n\n\n", "\n\n").strip() + "\n"


def render_pdf(lines: list[str], hidden: str | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED_DATE)
    pdf.set_title(lines[0])
    pdf.set_margins(18, 18, 18)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, lines[0], new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, lines[1], new_x="LMARGIN", new_y="NEXT")
    for line in lines[2:]:
        if _is_heading(line):
            pdf.ln(3)
            pdf.set_font("Helvetica", "B", 12)
            pdf.cell(0, 8, line[3:], new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("Helvetica", "", 10)
        else:
            pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    if hidden:
        # White 1-point text: invisible to a reader, visible to a naive text extractor.
        pdf.set_text_color(255, 255, 255)
        pdf.set_font("Helvetica", "", 1)
        pdf.multi_cell(0, 1, hidden, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def render_docx(lines: list[str]) -> bytes:
    import docx

    document = docx.Document()
    props = document.core_properties
    props.author, props.title = "hireserve examples", lines[0]
    props.created = props.modified = FIXED_DATE.replace(tzinfo=None)
    props.last_modified_by, props.revision = "hireserve examples", 1
    document.add_heading(lines[0], level=0)
    document.add_paragraph(lines[1])
    for line in lines[2:]:
        if _is_heading(line):
            document.add_heading(line[3:], level=1)
        elif line.startswith("- "):
            document.add_paragraph(line[2:], style="List Bullet")
        else:
            document.add_paragraph(line)
    buffer = io.BytesIO()
    document.save(buffer)
    return _normalize_zip(buffer.getvalue())


def _normalize_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps and attributes (python-docx stamps the time)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename), compresslevel=9)
    return out.getvalue()


def build() -> dict[str, bytes]:
    """Relative path -> file content, for every example."""
    files = {f"jobs/{name}.txt": text.encode() for name, text in JOBS.items()}
    for name, (fmt, lines) in RESUMES.items():
        if fmt == "pdf":
            hidden = HIDDEN_INJECTION if name == "eve_hidden_text" else None
            data = render_pdf(lines, hidden)
        elif fmt == "docx":
            data = render_docx(lines)
        elif fmt == "md":
            data = render_markdown(lines).encode()
        else:
            data = render_text(lines).encode()
        files[f"resumes/{name}.{fmt}"] = data
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="folder that receives jobs/ and resumes/ (default: examples/)")
    out = parser.parse_args(argv).out
    for rel, data in build().items():
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{path} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
