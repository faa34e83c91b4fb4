"""Hostile documents, built by the tests: bombs that cost CPU or memory out of proportion to
their size, and seeded mutations of valid files for the readers' fuzz tests."""

from __future__ import annotations

import io
import random
import zipfile

W_NS = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF of the given object bodies (numbered from 1; object 1 is the catalog), xref
    included."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


def flate_stream(data: bytes, extra: bytes = b"") -> bytes:
    import zlib

    packed = zlib.compress(data, 9)
    return (b"<< /Length %d /Filter /FlateDecode %s>>\nstream\n" % (len(packed), extra)
            + packed + b"\nendstream")


_PAGE = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
         b"/Resources << /Font << /F1 3 0 R >> %s>> /Contents %d 0 R >>")
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
TEXT_OPS = b"BT /F1 12 Tf 72 700 Td (Jane Doe, Python developer) Tj ET\n"


def shared_content_pdf(pages: int = 10, content_bytes: int = 3_300_000,
                       unit: bytes = b"1 0 0 1 0 0 cm 0 0 m\n") -> bytes:
    """The issue's 7 KB PDF: `pages` pages that all draw one content stream of
    `content_bytes` operators (flate makes it a few KB)."""
    content = TEXT_OPS + unit * (content_bytes // len(unit))
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
               _FONT, flate_stream(content)]
    objects += [_PAGE % (b"", 4) for _ in range(pages)]
    return raw_pdf(objects)


def many_pages_pdf(pages: int = 5000) -> bytes:
    """`pages` pages sharing one small content stream."""
    return shared_content_pdf(pages, content_bytes=0)


def xobject_pdf(depth: int = 1, fanout: int = 1, inner: bytes = TEXT_OPS) -> bytes:
    """One page that draws form XObject /X0 `fanout` times; each form draws the next level
    `fanout` times, `depth` levels deep (fanout**depth draws of `inner`)."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
               _FONT, _PAGE % (b"/XObject << /X0 6 0 R >> ", 5)]
    objects.append(flate_stream(b"q /X0 Do Q\n" * fanout))
    for level in range(depth):
        last = level == depth - 1
        body = inner if last else b"q /X0 Do Q\n" * fanout
        resources = (b"/Resources << /Font << /F1 3 0 R >> >>" if last else
                     b"/Resources << /XObject << /X0 %d 0 R >> >>" % (7 + level))
        objects.append(flate_stream(body, b"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
                                          + resources + b" "))
    return raw_pdf(objects)


def minimal_docx(body_xml: str, extra_parts: dict[str, bytes] | None = None) -> bytes:
    """A DOCX with just the parts Word needs; `body_xml` goes inside <w:body>."""
    parts = {
        "[Content_Types].xml": (
            b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats'
            b'.org/package/2006/content-types"><Default Extension="rels" ContentType="applicati'
            b'on/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" Content'
            b'Type="application/xml"/><Override PartName="/word/document.xml" ContentType="appli'
            b'cation/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            b'</Types>'),
        "_rels/.rels": (
            b'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxml'
            b'formats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schem'
            b'as.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="wo'
            b'rd/document.xml"/></Relationships>'),
        "word/document.xml": (f'<?xml version="1.0" encoding="UTF-8"?><w:document {W_NS}>'
                              f"<w:body>{body_xml}</w:body></w:document>").encode(),
        **(extra_parts or {}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in parts.items():
            archive.writestr(_info(name), data)
    return buffer.getvalue()


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0))  # fixed date: the same bytes each run
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def many_runs_docx(runs: int) -> bytes:
    """One paragraph of `runs` hidden runs: no visible text to stop at, all work."""
    run = '<w:r><w:rPr><w:vanish/></w:rPr><w:t>x</w:t></w:r>'
    return minimal_docx("<w:p><w:r><w:t>Jane Doe</w:t></w:r>" + run * runs + "</w:p>")


# -- seeded mutations -------------------------------------------------------------------------

_TOKENS = [b"<", b">", b'"', b"/", b"0", b"-1", b"99999999", b" R", b"obj", b"endobj", b"<<",
           b">>", b"[", b"]", b"(", b")", b"\x00", b"\xff\xfe", b"&amp;", b"<!--", b"/>"]


def mutate_bytes(rng: random.Random, data: bytes, edits: int = 8) -> bytes:
    """Up to `edits` byte flips, deletions, duplications and syntax-token insertions."""
    out = bytearray(data)
    for _ in range(rng.randint(1, edits)):
        if not out:
            break
        i = rng.randrange(len(out))
        op = rng.random()
        if op < 0.4:
            out[i] = rng.randrange(256)
        elif op < 0.6:
            del out[i:i + rng.randint(1, 64)]
        elif op < 0.8:
            j = rng.randrange(len(out))
            out[i:i] = out[j:j + rng.randint(1, 64)]
        else:
            out[i:i] = rng.choice(_TOKENS)
    return bytes(out)


def mutate_docx(rng: random.Random, data: bytes) -> bytes:
    """Mutates one XML part inside the zip (or drops it), sometimes the zip itself too."""
    source = zipfile.ZipFile(io.BytesIO(data))
    names = [info.filename for info in source.infolist()]
    victim = rng.choice([n for n in names if n.endswith((".xml", ".rels"))])
    drop = rng.random() < 0.1
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            part = source.read(name)
            if name == victim:
                if drop:
                    continue
                part = mutate_bytes(rng, part)
            archive.writestr(_info(name), part)
    mutated = buffer.getvalue()
    return mutate_bytes(rng, mutated, edits=3) if rng.random() < 0.1 else mutated
