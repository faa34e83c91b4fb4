"""Split a resume or a job description into lines: a job's requirements, a resume's evidence.

    split_lines(text) -> list[Line]

A line is one line of the text (a sentence hard-wrapped over several lines is joined back), or
one sentence of a long paragraph (so a requirement or a piece of evidence points at something
short). Bullet markers are stripped; the rest of the text
is kept verbatim, so the evidence shown to a recruiter is the resume's own words. Headings are
kept (with `heading=True`) because the model needs them ("Nice to have:", "Skills") but they are
never numbered. Lines left with nothing but redaction placeholders ("[NAME] | [EMAIL]"), and
short contact lines ("[EMAIL] | [PHONE] | Madrid"), are dropped: they carry no evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LONG_LINE_CHARS = 240  # a paragraph longer than this is split into sentences
MAX_HEADING_WORDS = 6

_BULLET = re.compile(r"^(?:[-*•·▪◦‣○●■□➢➤►✓✔]+|\d{1,2}[.)](?=\s)|\(\d{1,2}\))\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;。！？；])\s+(?=\S)|(?<=[。！？；])(?=\S)")
_PLACEHOLDER = re.compile(r"\[(?:NAME|EMAIL|PHONE|URL|DATE_OF_BIRTH|AGE|GENDER|MARITAL_STATUS)\]")
_CONTENT = re.compile(r"[^\W_]", re.UNICODE)
# Section names common in resumes and job descriptions, in English and Chinese; a short line
# that is one of them (with or without a colon) is a heading.
_SECTION_WORDS = re.compile(
    r"^(?:about(?: us| the (?:role|job|team|company))?|overview|summary|profile|objective"
    r"|(?:work |professional )?experience|employment(?: history)?|education|projects?"
    r"|(?:technical |core |key )?skills(?: and (?:tools|technologies))?|technologies|tools"
    r"|tech stack|stack|competencies|certifications?|languages|awards|publications|interests"
    r"|(?:key )?responsibilities|what you(?:'|’)ll do|the role|requirements?|qualifications"
    r"|(?:minimum|basic|preferred|required) qualifications|must[ -]haves?|nice[ -]to[ -]haves?"
    r"|bonus(?: points)?|preferred|desired|benefits|perks|what we offer|how to apply"
    r"|技能|专业技能|技术栈|工作经历|工作经验|项目经历|项目经验|教育经历|教育背景|个人简介"
    r"|岗位职责|工作职责|任职要求|岗位要求|加分项|优先|福利待遇|公司介绍)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Line:
    text: str
    heading: bool = False
    section: str = ""  # the text of the heading this line sits under ("" before any)
    number: int = 0  # 1-based line of the text it comes from (sentences share their line's)


def split_lines(text: str, *, list_titles: bool = False) -> list[Line]:
    """`list_titles`: also take a short line that introduces a bulleted list as a heading,
    whatever its words ("Profil recherché", "Se valorará", "任职要求（必须）"). Job descriptions
    are laid out so in every language; in resumes a short role line above its bullets is
    content ("Data Scientist, Acme, 2019-2021"), so resumes keep the default."""
    lines: list[Line] = []
    section = ""
    rows = _unwrapped(text)
    in_list = blank_after_list = False
    for i, (number, stripped) in enumerate(rows):
        if not stripped:
            blank_after_list = blank_after_list or in_list
        if not _CONTENT.search(_PLACEHOLDER.sub("", stripped)):
            continue  # blank, or nothing but placeholders ("[NAME]" is not a heading)
        if list_titles:
            # A paragraph after a list and a blank line belongs to no heading ("You will work
            # in English." under "Nice to have" is not one of its items).
            bullet = bool(_BULLET.match(stripped))
            if blank_after_list and not bullet:
                section = ""
            in_list, blank_after_list = bullet, False
        if is_heading(stripped) or (_titles_list(stripped, rows[i + 1:]) if list_titles
                                    else _short_title(stripped, rows[i + 1:])):
            section = _heading_text(stripped)
            lines.append(Line(section, heading=True, section=section, number=number))
            continue
        body = _BULLET.sub("", stripped, count=1).strip() or stripped
        for piece in _sentences(body):
            if _CONTENT.search(_PLACEHOLDER.sub("", piece)) and not _is_contact(piece):
                lines.append(Line(piece, section=section, number=number))
    return lines


_CONTACT = re.compile(r"\[(?:EMAIL|PHONE|URL)\]")
MAX_CONTACT_WORDS = 6


def _is_contact(piece: str) -> bool:
    """"[EMAIL] | [PHONE] | Madrid": a redacted contact line. It is never evidence, and a small
    model picks it for every requirement because it sits near the top (seen with Qwen2.5-0.5B).
    A sentence that mentions a redacted URL ("Built [URL], a marketplace for 2M users") stays."""
    if not _CONTACT.search(piece):
        return False
    words = [w for w in _PLACEHOLDER.sub(" ", piece).split() if _CONTENT.search(w)]
    return len(words) <= MAX_CONTACT_WORDS


def _unwrapped(text: str) -> list[tuple[int, str]]:
    """(line number, stripped text) with hard-wrapped sentences joined: a line that does not
    end a sentence, followed by one that starts in lower case ("...behind our payments" /
    "platform."), is one line, numbered as its first. PDFs wrap like this all the time."""
    out: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if (out and stripped[:1].islower() and out[-1][1]
                and not out[-1][1].endswith((".", "!", "?", ":", ";", "。", "：", "；"))
                and not is_heading(out[-1][1])):
            out[-1] = (out[-1][0], f"{out[-1][1]} {stripped}")
        else:
            out.append((number, stripped))
    return out


def is_heading(line: str) -> bool:
    """Markdown headings, short lines ending with a colon, short ALL-CAPS lines and known
    section names. A line with content after the colon ("Skills: Go, SQL") is not a heading."""
    if line.startswith("#"):
        return True
    if _BULLET.match(line):
        return False  # "- SQL" is an item of a list, not its title
    text = _heading_text(line)
    if not text:
        return False
    words = text.split()
    if len(words) > MAX_HEADING_WORDS:
        return False
    if line.rstrip().endswith((":", "：")):
        return True
    if _SECTION_WORDS.match(text):
        return True
    # "WORK EXPERIENCE", not "SQL" or "AWS" alone (acronyms are skills, not titles).
    letters = [c for c in text if c.isalpha()]
    return (all(c.isupper() for c in letters) and len(words) <= 4
            and (len(words) >= 2 or len(letters) >= 6))


MAX_TITLE_CHARS = 40


def _titles_list(line: str, after: list[tuple[int, str]]) -> bool:
    """A short line, not a sentence and not a list item itself, directly above a list item."""
    if _BULLET.match(line) or line.rstrip().endswith((".", "!", "?", ";", "。", "！", "？", "；")):
        return False
    text = _heading_text(line)
    if not text or len(text) > MAX_TITLE_CHARS or len(text.split()) > MAX_HEADING_WORDS:
        return False
    following = next((row for _, row in after if row), "")
    return bool(_BULLET.match(following))


MAX_SHORT_TITLE_WORDS = 3
_SHORT_TITLE = re.compile(r"[^\W\d_][^\d,;:.!?。，；：！？]*")


def _short_title(line: str, after: list[tuple[int, str]]) -> bool:
    """In a resume, a line of at most three words, no digits or punctuation, with more lines
    after it: a section title in any language ("Compétences", "Formation", "Erfahrung")."""
    text = line.strip()
    return (len(text.split()) <= MAX_SHORT_TITLE_WORDS and bool(_SHORT_TITLE.fullmatch(text))
            and any(row for _, row in after))


def _heading_text(line: str) -> str:
    return line.strip().strip("#*_=").strip().rstrip(":：").strip()


def _sentences(body: str) -> list[str]:
    if len(body) <= LONG_LINE_CHARS:
        return [body]
    return [s.strip() for s in _SENTENCE_END.split(body) if s.strip()]


# A "Skills" section, or a line that is a list of short keywords. Evidence from such a line is a
# claim without applied use: a requirement it alone shows counts as partial at most
# (screening/assess.py).
_SKILLS_SECTION = re.compile(
    r"skill|technolog|tools|stack|competenc|keyword|proficienc|技能|技术栈|专长"
    r"|compétence|competencia|competência|competenze|habilidad|conocimiento|kenntnisse"
    r"|fähigkeit|навык|スキル|기술|المهارات", re.IGNORECASE)
_LIST_SEPARATORS = re.compile(r"\s*[,;|•·/、，；]\s*")
_LABEL = re.compile(r"^[^:：]{1,40}[:：]\s*")
MIN_LIST_ITEMS = 4
MAX_ITEM_WORDS = 3


def is_skills_list(line: Line) -> bool:
    if _SKILLS_SECTION.search(line.section):
        return True
    label = _LABEL.match(line.text)
    if label and _SKILLS_SECTION.search(label.group(0)):
        return True
    items = [i for i in _LIST_SEPARATORS.split(_LABEL.sub("", line.text, count=1)) if i]
    if len(items) < MIN_LIST_ITEMS:
        return False
    words = [len(i.split()) for i in items]
    return max(words) <= MAX_ITEM_WORDS + 1 and sum(words) / len(words) <= MAX_ITEM_WORDS
