"""The rubric's arithmetic: calibration anchors, verdicts, the score, dated roles."""

from __future__ import annotations

import datetime
import math

import pytest

from hireserve.server.screening.calibration import STATED_MARGIN, Anchors, log_odds
from hireserve.server.screening.experience import dated_roles
from hireserve.server.screening.verdicts import (
    Assessment,
    Requirement,
    Verdict,
    match_score,
    verdict_of,
)


def test_anchors_place_the_candidate_between_unrelated_and_stated() -> None:
    anchors = Anchors.from_probabilities([0.2, 0.4], stated=0.95)
    assert anchors.low == pytest.approx((log_odds(0.2) + log_odds(0.4)) / 2)
    assert anchors.high == pytest.approx(log_odds(0.95) - STATED_MARGIN)
    assert anchors.value(0.05) == 0.0  # below every unrelated resume
    assert anchors.value(0.999) == 1.0
    middle = 1 / (1 + math.exp(-(anchors.low + anchors.high) / 2))
    assert anchors.value(middle) == pytest.approx(0.5)


def test_anchors_that_say_nothing_are_widened_not_divided_by_zero() -> None:
    anchors = Anchors.from_probabilities([0.9], stated=0.9)
    assert anchors.high > anchors.low
    assert 0.0 <= anchors.value(0.9) <= 1.0


@pytest.mark.parametrize(("value", "verdict"), [(0.0, Verdict.MISSING), (0.33, Verdict.MISSING),
                                                (0.34, Verdict.PARTIAL), (0.66, Verdict.PARTIAL),
                                                (0.67, Verdict.MET), (1.0, Verdict.MET)])
def test_verdicts_are_thirds_of_the_value(value: float, verdict: Verdict) -> None:
    assert verdict_of(value) is verdict


def test_the_score_weighs_must_haves_twice() -> None:
    must = Requirement("Go", "must", "Go")
    nice = Requirement("Kafka", "nice", "Kafka")
    items = [Assessment(must, 1.0, Verdict.MET, 0.9), Assessment(nice, 0.0, Verdict.MISSING, 0.9)]
    assert match_score(items) == round(100 * 2 / 3)
    assert match_score([]) == 0


def test_dated_roles_merge_overlaps_and_read_present() -> None:
    today = datetime.date(2026, 7, 1)
    roles = dated_roles(["Backend Engineer, Kassenwerk, 2020 - present",
                         "Software Engineer, Lieferfix, 2017 - 2020",
                         "高级后端工程师，某支付公司，2019年3月 - 至今",
                         "Not a range: 2012"], today)
    assert (roles.count, roles.first_year, roles.last_year, roles.ongoing) == (3, 2017, 2026, True)
    assert roles.years == pytest.approx(2026.5 - 2017, abs=0.01)
    assert dated_roles(["no dates here"]).years == 0.0


def test_the_score_is_the_weighted_mean_of_the_values_not_of_the_verdicts() -> None:
    must, nice = Requirement("Go", "must", "Go"), Requirement("Kafka", "nice", "Kafka")
    # Both must-haves read "partial", yet the surer one scores higher: the value counts.
    a = [Assessment(must, 0.60, Verdict.PARTIAL, 0.8), Assessment(nice, 0.2, Verdict.MISSING, 0.8)]
    b = [Assessment(must, 0.40, Verdict.PARTIAL, 0.8), Assessment(nice, 0.2, Verdict.MISSING, 0.8)]
    assert match_score(a) == round(100 * (2 * 0.6 + 0.2) / 3) == 47
    assert match_score(b) == round(100 * (2 * 0.4 + 0.2) / 3) == 33
    # A missing must-have does not cap the score: candidates stay ranked by the rest.
    missing = Assessment(must, 0.0, Verdict.MISSING, 0.9)
    c = [missing] + [Assessment(must, 1.0, Verdict.MET, 0.9)] * 3
    d = [missing] + [Assessment(must, 0.5, Verdict.PARTIAL, 0.9)] * 3
    assert match_score(c) == 75 > match_score(d) > 0
