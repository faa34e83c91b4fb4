"""pytest runs with --import-mode=importlib, which leaves sys.path alone: put this folder on it
so the test modules can import their shared helpers (sched_helpers)."""

from __future__ import annotations

import sys
from pathlib import Path

_here = str(Path(__file__).resolve().parent)
if _here not in sys.path:
    sys.path.insert(0, _here)
