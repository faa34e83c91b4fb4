from google.rpc import status_pb2 as _status_pb2
from hireserve.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RedactionCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REDACTION_CATEGORY_UNSPECIFIED: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_NAME: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_EMAIL: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_PHONE: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_URL: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_DATE_OF_BIRTH: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_AGE: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_GENDER: _ClassVar[RedactionCategory]
    REDACTION_CATEGORY_MARITAL_STATUS: _ClassVar[RedactionCategory]

class RequirementImportance(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUIREMENT_IMPORTANCE_UNSPECIFIED: _ClassVar[RequirementImportance]
    REQUIREMENT_IMPORTANCE_MUST_HAVE: _ClassVar[RequirementImportance]
    REQUIREMENT_IMPORTANCE_NICE_TO_HAVE: _ClassVar[RequirementImportance]

class RequirementVerdict(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REQUIREMENT_VERDICT_UNSPECIFIED: _ClassVar[RequirementVerdict]
    REQUIREMENT_VERDICT_MET: _ClassVar[RequirementVerdict]
    REQUIREMENT_VERDICT_PARTIAL: _ClassVar[RequirementVerdict]
    REQUIREMENT_VERDICT_MISSING: _ClassVar[RequirementVerdict]

class QuestionType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    QUESTION_TYPE_UNSPECIFIED: _ClassVar[QuestionType]
    QUESTION_TYPE_TECHNICAL: _ClassVar[QuestionType]
    QUESTION_TYPE_BEHAVIOURAL: _ClassVar[QuestionType]
    QUESTION_TYPE_OPEN_ENDED: _ClassVar[QuestionType]
REDACTION_CATEGORY_UNSPECIFIED: RedactionCategory
REDACTION_CATEGORY_NAME: RedactionCategory
REDACTION_CATEGORY_EMAIL: RedactionCategory
REDACTION_CATEGORY_PHONE: RedactionCategory
REDACTION_CATEGORY_URL: RedactionCategory
REDACTION_CATEGORY_DATE_OF_BIRTH: RedactionCategory
REDACTION_CATEGORY_AGE: RedactionCategory
REDACTION_CATEGORY_GENDER: RedactionCategory
REDACTION_CATEGORY_MARITAL_STATUS: RedactionCategory
REQUIREMENT_IMPORTANCE_UNSPECIFIED: RequirementImportance
REQUIREMENT_IMPORTANCE_MUST_HAVE: RequirementImportance
REQUIREMENT_IMPORTANCE_NICE_TO_HAVE: RequirementImportance
REQUIREMENT_VERDICT_UNSPECIFIED: RequirementVerdict
REQUIREMENT_VERDICT_MET: RequirementVerdict
REQUIREMENT_VERDICT_PARTIAL: RequirementVerdict
REQUIREMENT_VERDICT_MISSING: RequirementVerdict
QUESTION_TYPE_UNSPECIFIED: QuestionType
QUESTION_TYPE_TECHNICAL: QuestionType
QUESTION_TYPE_BEHAVIOURAL: QuestionType
QUESTION_TYPE_OPEN_ENDED: QuestionType

class ScreenOptions(_message.Message):
    __slots__ = ("output_language", "blind_screening", "sampling", "prompt_version", "explain")
    OUTPUT_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    BLIND_SCREENING_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_FIELD_NUMBER: _ClassVar[int]
    output_language: str
    blind_screening: bool
    sampling: _common_pb2.SamplingParams
    prompt_version: str
    explain: bool
    def __init__(self, output_language: _Optional[str] = ..., blind_screening: _Optional[bool] = ..., sampling: _Optional[_Union[_common_pb2.SamplingParams, _Mapping]] = ..., prompt_version: _Optional[str] = ..., explain: _Optional[bool] = ...) -> None: ...

class ScreenRequest(_message.Message):
    __slots__ = ("job_description", "resume", "options")
    JOB_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    job_description: str
    resume: _common_pb2.Document
    options: ScreenOptions
    def __init__(self, job_description: _Optional[str] = ..., resume: _Optional[_Union[_common_pb2.Document, _Mapping]] = ..., options: _Optional[_Union[ScreenOptions, _Mapping]] = ...) -> None: ...

class RedactionCount(_message.Message):
    __slots__ = ("category", "count")
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    category: RedactionCategory
    count: int
    def __init__(self, category: _Optional[_Union[RedactionCategory, str]] = ..., count: _Optional[int] = ...) -> None: ...

class DocumentReport(_message.Message):
    __slots__ = ("format", "pages", "hidden_characters_dropped", "warnings")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    PAGES_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_CHARACTERS_DROPPED_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    format: str
    pages: int
    hidden_characters_dropped: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, format: _Optional[str] = ..., pages: _Optional[int] = ..., hidden_characters_dropped: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ...) -> None: ...

class RequirementAssessment(_message.Message):
    __slots__ = ("requirement", "importance", "verdict", "evidence", "evidence_line", "confidence", "skills_list_evidence", "value", "label")
    REQUIREMENT_FIELD_NUMBER: _ClassVar[int]
    IMPORTANCE_FIELD_NUMBER: _ClassVar[int]
    VERDICT_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    EVIDENCE_LINE_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_LIST_EVIDENCE_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    requirement: str
    importance: RequirementImportance
    verdict: RequirementVerdict
    evidence: str
    evidence_line: int
    confidence: float
    skills_list_evidence: bool
    value: float
    label: str
    def __init__(self, requirement: _Optional[str] = ..., importance: _Optional[_Union[RequirementImportance, str]] = ..., verdict: _Optional[_Union[RequirementVerdict, str]] = ..., evidence: _Optional[str] = ..., evidence_line: _Optional[int] = ..., confidence: _Optional[float] = ..., skills_list_evidence: _Optional[bool] = ..., value: _Optional[float] = ..., label: _Optional[str] = ...) -> None: ...

class ScreenResponse(_message.Message):
    __slots__ = ("match_score", "skills_matched", "skills_missing", "experience_evaluation", "red_flags", "summary", "usage", "model", "prompt_version", "redactions", "output_language", "document", "requirements", "requirements_fallback")
    MATCH_SCORE_FIELD_NUMBER: _ClassVar[int]
    SKILLS_MATCHED_FIELD_NUMBER: _ClassVar[int]
    SKILLS_MISSING_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_EVALUATION_FIELD_NUMBER: _ClassVar[int]
    RED_FLAGS_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    REDACTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FALLBACK_FIELD_NUMBER: _ClassVar[int]
    match_score: int
    skills_matched: _containers.RepeatedScalarFieldContainer[str]
    skills_missing: _containers.RepeatedScalarFieldContainer[str]
    experience_evaluation: str
    red_flags: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    usage: _common_pb2.Usage
    model: str
    prompt_version: str
    redactions: _containers.RepeatedCompositeFieldContainer[RedactionCount]
    output_language: str
    document: DocumentReport
    requirements: _containers.RepeatedCompositeFieldContainer[RequirementAssessment]
    requirements_fallback: bool
    def __init__(self, match_score: _Optional[int] = ..., skills_matched: _Optional[_Iterable[str]] = ..., skills_missing: _Optional[_Iterable[str]] = ..., experience_evaluation: _Optional[str] = ..., red_flags: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., model: _Optional[str] = ..., prompt_version: _Optional[str] = ..., redactions: _Optional[_Iterable[_Union[RedactionCount, _Mapping]]] = ..., output_language: _Optional[str] = ..., document: _Optional[_Union[DocumentReport, _Mapping]] = ..., requirements: _Optional[_Iterable[_Union[RequirementAssessment, _Mapping]]] = ..., requirements_fallback: _Optional[bool] = ...) -> None: ...

class BatchResume(_message.Message):
    __slots__ = ("resume_id", "resume")
    RESUME_ID_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    resume_id: str
    resume: _common_pb2.Document
    def __init__(self, resume_id: _Optional[str] = ..., resume: _Optional[_Union[_common_pb2.Document, _Mapping]] = ...) -> None: ...

class ScreenBatchRequest(_message.Message):
    __slots__ = ("job_description", "resumes", "options")
    JOB_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    RESUMES_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    job_description: str
    resumes: _containers.RepeatedCompositeFieldContainer[BatchResume]
    options: ScreenOptions
    def __init__(self, job_description: _Optional[str] = ..., resumes: _Optional[_Iterable[_Union[BatchResume, _Mapping]]] = ..., options: _Optional[_Union[ScreenOptions, _Mapping]] = ...) -> None: ...

class ScreenBatchResult(_message.Message):
    __slots__ = ("resume_id", "response", "error")
    RESUME_ID_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    resume_id: str
    response: ScreenResponse
    error: _status_pb2.Status
    def __init__(self, resume_id: _Optional[str] = ..., response: _Optional[_Union[ScreenResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class RankedResume(_message.Message):
    __slots__ = ("resume_id", "match_score", "rank")
    RESUME_ID_FIELD_NUMBER: _ClassVar[int]
    MATCH_SCORE_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    resume_id: str
    match_score: int
    rank: int
    def __init__(self, resume_id: _Optional[str] = ..., match_score: _Optional[int] = ..., rank: _Optional[int] = ...) -> None: ...

class BatchRanking(_message.Message):
    __slots__ = ("ranked", "failed_resume_ids")
    RANKED_FIELD_NUMBER: _ClassVar[int]
    FAILED_RESUME_IDS_FIELD_NUMBER: _ClassVar[int]
    ranked: _containers.RepeatedCompositeFieldContainer[RankedResume]
    failed_resume_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ranked: _Optional[_Iterable[_Union[RankedResume, _Mapping]]] = ..., failed_resume_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ScreenBatchResponse(_message.Message):
    __slots__ = ("result", "ranking")
    RESULT_FIELD_NUMBER: _ClassVar[int]
    RANKING_FIELD_NUMBER: _ClassVar[int]
    result: ScreenBatchResult
    ranking: BatchRanking
    def __init__(self, result: _Optional[_Union[ScreenBatchResult, _Mapping]] = ..., ranking: _Optional[_Union[BatchRanking, _Mapping]] = ...) -> None: ...

class QuestionMix(_message.Message):
    __slots__ = ("technical", "behavioural", "open_ended")
    TECHNICAL_FIELD_NUMBER: _ClassVar[int]
    BEHAVIOURAL_FIELD_NUMBER: _ClassVar[int]
    OPEN_ENDED_FIELD_NUMBER: _ClassVar[int]
    technical: int
    behavioural: int
    open_ended: int
    def __init__(self, technical: _Optional[int] = ..., behavioural: _Optional[int] = ..., open_ended: _Optional[int] = ...) -> None: ...

class GenerateQuestionsRequest(_message.Message):
    __slots__ = ("resume", "job_description", "num_questions", "mix", "options")
    RESUME_FIELD_NUMBER: _ClassVar[int]
    JOB_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    NUM_QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    MIX_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    resume: _common_pb2.Document
    job_description: str
    num_questions: int
    mix: QuestionMix
    options: ScreenOptions
    def __init__(self, resume: _Optional[_Union[_common_pb2.Document, _Mapping]] = ..., job_description: _Optional[str] = ..., num_questions: _Optional[int] = ..., mix: _Optional[_Union[QuestionMix, _Mapping]] = ..., options: _Optional[_Union[ScreenOptions, _Mapping]] = ...) -> None: ...

class Question(_message.Message):
    __slots__ = ("type", "question", "probes")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    QUESTION_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    type: QuestionType
    question: str
    probes: str
    def __init__(self, type: _Optional[_Union[QuestionType, str]] = ..., question: _Optional[str] = ..., probes: _Optional[str] = ...) -> None: ...

class GenerateQuestionsResponse(_message.Message):
    __slots__ = ("questions", "usage", "model", "prompt_version", "redactions", "output_language", "document")
    QUESTIONS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROMPT_VERSION_FIELD_NUMBER: _ClassVar[int]
    REDACTIONS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    questions: _containers.RepeatedCompositeFieldContainer[Question]
    usage: _common_pb2.Usage
    model: str
    prompt_version: str
    redactions: _containers.RepeatedCompositeFieldContainer[RedactionCount]
    output_language: str
    document: DocumentReport
    def __init__(self, questions: _Optional[_Iterable[_Union[Question, _Mapping]]] = ..., usage: _Optional[_Union[_common_pb2.Usage, _Mapping]] = ..., model: _Optional[str] = ..., prompt_version: _Optional[str] = ..., redactions: _Optional[_Iterable[_Union[RedactionCount, _Mapping]]] = ..., output_language: _Optional[str] = ..., document: _Optional[_Union[DocumentReport, _Mapping]] = ...) -> None: ...
