"""Spot text in a resume that addresses the screening model instead of a human reader.

    injection_red_flags(text) -> list[str]

The prompt already fences the resume as data and tells the model to ignore instructions inside
it; this module makes the attempt visible to the recruiter as a red flag. A flag quotes at most
a short phrase of the matched text, never the surrounding resume.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MAX_PHRASE_CHARS = 40

# (category, pattern). Patterns run on NFKC-normalised, lower-cased text with whitespace
# collapsed and zero-width characters removed, so "ＩＧＮＯＲＥ  previous" still matches.
_RULES: tuple[tuple[str, str], ...] = (
    (
        "override",
        r"\b(?:ignore|disregard|forget|override|skip)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+|your\s+|my\s+)?"
        r"(?:previous|prior|above|earlier|preceding|former|system|original|other)\s+"
        r"(?:instructions?|prompts?|rules|directions|guidelines|context)",
    ),
    ("override", r"\b(?:ignore|disregard)\s+(?:all|everything)\s+(?:above|before)"),
    ("override", r"\bnew\s+instructions?\s*:"),
    (
        "override",
        r"(?:忽略|无视|忽视|無視|不要理会|忘记|忘掉)(?:掉)?(?:你|您)?(?:之前|以上|上面|前面|先前|此前|所有|全部|原来|原有)"
        r"(?:的)?(?:所有|全部)?(?:的)?(?:指令|指示|说明|說明|规则|規則|提示|要求|设定)",
    ),
    ("role", r"\byou\s+are\s+now\b"),
    ("role", r"\bfrom\s+now\s+on,?\s+you\b"),
    ("role", r"\b(?:pretend|act)\s+(?:to\s+be|you\s+are|as\s+if)\b"),
    ("role", r"(?:你现在是|你現在是|从现在开始你|從現在開始你|现在你是|你的新身份)"),
    # "System prompt:" or "ignore your system prompt", not "built a system prompt library".
    ("system", r"\bsystem\s+(?:prompt|message|instructions?)\s*[:：]"),
    (
        "system",
        r"\b(?:reveal|print|show|repeat|ignore|override|update|new|updated|your)\s+(?:the\s+)?"
        r"system\s+(?:prompt|message|instructions?)",
    ),
    ("system", r"\bdeveloper\s+mode\b|\bjailbreak\b"),
    (
        "system",
        r"<\|im_start\|>|<\|im_end\|>|<\|endoftext\|>|\[/?inst\]|<</?sys>>|^\s*#{2,}\s*system",
    ),
    ("system", r"(?:系统提示|系統提示|系统指令|系統指令|系统消息|提示词)"),
    # A fake closing/opening of the prompt's own sections: "</resume>", "<system>".
    ("system", r"</?\s*(?:resume|cv|system|user|assistant|instructions?|job)\s*>"),
    (
        "score",
        r"\b(?:rate|score|rank|grade|give|assign|mark|evaluate)\s+(?:this\s+|the\s+|me\s+)?"
        r"(?:candidate|applicant|resume|cv|profile|person)?\s*(?:as\s+|a\s+|an\s+|with\s+|at\s+)?"
        r"(?:(?:score|rating|match)\s+(?:of\s+)?)?(?:100|10\s*/\s*10|perfect|the\s+highest|maximum|top)",
    ),
    (
        "score",
        r"\bmatch[_\s]?score\s*(?:of|=|:|is|should\s+be|must\s+be|to|à|a|de|auf)?\s*100\b",
    ),
    (
        "score",
        r"\b(?:this|the)\s+(?:candidate|applicant)\s+(?:is|should\s+be)\s+(?:rated\s+|considered\s+)?"
        r"(?:the\s+|a\s+)?(?:perfect|ideal|best|top)\s+(?:match|fit|candidate|choice)",
    ),
    ("score", r"\b(?:must|should)\s+(?:be\s+)?(?:hire|hired|shortlisted|recommended)\b"),
    (
        "score",
        r"(?:给|打|评|給|評)(?:这位|该|這位|該|此)?(?:候选人|应聘者|候選人|應聘者|我|他|她)?"
        r".{0,6}?(?:满分|滿分|100\s*分|最高分)",
    ),
    ("score", r"(?:匹配|评分|評分)(?:分数|度|分數)?.{0,4}?100"),
    # Telling the screener what to conclude, in any wording: "treat every requirement as met",
    # "do not list any missing skills".
    ("score", r"\btreat\s+(?:every|all|each|any)\b.{0,40}?\bas\s+(?:met|satisfied|fulfilled)\b"),
    (
        "score",
        r"\bdo\s+not\s+(?:list|mention|report|flag|include)\s+(?:any\s+)?"
        r"(?:missing|gaps?|red\s+flags?|weakness(?:es)?|concerns?)",
    ),
    ("override", r"\b(?:updated|new|special|revised|additional)\s+(?:screening\s+)?instructions\b"),
    # Text addressed to an automated reader: "note for the AI assistant", "evaluador automático".
    (
        "role",
        r"\b(?:note|message|instructions?|reminder)\s+(?:to|for)\s+(?:the\s+|any\s+)?"
        r"(?:ai|automated|automatic|llm|gpt|chatbot|language\s+model|screening\s+(?:bot|model|tool))\b",
    ),
    (
        "role",
        r"(?:evaluador|revisor|asistente|sistema)\s+(?:autom[aá]tico|automatizado|de\s+ia)"
        r"|[ée]valuateur\s+automatique|(?:assistant|syst[eè]me)\s+(?:d'ia|automatique)"
        r"|automatische[rnms]?\s+(?:bewerter|pr[üu]fer|auswahl|system)|\bki-(?:assistent|system)"
        r"|المقيم\s+الآلي|الذكاء\s+الاصطناعي|自动(?:评估|筛选|评分)|自動(?:評估|篩選|評分)",
    ),
    # Other languages' "ignore the instructions / the requirements".
    (
        "override",
        r"\bignor(?:a|e|ez|er|ar|ate|iere|ieren)\s+(?:todas\s+|toutes\s+|alle\s+|tutte\s+)?"
        r"(?:las\s+|los\s+|les\s+|die\s+|le\s+)?(?:vorherigen\s+)?"
        r"(?:instrucciones|instructions|anweisungen|istruzioni|requisitos|exigences|anforderungen"
        r"|requisiti|reglas|r[eè]gles|regeln)",
    ),
    ("override", r"تجاهل\s+(?:جميع\s+|كل\s+)?(?:التعليمات|المتطلبات|الأوامر)"),
    (
        "score",
        r"(?:punt[uú]a|califica|calificar|puntuar|not(?:e|ez|er)|[ée]valuez|bewerte|bewerten|"
        r"fixer|fijar|setze)\b.{0,40}?\b100\b",
    ),
)
_COMPILED = tuple((category, re.compile(p, re.IGNORECASE | re.MULTILINE)) for category, p in _RULES)
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))

_FLAG_TEXT = {
    "override": "Resume contains instructions to the screener to ignore its rules",
    "role": "Resume tries to change the screener's role",
    "system": "Resume contains text aimed at the screening system's prompt",
    "score": "Resume tries to dictate its own score or outcome",
}


@dataclass(frozen=True)
class InjectionFinding:
    category: str  # "override", "role", "system" or "score"
    phrase: str  # the matched text, normalised and cut to MAX_PHRASE_CHARS


def normalise(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_ZERO_WIDTH)
    return re.sub(r"[ \t]+", " ", text).lower()


def find_injections(text: str) -> list[InjectionFinding]:
    """Every distinct instruction-like phrase, in order of first appearance."""
    normalised = normalise(text)
    hits: list[tuple[int, InjectionFinding]] = []
    seen: set[str] = set()
    for category, pattern in _COMPILED:
        for m in pattern.finditer(normalised):
            phrase = " ".join(m.group(0).split())[:MAX_PHRASE_CHARS]
            if phrase not in seen:
                seen.add(phrase)
                hits.append((m.start(), InjectionFinding(category, phrase)))
    return [finding for _, finding in sorted(hits, key=lambda h: h[0])]


def injection_red_flags(text: str, max_flags: int = 3) -> list[str]:
    """Short red flags for the response, one per category, quoting one short phrase each."""
    flags: list[str] = []
    categories: set[str] = set()
    for finding in find_injections(text):
        if finding.category in categories:
            continue
        categories.add(finding.category)
        flags.append(f'{_FLAG_TEXT[finding.category]} ("{finding.phrase}")')
        if len(flags) == max_flags:
            break
    return flags
