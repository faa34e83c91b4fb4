"""Fence untrusted text (resumes, job descriptions) as data inside a prompt.

The markers are fixed strings, so every prompt against one job description shares its prefix;
the text inside cannot close the fence or open a chat turn because copies of the markers and
of ChatML control tokens in it are defused first.
"""

from __future__ import annotations

import re

JOB_BEGIN = "<<<JOB_DESCRIPTION>>>"
JOB_END = "<<<END_JOB_DESCRIPTION>>>"
RESUME_BEGIN = "<<<RESUME>>>"
RESUME_END = "<<<END_RESUME>>>"

# "<<<" or ">>>" would let the text fake a marker; "<|" starts a Qwen control token such as
# <|im_start|>, which a tokenizer that parses special tokens in text would obey.
_DEFUSE = re.compile(r"<{3,}|>{3,}|<\|")


def _defuse(m: re.Match[str]) -> str:
    token = m.group(0)
    return "< |" if token == "<|" else " ".join(token)


def defuse(text: str) -> str:
    return _DEFUSE.sub(_defuse, text)


def fenced(begin: str, text: str, end: str) -> str:
    return f"{begin}\n{defuse(text.strip())}\n{end}"
