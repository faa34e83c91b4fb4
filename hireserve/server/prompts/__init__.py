"""Versioned prompt templates and the JSON schemas of their answers.

A template module (screen_v2, requirements_v1, screen_v1, questions_v1) owns its
PROMPT_VERSION, SCHEMA_VERSION, message builder, schema and parser; a new wording or schema is
a new module, so answers stay traceable to the prompt that produced them (the response's
prompt_version).
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
    ScreenResult,
)
from hireserve.server.prompts.screen_v1 import (
    build_screen_messages,
    parse_screen_result,
    screen_schema,
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
    "ScreenResult",
    "build_questions_messages",
    "build_screen_messages",
    "detect_language",
    "language_name",
    "parse_questions_result",
    "parse_screen_result",
    "questions_schema",
    "resolve_output_language",
    "screen_schema",
]
