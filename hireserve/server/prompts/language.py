"""Name the language of a text from its Unicode scripts, and turn BCP-47 tags into names.

Scripts separate most languages a resume arrives in (Han, kana, Hangul, Arabic, Cyrillic...).
Latin-script languages are told apart by a handful of very common words; anything else Latin
is English, which is also the answer for empty text.
"""

from __future__ import annotations

import re
from collections import Counter

# (first code point, last code point, script)
_RANGES: tuple[tuple[int, int, str], ...] = (
    (0x0041, 0x024F, "latin"),
    (0x0370, 0x03FF, "greek"),
    (0x0400, 0x052F, "cyrillic"),
    (0x0590, 0x05FF, "hebrew"),
    (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"),
    (0x0900, 0x097F, "devanagari"),
    (0x0980, 0x09FF, "bengali"),
    (0x0E00, 0x0E7F, "thai"),
    (0x10A0, 0x10FF, "georgian"),
    (0x1100, 0x11FF, "hangul"),
    (0x3040, 0x30FF, "kana"),
    (0x3400, 0x4DBF, "han"),
    (0x4E00, 0x9FFF, "han"),
    (0xAC00, 0xD7AF, "hangul"),
    (0xF900, 0xFAFF, "han"),
    (0xFB50, 0xFDFF, "arabic"),
    (0xFE70, 0xFEFF, "arabic"),
)
_SCRIPT_LANGUAGE = {
    "greek": "el",
    "cyrillic": "ru",
    "hebrew": "he",
    "arabic": "ar",
    "devanagari": "hi",
    "bengali": "bn",
    "thai": "th",
    "georgian": "ka",
    "hangul": "ko",
}
_LATIN_HINTS = {
    "en": {"the", "and", "with", "of", "for", "experience", "skills", "in"},
    "es": {"de", "la", "el", "y", "con", "experiencia", "en", "para", "los"},
    "fr": {"le", "la", "et", "des", "avec", "expérience", "pour", "les", "compétences"},
    "de": {"der", "die", "und", "mit", "erfahrung", "für", "das", "kenntnisse"},
    "pt": {"de", "e", "com", "experiência", "para", "os", "em", "do", "da"},
    "it": {"di", "e", "con", "esperienza", "per", "il", "della", "competenze"},
    "nl": {"de", "het", "en", "met", "ervaring", "voor", "van", "een"},
}
LANGUAGE_NAMES = {
    "en": "English", "zh": "Chinese", "zh-cn": "Simplified Chinese",
    "zh-hans": "Simplified Chinese", "zh-tw": "Traditional Chinese",
    "zh-hant": "Traditional Chinese", "ja": "Japanese", "ko": "Korean", "ar": "Arabic",
    "ru": "Russian", "he": "Hebrew", "th": "Thai", "hi": "Hindi", "bn": "Bengali",
    "el": "Greek", "ka": "Georgian", "es": "Spanish", "fr": "French", "de": "German",
    "pt": "Portuguese", "it": "Italian", "nl": "Dutch", "uk": "Ukrainian", "fa": "Persian",
    "tr": "Turkish", "vi": "Vietnamese", "id": "Indonesian", "pl": "Polish",
}  # fmt: skip
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_SAMPLE_CHARS = 20_000  # the first pages name the language as well as the whole resume


def _script(ch: str) -> str | None:
    cp = ord(ch)
    for first, last, script in _RANGES:
        if first <= cp <= last:
            return script if script != "latin" or ch.isalpha() else None
    return None


def detect_language(text: str) -> str:
    """A BCP-47 primary tag such as "zh", "ja", "ar" or "en" for the text's main language."""
    sample = text[:_SAMPLE_CHARS]
    counts = Counter(s for s in map(_script, sample) if s)
    if not counts:
        return "en"
    # Japanese mixes kana with Han; any real share of kana means Japanese, not Chinese.
    if counts["kana"] and counts["kana"] >= 0.1 * (counts["kana"] + counts["han"]):
        counts["han"] += counts.pop("kana")
        language = _top(counts, sample)
        return "ja" if language == "zh" else language
    return _top(counts, sample)


def _top(counts: Counter[str], sample: str = "") -> str:
    # Letters of cased scripts outnumber CJK characters per word: weigh CJK up a little.
    weighted = {s: n * (2 if s in ("han", "kana", "hangul") else 1) for s, n in counts.items()}
    script = max(weighted, key=lambda s: weighted[s])
    if script in ("han", "kana"):
        return "zh" if script == "han" else "ja"
    if script == "latin":
        words = Counter(re.findall(r"[^\W\d_]+", sample.lower()))
        scores = {lang: sum(words[w] for w in hints) for lang, hints in _LATIN_HINTS.items()}
        best = max(scores, key=lambda lang: scores[lang])
        return best if scores[best] > scores["en"] else "en"
    return _SCRIPT_LANGUAGE.get(script, "en")


def validate_language_tag(tag: str) -> str:
    """The tag, normalised to lower case; ValueError if it is not BCP-47 shaped."""
    if not _TAG.match(tag):
        raise ValueError("output_language must be a BCP-47 tag such as 'en' or 'zh-CN'")
    return tag.lower()


def language_name(tag: str) -> str:
    """An English name for the prompt, e.g. "zh-CN" -> "Simplified Chinese"."""
    tag = validate_language_tag(tag)
    return LANGUAGE_NAMES.get(tag) or LANGUAGE_NAMES.get(tag.split("-")[0]) or f"language '{tag}'"


def resolve_output_language(requested: str, resume_text: str) -> str:
    """The request's tag when given, else the resume's detected language."""
    return validate_language_tag(requested) if requested else detect_language(resume_text)
