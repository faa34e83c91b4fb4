"""Versioned prompt templates.

A template module owns its PROMPT_VERSION and how its answer is read (prompts/protocol.py):
scored templates (screen_v3, headings_v1) give a shared prefix, one short question per item and
the answer words whose next-token probabilities are read; generated templates (questions_v1,
labels_v1, explain_v1) give messages, a JSON schema the decoding is constrained to, and a
parser. A new wording or schema is a new module, so answers stay traceable to the prompt that
produced them (the response's prompt_version).
"""

from hireserve.server.prompts.language import (
    detect_language,
    language_name,
    resolve_output_language,
)
from hireserve.server.prompts.questions_v1 import (
    QuestionMix,
    build_questions_messages,
    parse_questions_result,
    questions_schema,
)
from hireserve.server.prompts.results import (
    AnswerError,
    Question,
    QuestionsResult,
    QuestionType,
)

# How the engine should compile these schemas with xgrammar: no free whitespace between tokens,
# so a model cannot pad the answer with newlines until max_tokens.
GRAMMAR_OPTIONS = {"any_whitespace": False}

__all__ = [
    "GRAMMAR_OPTIONS",
    "AnswerError",
    "Question",
    "QuestionMix",
    "QuestionType",
    "QuestionsResult",
    "build_questions_messages",
    "detect_language",
    "language_name",
    "parse_questions_result",
    "questions_schema",
    "resolve_output_language",
]
