"""A job description's requirements: its own lines, sorted by the headings they sit under.

    job_sections(text)                 the title, then (heading, lines) in order
    select_requirements(sections, kinds, line_labels)
                                       the must-haves and nice-to-haves, capped, must first

Headings decide. A heading is read by a few common words ("Requirements", "Nice to have",
"Benefits", "任职要求", ...) where they settle it, and by the model (screening/job.py asks it)
for any other heading, in any language: "Profil recherché", "Se valorará". Lines under a
requirements heading are must-haves (one that says "a plus" or "preferred" is a nice-to-have),
lines under a preferred heading nice-to-haves; duties, the company, benefits, the title and a
"we are looking for..." paragraph are not requirements. A posting without a requirements or
preferred heading has its lines labelled one by one by the model; if none is a requirement,
every line is taken as a must-have and the rubric says so (`fallback`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hireserve.server.prompts.lines import Line, split_lines

MAX_REQUIREMENTS = 12  # one question each per resume
MAX_CANDIDATE_LINES = 40  # lines the model labels one by one in a posting without headings
MAX_TITLE_WORDS = 25  # "Comptable général(e) confirmé(e) – CDI – Lyon (groupe industriel, ...)"

# Section kinds. The model answers one of these for a heading no word list settles.
MUST, NICE, DUTIES, OTHER = "must", "nice", "duties", "other"
SECTION_KINDS = (MUST, NICE, DUTIES, OTHER)

_NICE = re.compile(
    r"nice[ -]to[ -]have|preferred|bonus|a plus|\bplus\b|desirable|ideally|optional"
    r"|优先|加分", re.IGNORECASE)
_MUST = re.compile(
    r"requirement|qualifications|must[ -]have|what you(?:'|’)?ll? (?:need|bring)|you have"
    r"|who you are|required|任职要求|岗位要求|任职资格", re.IGNORECASE)
_DUTIES = re.compile(
    r"responsibilit|dut(?:y|ies)|what you(?:'|’)?ll do|your role|the role|your mission"
    r"|岗位职责|工作职责|工作内容", re.IGNORECASE)
_OTHER = re.compile(
    r"about (?:us|the (?:company|team))|who we are|benefit|perks|what we offer|salary"
    r"|compensation|how to apply|location|福利|待遇|公司介绍|关于我们", re.IGNORECASE)


@dataclass(frozen=True)
class Section:
    heading: str  # "" for the lines before any heading (an introduction)
    lines: tuple[Line, ...]


def job_sections(text: str) -> tuple[str, list[Section]]:
    """(title, sections). The first line is the job's title when it is short, not a sentence,
    and more lines follow; it is never a requirement."""
    lines = split_lines(text, list_titles=True)
    title = ""
    if lines and not lines[0].heading and len(lines) > 1:
        first = lines[0].text
        if len(first.split()) <= MAX_TITLE_WORDS and not first.endswith((".", "。", "!", "?")):
            title, lines = first, lines[1:]
    sections: list[Section] = []
    for line in lines:
        if line.heading:
            sections.append(Section(line.text, ()))
            continue
        if not sections or sections[-1].heading != line.section:
            sections.append(Section(line.section, ()))
        last = sections[-1]
        sections[-1] = Section(last.heading, (*last.lines, line))
    return title, [s for s in sections if s.lines]


def heading_kind(heading: str) -> str | None:
    """The kind of a section by its heading's words, or None when only the model can tell."""
    if not heading:
        return None
    if _NICE.search(heading):
        return NICE
    if _MUST.search(heading):
        return MUST
    if _DUTIES.search(heading):
        return DUTIES
    if _OTHER.search(heading):
        return OTHER
    return None


@dataclass(frozen=True)
class RequirementLine:
    text: str
    importance: str  # MUST | NICE
    line: int  # 1-based line of the job description


@dataclass(frozen=True)
class Selection:
    items: tuple[RequirementLine, ...]
    fallback: bool  # nothing read as a requirement: every line taken as a must-have


def needs_line_labels(sections: Sequence[Section], kinds: Mapping[str, str]) -> bool:
    """True when no section is a requirements or preferred one: the model must label lines."""
    return not any(kinds.get(s.heading) in (MUST, NICE) for s in sections if s.heading)


def candidate_lines(sections: Sequence[Section]) -> list[Line]:
    """The lines the model labels one by one when headings decide nothing."""
    return [line for s in sections for line in s.lines]


def shown_text(text: str, sections: Sequence[Section]) -> str:
    """The part of the posting the model reads when it is asked about headings or lines: the
    text up to the last line it may be asked about (MAX_CANDIDATE_LINES). A posting of any
    length within the limit then fits the context, and costs what its first lines cost."""
    lines = candidate_lines(sections)
    if len(lines) <= MAX_CANDIDATE_LINES:
        return text
    return "\n".join(text.splitlines()[: lines[MAX_CANDIDATE_LINES - 1].number])


def line_label(text: str) -> str:
    """A line the model read as a requirement: a nice-to-have when it says so itself."""
    return NICE if _NICE.search(text) else MUST


def select_requirements(sections: Sequence[Section], kinds: Mapping[str, str],
                        line_labels: Mapping[int, str] | None = None) -> Selection:
    """`kinds`: heading -> section kind (the word lists' and the model's answers together);
    `line_labels`: line number -> MUST | NICE | OTHER, when `needs_line_labels`."""
    chosen: list[tuple[int, int, RequirementLine]] = []
    order = 0
    for section in sections:
        kind = kinds.get(section.heading) if section.heading else None
        for line in section.lines:
            order += 1
            if line_labels is not None:
                label = line_labels.get(line.number, OTHER)
            elif kind in (MUST, NICE):
                label = NICE if kind == NICE else line_label(line.text)
            else:
                label = OTHER
            if label in (MUST, NICE):
                chosen.append((0 if label == MUST else 1, order,
                               RequirementLine(line.text, label, line.number)))
    fallback = not chosen
    if fallback:
        chosen = [(0, i, RequirementLine(line.text, MUST, line.number))
                  for i, line in enumerate(candidate_lines(sections))]
    chosen.sort(key=lambda c: (c[0], c[1]))  # must-haves first, each in the posting's order
    return Selection(tuple(r for _, _, r in chosen[:MAX_REQUIREMENTS]), fallback)
