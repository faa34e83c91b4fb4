"""The rubric's arithmetic, the requirement ranking, the verdict probabilities read from token
log-probabilities, and the one-extraction-per-job-description cache."""

from __future__ import annotations

import asyncio
import math

import grpc
import pytest

from hireserve.server.errors import ServiceError
from hireserve.server.prompts.lines import Line, split_lines
from hireserve.server.prompts.screen_v2 import RequirementLine, RubricAnswer, Verdict
from hireserve.server.service.assessment import build_rubric, verdict_probabilities
from hireserve.server.service.requirements import (
    MAX_REQUIREMENTS,
    Requirements,
    RequirementsCache,
    cache_key,
    heading_label,
    job_lines,
)
from hireserve.server.service.rubric import assess, expected_value, match_score
from hireserve.v1 import common_pb2, screening_pb2

# --- score ----------------------------------------------------------------------------------


def test_score_weights_musts_twice_and_partial_half() -> None:
    # must met (2*1) + must partial (2*0.5) + nice missing (1*0) = 3 of 5 -> 60
    rows = [assess("must", "met", False), assess("must", "partial", False),
            assess("nice", "missing", False)]
    assert match_score(rows) == 60
    assert match_score([assess("must", "met", False)] * 3) == 100
    assert match_score([assess("nice", "missing", False)] * 2) == 0
    assert match_score([]) == 0


def test_score_rounds_half_up() -> None:
    # 2 musts and 4 nices, one nice partial: 100 * 7.5 / 8 = 93.75 -> 94; 5/8 = 62.5 -> 63
    rows = [assess("must", "met", False)] * 2 + [assess("nice", "met", False)] * 3 + [
        assess("nice", "partial", False)]
    assert match_score(rows) == 94
    half = [assess("must", "met", False), assess("must", "partial", False),
            assess("nice", "missing", False), assess("nice", "partial", False),
            assess("must", "missing", False)]  # (2 + 1 + 0 + 0.5 + 0) / 8 = 0.4375 -> 44
    assert match_score(half) == 44


def test_met_on_a_bare_skills_list_counts_as_partial() -> None:
    listed = assess("must", "met", evidence_is_skills_list=True)
    applied = assess("must", "met", evidence_is_skills_list=False)
    assert (listed.verdict, listed.value) == ("partial", 0.5)
    assert (applied.verdict, applied.value) == ("met", 1.0)
    assert assess("must", "partial", True).value == 0.5  # already partial: no double penalty


def test_missing_must_have_does_not_cap_the_score() -> None:
    # Candidates both missing one must-have stay ranked by the rest.
    a = [assess("must", "missing", False)] + [assess("must", "met", False)] * 3
    b = [assess("must", "missing", False)] + [assess("must", "partial", False)] * 3
    assert match_score(a) > match_score(b) > 0


def test_expected_value_breaks_ties_between_equal_argmax_verdicts() -> None:
    sure = assess("must", "met", False, {"met": 0.95, "partial": 0.05})
    unsure = assess("must", "met", False, {"met": 0.55, "partial": 0.25, "missing": 0.20})
    assert sure.verdict == unsure.verdict == "met"
    assert sure.value == pytest.approx(0.95 + 0.5 * 0.05)
    assert unsure.value == pytest.approx(0.55 + 0.5 * 0.25)
    assert sure.confidence == 0.95 and unsure.confidence == 0.55
    assert match_score([sure]) > match_score([unsure])
    # the skills-list rule applies to each outcome: met on a keyword line is worth 0.5
    assert expected_value({"met": 0.8, "missing": 0.2}, True) == pytest.approx(0.4)


def test_rubric_maps_verdicts_to_evidence_lines_and_skill_lists() -> None:
    resume = split_lines("Experience\n- 6 years of Rust at Acme\nSkills\nGo, Python, SQL, Docker")
    numbered = [line for line in resume if not line.heading]
    reqs = [RequirementLine("Rust", "must"), RequirementLine("Go", "nice"),
            RequirementLine("Java", "must")]
    answer = RubricAnswer((Verdict(1, "met"), Verdict(2, "met"), Verdict(None, "missing")),
                          "e", "s")
    rubric = build_rubric(reqs, numbered, answer)
    assert [a.evidence for a in rubric.requirements] == [
        "6 years of Rust at Acme", "Go, Python, SQL, Docker", ""]
    assert [a.evidence_line for a in rubric.requirements] == [2, 4, 0]
    assert [a.verdict for a in rubric.requirements] == [
        screening_pb2.REQUIREMENT_VERDICT_MET, screening_pb2.REQUIREMENT_VERDICT_PARTIAL,
        screening_pb2.REQUIREMENT_VERDICT_MISSING]
    assert [a.skills_list_evidence for a in rubric.requirements] == [False, True, False]
    assert rubric.matched == ["Rust", "Go"] and rubric.missing == ["Java"]
    assert rubric.match_score == round(100 * (2 * 1 + 1 * 0.5 + 0) / 5)


# --- verdict probabilities from token log-probabilities ---------------------------------------


VOCAB = ['{"', "R", "1", '":', " {", '"', "evidence", " ", "2", ", ", "verdict", '": "',
         "partial", '"}', "}", " 0", "met", "3", "0"]
ID = {piece: i for i, piece in enumerate(VOCAB)}


def _decode(token: int) -> str:
    return VOCAB[token]


def test_verdict_probabilities_follow_the_decisions_through_split_tokens() -> None:
    pieces = ['{"', "R", "1", '":', " {", '"', "evidence", '":', " ", "2", ", ", '"', "verdict",
              '": "', "partial", '"}', "}"]
    ids = [ID[p] for p in pieces]
    logprobs = [{t: 0.0} for t in ids]  # forced everywhere but at the two decisions
    # After `"evidence":` the model chose " " (40%) over " 0" (60%, no evidence); then a
    # line number: "2" 50%, "3" 25%, "0" 25%.  P(missing) = 0.6 + 0.4 * 0.25 = 0.7.
    logprobs[8] = {ID[" "]: math.log(0.4), ID[" 0"]: math.log(0.6)}
    logprobs[9] = {ID["2"]: math.log(0.5), ID["3"]: math.log(0.25), ID["0"]: math.log(0.25)}
    # The verdict: "partial" 80%, "met" 20% (given a line).
    logprobs[14] = {ID["partial"]: math.log(0.8), ID["met"]: math.log(0.2)}
    probs = verdict_probabilities(ids, logprobs, _decode, 1)
    assert probs is not None
    assert probs[0] == pytest.approx({"missing": 0.7, "met": 0.3 * 0.2, "partial": 0.3 * 0.8})


def test_verdict_probabilities_need_aligned_logprobs() -> None:
    ids = [ID['{"'], ID["R"]]
    assert verdict_probabilities(ids, None, _decode, 1) is None
    assert verdict_probabilities(ids, [{ids[0]: 0.0}], _decode, 1) is None


# --- requirements ---------------------------------------------------------------------------

JD = job_lines("""Backend Engineer
We build payment rails.
You will own our billing service.
Requirements:
- Rust
- PostgreSQL
Nice to have:
- Go
About us:
- A small team in Berlin.""")
USAGE = common_pb2.Usage(prompt_tokens=10, generated_tokens=3)


def test_the_title_is_a_heading_and_headings_label_their_lines() -> None:
    assert JD[0].heading and JD[0].text == "Backend Engineer"
    labels = {line.text: heading_label(line) for line in JD if not line.heading}
    assert labels == {"We build payment rails.": None, "You will own our billing service.": None,
                      "Rust": "must", "PostgreSQL": "must", "Go": "nice",
                      "A small team in Berlin.": "none"}
    assert heading_label(Line("Kafka is a plus")) == "nice"  # its own words, no heading
    only = job_lines("Backend engineer: Rust, PostgreSQL (remote)")
    assert [line.heading for line in only] == [False]  # a one-line posting is no title


def test_headings_overrule_the_model_which_labels_the_rest() -> None:
    # The model said "must" for Go (under "Nice to have:") and "none" for Rust (under
    # "Requirements:"): the headings win. Unheaded lines keep the model's label.
    reqs = Requirements.from_labels(
        JD, ["none", "must", "none", "must", "must", "must"], USAGE)
    assert [(r.text, r.importance) for r in reqs.items] == [
        ("You will own our billing service.", "must"), ("Rust", "must"), ("PostgreSQL", "must"),
        ("Go", "nice")]
    assert not reqs.fallback


def test_requirements_fall_back_to_every_line_as_a_must() -> None:
    lines = job_lines("Backend Engineer\nWe build payment rails.\nYou will own billing.")
    reqs = Requirements.from_labels(lines, ["none"] * 2, USAGE)
    assert reqs.fallback and len(reqs.items) == 2
    assert {r.importance for r in reqs.items} == {"must"}


def test_requirements_are_capped_with_musts_kept() -> None:
    lines = split_lines("\n".join(f"- item {i}" for i in range(10)) + "\n" + "\n".join(
        f"- must {i}" for i in range(10)))
    reqs = Requirements.from_labels(lines, ["nice"] * 10 + ["must"] * 10, USAGE)
    assert len(reqs.items) == MAX_REQUIREMENTS
    assert [r.text for r in reqs.items[:10]] == [f"must {i}" for i in range(10)]
    assert [r.text for r in reqs.items[10:]] == ["item 0", "item 1"]
    assert reqs.digest != Requirements.from_labels(lines, ["must"] * 20, USAGE).digest


def test_cache_key_separates_models_and_job_descriptions() -> None:
    keys = {cache_key("m", "jd"), cache_key("m2", "jd"), cache_key("m", "jd2"),
            cache_key("mj", "d")}
    assert len(keys) == 4


def _reqs(text: str) -> Requirements:
    return Requirements((RequirementLine(text, "must"),), False, USAGE)


def test_concurrent_gets_share_one_extraction() -> None:
    calls: list[str] = []

    async def main() -> list[tuple[Requirements, bool]]:
        cache = RequirementsCache()

        async def extract() -> Requirements:
            calls.append("x")
            await asyncio.sleep(0.05)
            return _reqs("Rust")

        results = await asyncio.gather(*(cache.get("k", extract) for _ in range(50)))
        again = await cache.get("k", extract)
        return [*results, again]

    results = asyncio.run(main())
    assert calls == ["x"]
    assert sum(ran for _, ran in results) == 1  # exactly one caller is charged the tokens
    assert all(r.items[0].text == "Rust" for r, _ in results)


def test_owner_going_away_does_not_cancel_the_shared_extraction() -> None:
    async def main() -> Requirements:
        cache = RequirementsCache()
        started = asyncio.Event()

        async def extract() -> Requirements:
            started.set()
            await asyncio.sleep(0.05)
            return _reqs("Go")

        owner = asyncio.ensure_future(cache.get("k", extract))
        await started.wait()
        waiter = asyncio.ensure_future(cache.get("k", extract))
        await asyncio.sleep(0)
        owner.cancel()
        value, ran = await waiter
        assert not ran
        return value

    assert asyncio.run(main()).items[0].text == "Go"


def test_a_failed_extraction_is_retried_by_a_waiter_and_not_cached() -> None:
    attempts: list[int] = []

    async def main() -> tuple[Requirements, bool]:
        cache = RequirementsCache()

        async def extract() -> Requirements:
            attempts.append(1)
            await asyncio.sleep(0.01)
            if len(attempts) == 1:
                raise ServiceError(grpc.StatusCode.DEADLINE_EXCEEDED, "deadline exceeded")
            return _reqs("SQL")

        first = asyncio.ensure_future(cache.get("k", extract))
        await asyncio.sleep(0)
        second = asyncio.ensure_future(cache.get("k", extract))
        with pytest.raises(ServiceError):
            await first
        return await second

    value, ran = asyncio.run(main())
    assert ran and value.items[0].text == "SQL" and len(attempts) == 2


def test_cache_evicts_the_least_recently_used() -> None:
    async def main() -> list[bool]:
        cache = RequirementsCache(size=2)

        async def extract() -> Requirements:
            return _reqs("x")

        for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" comes
            await cache.get(key, extract)
        return [(await cache.get(key, extract))[1] for key in ("a", "c", "b")]

    assert asyncio.run(main()) == [False, False, True]

