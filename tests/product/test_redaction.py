"""Blind screening: personal data is replaced by placeholders and only counted."""

from __future__ import annotations

import pytest

from hireserve.server.redaction import redact

ENGLISH = """Jane Q. Doe | jane.doe@example.com | +1 (415) 555-0100
linkedin.com/in/janedoe  https://github.com/jdoe  www.janedoe.dev
Date of birth: 12 March 1990   Age: 34   Gender: Female   Marital status: Married

Experience
Senior engineer, Acme, 2015.01 - 2019.12. 5 years of Rust; on-call for 2015-2019.
Jane led the payments team of 6. Mobile: 020 7946 0958
"""

CHINESE = """张伟
电话：13812345678  邮箱：zhangwei@qq.com
出生日期：1990年5月3日  年龄：34岁  性别：男  婚姻状况：已婚
2018年7月-2021年6月 在阿里巴巴担任后端工程师。张伟负责支付系统。
"""

PERSONAL_VALUES = [
    "Jane", "Doe", "jane.doe@example.com", "555-0100", "janedoe", "jdoe", "12 March 1990",
    "34", "Female", "Married", "7946",
]  # fmt: skip


def test_english_resume_counts() -> None:
    result = redact(ENGLISH)
    assert result.counts == {
        "name": 2,
        "email": 1,
        "phone": 2,
        "url": 3,
        "date_of_birth": 1,
        "age": 1,
        "gender": 1,
        "marital_status": 1,
    }
    for value in PERSONAL_VALUES:
        assert value not in result.text, value


def test_job_facts_survive() -> None:
    text = redact(ENGLISH).text
    for kept in ("Senior engineer, Acme, 2015.01 - 2019.12", "5 years of Rust", "2015-2019",
                 "team of 6", "Experience"):  # fmt: skip
        assert kept in text


def test_chinese_resume() -> None:
    result = redact(CHINESE)
    assert result.counts == {
        "name": 2,
        "email": 1,
        "phone": 1,
        "date_of_birth": 1,
        "age": 1,
        "gender": 1,
        "marital_status": 1,
    }
    assert "张伟" not in result.text and "13812345678" not in result.text
    assert "2018年7月-2021年6月 在阿里巴巴担任后端工程师" in result.text
    assert "性别：[GENDER]" in result.text


@pytest.mark.parametrize(
    "first_line",
    ["RESUME", "Curriculum Vitae", "Senior Software Engineer with 10 years", "email me at x"],
)
def test_headings_are_not_names(first_line: str) -> None:
    result = redact(f"{first_line}\nBuilt search at Acme.")
    assert "name" not in result.counts
    assert result.text.startswith(first_line.split()[0])


def test_name_label_anywhere_at_top() -> None:
    result = redact("Contact\nName: Ahmed Al Farsi\nSkills: Go")
    assert result.counts["name"] >= 1 and "Farsi" not in result.text


def test_other_phrasings() -> None:
    text = "Born on 1990-01-02. 29 years old. Sex: M. Pronouns: she/her. Family status: single."
    result = redact(text)
    assert result.counts == {
        "date_of_birth": 1,
        "age": 1,
        "gender": 2,
        "marital_status": 1,
    }
    assert "1990" not in result.text and "she/her" not in result.text


def test_nothing_to_redact_is_identity() -> None:
    text = "- Reduced p99 latency by 40% on a 3-node cluster (2019-2021)"
    result = redact(text)
    assert result.text == text and result.counts == {}


def test_repr_has_counts_not_values() -> None:
    result = redact(ENGLISH)
    assert "jane" not in repr(result).lower() and "email" in repr(result)


def test_unlabelled_gender_and_marital_status_are_redacted() -> None:
    from hireserve.server.redaction import redact

    result = redact("Jane Doe\nFemale, 34 years old, married (she/her).\nBuilt single sign-on.")
    assert result.counts["gender"] == 2 and result.counts["marital_status"] == 1
    assert "Female" not in result.text and "married" not in result.text
    assert "she/her" not in result.text
    assert "single sign-on" in result.text  # not a marital status
