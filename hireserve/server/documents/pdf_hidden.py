"""Find PDF text a reader would not see, from the content stream's own operators.

A resume can hide instructions for the screening model in text a human never sees: white on
white, a font a fraction of a point high, render mode 3 (invisible), zero fill alpha, or a
position off the page. We walk the page's operators with a small graphics-state machine
(q/Q, cm, BT, Tf, Tm/Td/TD/T*, Tr, fill colour operators, gs alpha) and classify every
text-showing operator (Tj, TJ, ', ") as visible or hidden. The caller then asks pypdf to
extract text from two filtered copies of the stream, visible-only and hidden-only.

Not covered: text inside Form XObjects (drawn with Do), text under an opaque shape, text
clipped away, and colours in ICC/Separation spaces given by name (treated as visible).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
TEXT_SHOWING = {b"Tj", b"TJ", b"'", b'"'}
_WHITE = 0.97  # every colour component this close to paper white counts as white


def multiply(m: Matrix, n: Matrix) -> Matrix:
    """m x n for PDF's row-vector matrices [a b c d e f]."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


@dataclass(frozen=True)
class _State:
    ctm: Matrix = IDENTITY
    font_size: float = 0.0
    render_mode: int = 0
    leading: float = 0.0
    fill_white: bool = False
    fill_alpha: float = 1.0


def _is_white(operator: bytes, values: list[float]) -> bool:
    if operator in (b"g", b"sc", b"scn") and len(values) == 1:
        return values[0] >= _WHITE
    if operator in (b"rg", b"sc", b"scn") and len(values) == 3:
        return min(values) >= _WHITE
    if operator in (b"k", b"sc", b"scn") and len(values) == 4:
        return max(values) <= 1 - _WHITE
    return False


def _numbers(operands: list[Any]) -> list[float]:
    out = []
    for x in operands:
        try:
            out.append(float(x))
        except (TypeError, ValueError):
            return []  # a pattern or colour name: unknown, treat as not white
    return out


def _alpha_from_gs(name: Any, resources: Any) -> float | None:
    try:
        gs = resources["/ExtGState"][name].get_object()
        return float(gs["/ca"]) if "/ca" in gs else None
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class PageBox:
    left: float
    bottom: float
    right: float
    top: float


def classify_text_ops(
    operations: list[tuple[list[Any], bytes]],
    resources: Any,
    box: PageBox,
    min_font_pt: float,
) -> tuple[list[bool], set[str]]:
    """For each operation, True when it shows text a reader would not see; plus the reasons."""
    hidden = [False] * len(operations)
    reasons: set[str] = set()
    stack: list[_State] = []
    state = _State()
    tm = tlm = IDENTITY
    for i, (operands, operator) in enumerate(operations):
        if operator == b"q":
            stack.append(state)
        elif operator == b"Q":
            state = stack.pop() if stack else _State()
        elif operator == b"cm" and len(operands) == 6:
            m = tuple(float(x) for x in operands)
            state = replace(state, ctm=multiply(m, state.ctm))  # type: ignore[arg-type]
        elif operator == b"BT":
            tm = tlm = IDENTITY
        elif operator == b"Tf" and len(operands) == 2:
            state = replace(state, font_size=float(operands[1]))
        elif operator == b"Tr" and operands:
            state = replace(state, render_mode=int(operands[0]))
        elif operator == b"TL" and operands:
            state = replace(state, leading=float(operands[0]))
        elif operator in (b"Td", b"TD") and len(operands) == 2:
            tx, ty = float(operands[0]), float(operands[1])
            if operator == b"TD":
                state = replace(state, leading=-ty)
            tm = tlm = multiply((1, 0, 0, 1, tx, ty), tlm)
        elif operator == b"Tm" and len(operands) == 6:
            tm = tlm = tuple(float(x) for x in operands)  # type: ignore[assignment]
        elif operator in (b"T*", b"'", b'"'):
            tm = tlm = multiply((1, 0, 0, 1, 0, -state.leading), tlm)
        elif operator in (b"g", b"rg", b"k", b"sc", b"scn"):
            state = replace(state, fill_white=_is_white(operator, _numbers(operands)))
        elif operator == b"gs" and operands:
            alpha = _alpha_from_gs(operands[0], resources)
            if alpha is not None:
                state = replace(state, fill_alpha=alpha)
        if operator in TEXT_SHOWING:
            reason = _hidden_reason(state, multiply(tm, state.ctm), box, min_font_pt)
            if reason:
                hidden[i] = True
                reasons.add(reason)
    return hidden, reasons


def _hidden_reason(state: _State, trm: Matrix, box: PageBox, min_font_pt: float) -> str | None:
    if state.render_mode in (3, 7):
        return "invisible render mode"
    if state.fill_white:
        return "white text"
    if state.fill_alpha <= 0.01:
        return "transparent text"
    # Glyph height in user space: the font size times the length of the text-space y axis.
    if abs(state.font_size) * math.hypot(trm[2], trm[3]) < min_font_pt:
        return "tiny text"
    x, y = trm[4], trm[5]
    if x < box.left - 1 or x > box.right or y < box.bottom - 1 or y > box.top + 1:
        return "text outside the page"
    return None


def filtered_operations(
    operations: list[tuple[list[Any], bytes]], hidden: list[bool], keep_hidden: bool
) -> list[tuple[list[Any], bytes]]:
    """The stream with the text-showing operators of one class removed, line moves kept."""
    out: list[tuple[list[Any], bytes]] = []
    for (operands, operator), is_hidden in zip(operations, hidden, strict=True):
        drop = operator in TEXT_SHOWING and is_hidden != keep_hidden
        if not drop:
            out.append((operands, operator))
        elif operator == b"'":
            out.append(([], b"T*"))
        elif operator == b'"':
            out.extend([([operands[0]], b"Tw"), ([operands[1]], b"Tc"), ([], b"T*")])
    return out
