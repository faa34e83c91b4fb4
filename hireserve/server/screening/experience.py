"""Dated roles in a resume: the years its experience spans, read from its own date ranges.

    dated_roles(lines) -> DatedRoles   ranges such as "2017 - 2020", "03/2019 – present",
                                       "2019年3月 - 至今", merged where they overlap

The explanation states these facts ("dated roles span 2017-2025, about 8 years") instead of
letting a model guess them. Only years (and a month where one sits next to the year) are
read; a range must be on one line, and "present" is this year.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass

_YEAR = r"(?:19[5-9]\d|20[0-4]\d)"
_MONTH_NUM = r"(?:0?[1-9]|1[0-2])"
# A date: "2019", "03/2019", "3.2019", "2019-03", "2019年3月", "Mar 2019" (month names are
# skipped over: the year alone places the role well enough for a span in years).
_DATE = (rf"(?:(?P<{{p}}m1>{_MONTH_NUM})[/.](?P<{{p}}y1>{_YEAR})"
         rf"|(?P<{{p}}y2>{_YEAR})(?:[-/.](?P<{{p}}m2>{_MONTH_NUM})(?!\d)|年(?:(?P<{{p}}m3>{_MONTH_NUM})月)?)?)")
_PRESENT = (r"present|current|now|today|ongoing|至今|现在|目前|今|actualidad|presente|hoy"
            r"|aujourd(?:'|’)hui|présent|heute|jetzt|laufend|atual|attuale|oggi|настоящее время"
            r"|по настоящее время|н\.в\.|현재|現在|الآن|حتى الآن")
_RANGE = re.compile(
    _DATE.format(p="a") + r"\s*(?:-|–|—|~|～|to|till|until|bis|à|a|au|hasta|至|到)\s*"
    + rf"(?:{_DATE.format(p='b')}|(?P<present>{_PRESENT}))",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class DatedRoles:
    count: int  # date ranges found (a role, a degree...)
    first_year: int | None
    last_year: int | None  # this year when a range runs to "present"
    years: float  # the union of the ranges, in years
    ongoing: bool


def _when(m: re.Match[str], p: str) -> float | None:
    year = m.group(f"{p}y1") or m.group(f"{p}y2")
    if year is None:
        return None
    month = m.group(f"{p}m1") or m.group(f"{p}m2") or m.group(f"{p}m3")
    return int(year) + ((int(month) - 1) / 12 if month else 0.0)


def dated_roles(lines: Iterable[str], today: datetime.date | None = None) -> DatedRoles:
    now = today or datetime.date.today()
    current = now.year + (now.month - 1) / 12
    spans: list[tuple[float, float]] = []
    ongoing = False
    for line in lines:
        for m in _RANGE.finditer(line):
            start = _when(m, "a")
            end = current if m.group("present") else _when(m, "b")
            if start is None or end is None or end < start or start > current:
                continue
            if m.group("present"):
                ongoing = True
            # A range of whole years ("2017 - 2020") covers the end year's part as well as
            # a "Jan 2017 - Jan 2020" one would: count it to the year's start, not its end.
            spans.append((start, min(end, current)))
    if not spans:
        return DatedRoles(0, None, None, 0.0, False)
    spans.sort()
    merged: list[list[float]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    years = sum(end - start for start, end in merged)
    return DatedRoles(len(spans), int(spans[0][0]), int(max(end for _, end in spans)),
                      round(years, 1), ongoing)
