"""The summary and experience evaluation of a Screen, written from the verdicts, not by a model.

    explain(assessments, roles, language) -> Explanation

Every sentence states a computed fact: how many must-haves and nice-to-haves the resume shows,
which are missing or only listed as skills, the strongest evidence line (quoted verbatim), and
the years its date ranges span. Nothing is invented, nothing repeats, nothing is in the first
person. Templates exist for the languages below; any other output language gets English, and
the response's `output_language` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hireserve.server.screening.experience import DatedRoles
from hireserve.server.screening.verdicts import Assessment, Verdict

MAX_LISTED = 4  # requirement labels named in one sentence; the rest are counted
MAX_QUOTE_CHARS = 160


@dataclass(frozen=True)
class Explanation:
    summary: str
    experience_evaluation: str
    language: str  # the language the sentences are in (English when no template exists)


# One dict per language. Placeholders: {met}, {total}, {labels}, {more}, {quote}, {count},
# {first}, {last}, {years}.
_TEMPLATES: dict[str, dict[str, str]] = {
    "en": {
        "must": "Meets {met} of {total} must-have requirements.",
        "must_none": "The job description states no must-have requirement.",
        "nice": "Shows {met} of {total} nice-to-haves.",
        "missing": "Not shown: {labels}{more}.",
        "partial": "Partly shown: {labels}{more}.",
        "listed": "Only listed as skills, not shown in work: {labels}{more}.",
        "more": " and {count} more",
        "sep": ", ",
        "evidence": "Strongest evidence: “{quote}”.",
        "roles": "Date ranges in the resume span {first}–{last}, about {years} years.",
        "no_roles": "The resume gives no date ranges for its experience.",
    },
    "zh": {
        "must": "满足 {total} 项必备要求中的 {met} 项。",
        "must_none": "职位描述中没有列出必备要求。",
        "nice": "具备 {total} 项加分项中的 {met} 项。",
        "missing": "未体现：{labels}{more}。",
        "partial": "部分体现：{labels}{more}。",
        "listed": "仅列于技能清单，工作经历中未体现：{labels}{more}。",
        "more": "等另外 {count} 项",
        "sep": "、",
        "evidence": "最有力的依据：“{quote}”。",
        "roles": "简历中的时间段从 {first} 年到 {last} 年，约 {years} 年。",
        "no_roles": "简历中没有给出工作经历的时间段。",
    },
    "es": {
        "must": "Cumple {met} de {total} requisitos imprescindibles.",
        "must_none": "La oferta no indica requisitos imprescindibles.",
        "nice": "Muestra {met} de {total} requisitos deseables.",
        "missing": "No se muestra: {labels}{more}.",
        "partial": "Se muestra en parte: {labels}{more}.",
        "listed": "Solo figura como competencia, sin experiencia que lo muestre: {labels}{more}.",
        "more": " y {count} más",
        "sep": ", ",
        "evidence": "Evidencia más sólida: «{quote}».",
        "roles": "Las fechas del currículum van de {first} a {last}, unos {years} años.",
        "no_roles": "El currículum no indica fechas de su experiencia.",
    },
    "fr": {
        "must": "Remplit {met} des {total} exigences indispensables.",
        "must_none": "L'offre n'indique aucune exigence indispensable.",
        "nice": "Présente {met} des {total} atouts souhaités.",
        "missing": "Non démontré : {labels}{more}.",
        "partial": "Démontré en partie : {labels}{more}.",
        "listed": "Seulement cité parmi les compétences, sans expérience qui le montre : "
                  "{labels}{more}.",
        "more": " et {count} de plus",
        "sep": ", ",
        "evidence": "Élément le plus probant : « {quote} ».",
        "roles": "Les dates du CV vont de {first} à {last}, soit environ {years} ans.",
        "no_roles": "Le CV ne donne pas de dates pour son expérience.",
    },
    "de": {
        "must": "Erfüllt {met} von {total} Muss-Anforderungen.",
        "must_none": "Die Stellenanzeige nennt keine Muss-Anforderung.",
        "nice": "Zeigt {met} von {total} Wunsch-Anforderungen.",
        "missing": "Nicht belegt: {labels}{more}.",
        "partial": "Teilweise belegt: {labels}{more}.",
        "listed": "Nur als Kenntnis aufgeführt, nicht durch Berufserfahrung belegt: "
                  "{labels}{more}.",
        "more": " und {count} weitere",
        "sep": ", ",
        "evidence": "Stärkster Beleg: „{quote}“.",
        "roles": "Die Zeitangaben im Lebenslauf reichen von {first} bis {last}, etwa {years} "
                 "Jahre.",
        "no_roles": "Der Lebenslauf nennt keine Zeiträume für die Berufserfahrung.",
    },
    "pt": {
        "must": "Cumpre {met} de {total} requisitos obrigatórios.",
        "must_none": "A vaga não indica requisitos obrigatórios.",
        "nice": "Mostra {met} de {total} requisitos desejáveis.",
        "missing": "Não demonstrado: {labels}{more}.",
        "partial": "Demonstrado em parte: {labels}{more}.",
        "listed": "Apenas listado como competência, sem experiência que o mostre: "
                  "{labels}{more}.",
        "more": " e mais {count}",
        "sep": ", ",
        "evidence": "Evidência mais forte: “{quote}”.",
        "roles": "As datas do currículo vão de {first} a {last}, cerca de {years} anos.",
        "no_roles": "O currículo não indica datas da experiência.",
    },
    "it": {
        "must": "Soddisfa {met} requisiti indispensabili su {total}.",
        "must_none": "L'annuncio non indica requisiti indispensabili.",
        "nice": "Mostra {met} requisiti preferenziali su {total}.",
        "missing": "Non dimostrato: {labels}{more}.",
        "partial": "Dimostrato in parte: {labels}{more}.",
        "listed": "Solo elencato tra le competenze, non dimostrato nel lavoro: {labels}{more}.",
        "more": " e altri {count}",
        "sep": ", ",
        "evidence": "Prova più forte: «{quote}».",
        "roles": "Le date del curriculum vanno dal {first} al {last}, circa {years} anni.",
        "no_roles": "Il curriculum non indica date per l'esperienza.",
    },
    "ja": {
        "must": "必須要件 {total} 件中 {met} 件を満たしています。",
        "must_none": "求人票に必須要件の記載はありません。",
        "nice": "歓迎要件 {total} 件中 {met} 件が示されています。",
        "missing": "示されていない要件：{labels}{more}。",
        "partial": "一部のみ示されている要件：{labels}{more}。",
        "listed": "スキル欄に記載があるのみで、職務経歴では示されていない要件：{labels}{more}。",
        "more": " ほか {count} 件",
        "sep": "、",
        "evidence": "最も有力な根拠：「{quote}」。",
        "roles": "履歴書の期間は {first} 年から {last} 年まで、約 {years} 年です。",
        "no_roles": "履歴書に職務経歴の期間の記載はありません。",
    },
    "ko": {
        "must": "필수 요건 {total}개 중 {met}개를 충족합니다.",
        "must_none": "채용 공고에 필수 요건이 없습니다.",
        "nice": "우대 요건 {total}개 중 {met}개가 확인됩니다.",
        "missing": "확인되지 않음: {labels}{more}.",
        "partial": "일부만 확인됨: {labels}{more}.",
        "listed": "기술 목록에만 있고 경력으로 확인되지 않음: {labels}{more}.",
        "more": " 외 {count}개",
        "sep": ", ",
        "evidence": "가장 강한 근거: “{quote}”.",
        "roles": "이력서의 기간은 {first}년부터 {last}년까지, 약 {years}년입니다.",
        "no_roles": "이력서에 경력 기간이 없습니다.",
    },
    "ru": {
        "must": "Соответствует {met} из {total} обязательных требований.",
        "must_none": "В вакансии нет обязательных требований.",
        "nice": "Показывает {met} из {total} желательных требований.",
        "missing": "Не показано: {labels}{more}.",
        "partial": "Показано частично: {labels}{more}.",
        "listed": "Только в списке навыков, без подтверждения опытом работы: {labels}{more}.",
        "more": " и ещё {count}",
        "sep": ", ",
        "evidence": "Самое сильное подтверждение: «{quote}».",
        "roles": "Даты в резюме охватывают {first}–{last}, около {years} лет.",
        "no_roles": "В резюме нет дат опыта работы.",
    },
    "ar": {
        "must": "يستوفي {met} من أصل {total} من المتطلبات الأساسية.",
        "must_none": "لا يذكر الوصف الوظيفي متطلبات أساسية.",
        "nice": "يُظهر {met} من أصل {total} من المتطلبات المفضلة.",
        "missing": "غير مُثبت: {labels}{more}.",
        "partial": "مُثبت جزئيًا: {labels}{more}.",
        "listed": "مذكور في قائمة المهارات فقط دون خبرة عملية تثبته: {labels}{more}.",
        "more": " و{count} غيرها",
        "sep": "، ",
        "evidence": "أقوى دليل: «{quote}».",
        "roles": "تمتد التواريخ في السيرة الذاتية من {first} إلى {last}، نحو {years} سنة.",
        "no_roles": "لا تذكر السيرة الذاتية تواريخ للخبرة.",
    },
}
LANGUAGES = tuple(_TEMPLATES)


def template_language(tag: str) -> str:
    """The template language for a BCP-47 tag: its primary subtag when we have it, else "en"."""
    primary = tag.lower().split("-")[0]
    return primary if primary in _TEMPLATES else "en"


def explain(assessments: Sequence[Assessment], roles: DatedRoles, language: str) -> Explanation:
    lang = template_language(language)
    t = _TEMPLATES[lang]
    musts = [a for a in assessments if a.requirement.importance == "must"]
    nices = [a for a in assessments if a.requirement.importance == "nice"]
    summary: list[str] = []
    if musts:
        summary.append(t["must"].format(met=_count(musts, Verdict.MET), total=len(musts)))
    else:
        summary.append(t["must_none"])
    if nices:
        summary.append(t["nice"].format(met=_count(nices, Verdict.MET), total=len(nices)))
    missing = [a for a in musts if a.verdict is Verdict.MISSING]
    partial = [a for a in musts if a.verdict is Verdict.PARTIAL]
    listed = [a for a in musts if a.skills_list_only and a.verdict is not Verdict.MISSING]
    for key, group in (("missing", missing), ("partial", partial), ("listed", listed)):
        if group:
            summary.append(_listing(t, key, group))
    evaluation: list[str] = []
    best = _strongest(assessments)
    if best is not None and best.evidence is not None:
        evaluation.append(t["evidence"].format(quote=_quote(best.evidence.text)))
    if roles.first_year is not None and roles.last_year is not None:
        years = f"{roles.years:.0f}" if roles.years >= 2 else f"{roles.years:.1f}"
        evaluation.append(t["roles"].format(first=roles.first_year, last=roles.last_year,
                                            years=years))
    else:
        evaluation.append(t["no_roles"])
    join = "" if lang in ("zh", "ja") else " "
    return Explanation(join.join(summary), join.join(evaluation), lang)


def _count(group: Sequence[Assessment], verdict: Verdict) -> int:
    return sum(1 for a in group if a.verdict is verdict)


def _listing(t: dict[str, str], key: str, group: Sequence[Assessment]) -> str:
    shown = [a.requirement.label for a in group[:MAX_LISTED]]
    rest = len(group) - len(shown)
    more = t["more"].format(count=rest) if rest else ""
    return t[key].format(labels=t["sep"].join(shown), more=more)


def _strongest(assessments: Sequence[Assessment]) -> Assessment | None:
    """The must-have (else any requirement) met with the highest value, with applied evidence
    preferred over a skills-list line."""
    shown = [a for a in assessments if a.evidence is not None and a.verdict is not Verdict.MISSING]
    if not shown:
        return None
    return max(shown, key=lambda a: (not a.skills_list_only, a.requirement.importance == "must",
                                     a.value))


def _quote(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_QUOTE_CHARS else text[: MAX_QUOTE_CHARS - 1].rstrip() + "…"
