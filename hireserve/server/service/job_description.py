"""The job description a caller sent: its size checked before anything reads it.

A 30 MB job description once split into lines on the event loop for 1.6 s (three at once held
health for 5 s, past the readiness probe's limit). Now one longer than `max_chars`
(ServerConfig.max_job_description_chars, 100,000 characters: ~25K tokens) is refused
INVALID_ARGUMENT naming `job_description` and the limit, checked by length before the text is
even stripped; its lines are split on a worker thread by the screening pipeline
(screening/job.py).
"""

from __future__ import annotations

from hireserve.server.errors import invalid_argument

FIELD = "job_description"


def check_job_description(text: str, *, max_chars: int, required: bool) -> str:
    """The stripped job description; INVALID_ARGUMENT when it is too long, or empty and
    required."""
    if len(text) > max_chars:  # len() of a str is O(1): nothing is scanned yet
        raise invalid_argument(
            FIELD, f"the job description is {len(text)} characters; the limit is {max_chars}")
    jd = text.strip()
    if required and not jd:
        raise invalid_argument(FIELD, "the job description is empty")
    return jd
