"""Blind screening: remove what identifies a candidate or invites bias, before the model reads.

    redact(text) -> Redaction(text, counts)

Replaces names, e-mails, phone numbers, URLs, dates of birth, age, gender and marital status
with placeholders such as "[EMAIL]". Only counts per category leave this module, never values.
Rules are regular expressions over English and Chinese labels; they favour over-redaction.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

# Category names match RedactionCategory in proto/hireserve/v1/screening.proto (lower case).
NAME, EMAIL, PHONE, URL = "name", "email", "phone", "url"
DATE_OF_BIRTH, AGE, GENDER, MARITAL_STATUS = "date_of_birth", "age", "gender", "marital_status"
CATEGORIES = (NAME, EMAIL, PHONE, URL, DATE_OF_BIRTH, AGE, GENDER, MARITAL_STATUS)


@dataclass(frozen=True)
class Redaction:
    text: str
    counts: dict[str, int] = field(default_factory=dict)  # category -> values replaced

    def __repr__(self) -> str:  # never the text
        return f"Redaction(chars={len(self.text)}, counts={self.counts})"


# The lookbehind starts a match only where a run of local-part characters starts: without it a
# 400K-character word was tried from each of its positions (quadratic: minutes of CPU).
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>()\[\]{}\"']+"
    r"|\b(?:linkedin\.com|github\.com|gitlab\.com|twitter\.com|x\.com|medium\.com)/[^\s<>()\"']*",
    re.IGNORECASE,
)
# Candidate phone numbers; _looks_like_phone rejects dates and year ranges.
_PHONE = re.compile(
    r"(?<![\w/])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d[\d\s.-]{6,18}\d(?!\w)"
)
_DATE = (
    r"(?:\d{4}\s*[-/.年]\s*\d{1,2}(?:\s*[-/.月]\s*\d{1,2}\s*日?)?"
    r"|\d{1,2}\s*[-/.]\s*\d{1,2}\s*[-/.]\s*\d{2,4}"
    r"|\d{1,2}(?:st|nd|rd|th)?\s+[A-Za-z]{3,9}\.?,?\s+\d{4}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4})"
)
_SEP = r"\s*[:：]?\s*"
_DOB = re.compile(
    r"(?P<label>\b(?:date\s+of\s+birth|birth\s*date|birthday|d\.?o\.?b\.?|born(?:\s+on)?)\b"
    r"|出生日期|出生年月|生日)" + _SEP + r"(?P<value>" + _DATE + r")",
    re.IGNORECASE,
)
_AGE = re.compile(
    r"(?P<label>\bage\b|年龄|年齡)" + _SEP + r"(?P<value>\d{1,2}(?:\s*(?:years|yrs|岁|歲))?)"
    r"|(?P<value2>\b\d{1,2}[\s-]*(?:years?|yrs?)[\s-]*old\b|\d{1,2}\s*(?:岁|歲|周岁))",
    re.IGNORECASE,
)
_GENDER = re.compile(
    r"(?P<label>\b(?:gender|sex|pronouns)\b|性别|性別)"
    + _SEP
    + r"(?P<value>(?:fe)?male|man|woman|non[\s-]?binary|[mf]\b|(?:she|he|they)/\w+|男|女)",
    re.IGNORECASE,
)
# Unlabelled declarations ("Female, 34, married", "(she/her)"): words that in a resume almost only
# ever describe the candidate. "single" and "man" are left alone: "single sign-on", "man-hours".
_GENDER_BARE = re.compile(r"\b(?:fe)?male\b|\b(?:she/her|he/him|they/them)(?:/\w+)?\b",
                          re.IGNORECASE)
_MARITAL_BARE = re.compile(r"\b(?:married|divorced|widowed)\b", re.IGNORECASE)
_MARITAL = re.compile(
    r"(?P<label>\bmarital\s+status\b|\bfamily\s+status\b|婚姻状况|婚姻狀況|婚否)"
    + _SEP
    + r"(?P<value>single|married|divorced|widowed|separated|engaged|in a relationship"
    r"|未婚|已婚|离异|離異|丧偶|已婚已育|已婚未育)",
    re.IGNORECASE,
)
_NAME_LABEL = re.compile(r"(?im)^[\s*#>-]*(?:full\s+)?name\s*[:：]\s*(?P<value>[^\n|,;]{2,60})$")
_NAME_LABEL_ZH = re.compile(r"(?m)^[\s*#>-]*姓\s*名\s*[:：]\s*(?P<value>[^\n|,;，]{2,30})")
_HEADINGS = {
    "resume", "résumé", "cv", "curriculum vitae", "profile", "summary", "contact",
    "简历", "個人簡歷", "个人简历", "履歴書", "이력서", "السيرة الذاتية",
}  # fmt: skip
_NAME_WORD = re.compile(r"^[^\W\d_][^\W\d_.'’-]*(?:[.'’-][^\W\d_]*)*\.?$", re.UNICODE)


def _looks_like_phone(candidate: str) -> bool:
    groups = re.findall(r"\d+", candidate)
    digits = sum(len(g) for g in groups)
    if not 9 <= digits <= 15:
        return False
    # "2015.01 - 2019.12" or "2015-2019": years with 1-2 digit parts are dates, not phones.
    is_year = [len(g) == 4 and g[:2] in ("19", "20") for g in groups]
    date_like = all(y or len(g) <= 2 for g, y in zip(groups, is_year, strict=True))
    return not (any(is_year) and date_like)


def _name_from_top(text: str) -> str | None:
    for m in (_NAME_LABEL.search(text), _NAME_LABEL_ZH.search(text)):
        if m:
            return m.group("value").strip()
    for raw in text.splitlines():
        line = raw.strip().strip("#*>_ ").strip()
        if not line:
            continue
        # "Jane Doe | jane@x.com" or "Jane Doe — Senior Engineer": the name is the first part.
        first = re.split(r"\s*[|•·,;/–—]\s*|\s+-\s+", line)[0].strip()
        return first if _is_name(first) else None
    return None


def _is_name(candidate: str) -> bool:
    if not candidate or candidate.lower() in _HEADINGS or len(candidate) > 60:
        return False
    if re.fullmatch(r"[\u4e00-\u9fff·]{2,5}", candidate):  # Chinese names: 2-4 Han characters
        return True
    words = candidate.split()
    if not 1 <= len(words) <= 5 or not all(_NAME_WORD.match(w) for w in words):
        return False
    # Cased scripts: every word capitalised ("Jane van Doe" allows lower-case particles).
    cased = [w for w in words if w[0].lower() != w[0].upper()]
    particles = {"van", "von", "de", "da", "del", "der", "di", "la", "le", "bin", "al", "ibn"}
    return all(w[0].isupper() or w.lower() in particles for w in cased) and len(words) >= (
        2 if cased else 1
    )


def redact(text: str) -> Redaction:
    counts: Counter[str] = Counter()

    def sub(pattern: re.Pattern[str], category: str, value_group: str | None = None) -> None:
        nonlocal text

        def replace(m: re.Match[str]) -> str:
            if category == PHONE and not _looks_like_phone(m.group(0)):
                return m.group(0)
            counts[category] += 1
            placeholder = f"[{category.upper()}]"
            group = value_group if value_group and m.group(value_group) else None
            if group is None and value_group and "value2" in pattern.groupindex:
                group = "value2" if m.group("value2") else None
            if group is None:
                return placeholder
            start, end = m.start(group) - m.start(), m.end(group) - m.start()
            whole = m.group(0)
            return whole[:start] + placeholder + whole[end:]

        text = pattern.sub(replace, text)

    name = _name_from_top(text)
    sub(_EMAIL, EMAIL)
    sub(_URL, URL)
    sub(_DOB, DATE_OF_BIRTH, "value")
    sub(_AGE, AGE, "value")
    sub(_GENDER, GENDER, "value")
    sub(_MARITAL, MARITAL_STATUS, "value")
    sub(_GENDER_BARE, GENDER)
    sub(_MARITAL_BARE, MARITAL_STATUS)
    sub(_PHONE, PHONE)
    if name:
        # The full name anywhere, then each part of it alone ("Ms. Doe", "Jane's team").
        parts = sorted({name, *(p for p in name.split() if len(p) >= 2)}, key=len, reverse=True)
        alternatives = "|".join(re.escape(p) for p in parts)
        boundary = "" if re.search(r"[\u4e00-\u9fff]", name) else r"\b"
        sub(re.compile(f"{boundary}(?:{alternatives}){boundary}"), NAME)
    return Redaction(text, {c: counts[c] for c in CATEGORIES if counts[c]})
