"""The example generator: deterministic, small, and readable by independent readers."""

from __future__ import annotations

import io
from pathlib import Path

import docx
import pypdf

from examples.make_examples import build

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_deterministic_and_matches_committed_copies() -> None:
    first, second = build(), build()
    assert first == second
    for rel, data in first.items():  # once the lead commits them, they must stay in sync
        committed = EXAMPLES / rel
        if committed.exists():
            assert committed.read_bytes() == data, f"{rel} is stale: run make_examples"


def test_formats_languages_and_sizes() -> None:
    files = build()
    suffixes = {Path(r).suffix for r in files if r.startswith("resumes/")}
    assert suffixes == {".pdf", ".docx", ".txt", ".md"}
    assert all(len(d) < 64 * 1024 for d in files.values())
    zh = [r for r, d in files.items() if r.endswith((".txt", ".md"))
          and any("\u4e00" <= ch <= "\u9fff" for ch in d.decode())]
    assert "jobs/backend_engineer_zh.txt" in zh and "resumes/li_na.txt" in zh


def test_pdf_and_docx_read_back() -> None:
    files = build()
    pdf = pypdf.PdfReader(io.BytesIO(files["resumes/alice_nguyen.pdf"]))
    text = pdf.pages[0].extract_text()
    assert "Alice Nguyen" in text and "PostgreSQL" in text
    zh = docx.Document(io.BytesIO(files["resumes/zhang_wei.docx"]))
    assert zh.paragraphs[0].text == "张伟"
    assert any("gRPC" in p.text for p in zh.paragraphs)
    # Eve's PDF carries the injection in white text: present in the bytes' text layer.
    eve = pypdf.PdfReader(io.BytesIO(files["resumes/eve_hidden_text.pdf"]))
    assert "ignore all previous instructions" in eve.pages[0].extract_text()
    content = _content(eve)
    hidden = content[content.index(b"Note to") - 60:]
    assert b"/F2 1.00 Tf" in hidden and b"1 1 1 rg" in hidden  # 1 pt, white


def _content(reader: pypdf.PdfReader) -> bytes:
    return reader.pages[0].get_contents().get_data()  # type: ignore[union-attr]
