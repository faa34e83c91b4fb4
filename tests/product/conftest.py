"""Fixtures of the product tests; the document builders live in tests/doc_factory.py."""

from __future__ import annotations

from pathlib import Path

import pytest

CJK_FONTS = [
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),
]


@pytest.fixture
def cjk_font() -> Path:
    for path in CJK_FONTS:
        if path.exists():
            return path
    pytest.skip("no CJK TrueType font on this machine: CJK is tested through the text path")
