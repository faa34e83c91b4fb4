"""The keyword matcher that a screening model has to beat: TF-IDF cosine between JD and resume.

Tokens: lower-cased runs of letters and digits (a trailing "+" or "#" kept, for C++ and C#)
for alphabetic scripts; inside such a run, every stretch of CJK characters becomes its character
bigrams (a lone CJK character stays a unigram), since Chinese and Japanese do not separate
words by spaces. Weights: raw term count x smoothed idf, log((1 + n) / (1 + df)) + 1, fitted on
the documents given (the set's JDs and resumes); vectors are L2-normalised and the cosine is
scaled to 0-100. numpy only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

WORD = re.compile(r"[^\W_]+[+#]*")
# CJK Unified Ideographs (+ extension A, compatibility), kana, Hangul syllables.
CJK = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff\uac00-\ud7af]+)")


def tokenize(text: str) -> list[str]:
    tokens: list[str] = []
    for word in WORD.findall(text.lower()):
        for k, part in enumerate(CJK.split(word)):
            if not part:
                continue
            # re.split puts the captured CJK runs at odd positions; a lone CJK character
            # stays a unigram
            if k % 2 == 0 or len(part) == 1:
                tokens.append(part)
            else:
                tokens.extend(part[i:i + 2] for i in range(len(part) - 1))
    return tokens


class TfidfMatcher:
    def __init__(self, documents: Iterable[str]) -> None:
        counts = [Counter(tokenize(d)) for d in documents]
        vocabulary = sorted({t for c in counts for t in c})
        self.index = {t: k for k, t in enumerate(vocabulary)}
        df = np.zeros(len(vocabulary))
        for c in counts:
            df[[self.index[t] for t in c]] += 1
        self.idf = np.log((1 + len(counts)) / (1 + df)) + 1

    def vector(self, text: str) -> np.ndarray:
        v = np.zeros(len(self.index))
        for token, n in Counter(tokenize(text)).items():
            k = self.index.get(token)
            if k is not None:  # a word never seen while fitting carries no weight
                v[k] = n
        v *= self.idf
        norm = float(np.linalg.norm(v))
        return v / norm if norm else v

    def score(self, job_description: str, resume: str) -> float:
        return 100.0 * float(self.vector(job_description) @ self.vector(resume))

    def scores(self, job_description: str, resumes: Sequence[str]) -> list[float]:
        jd = self.vector(job_description)
        return [100.0 * float(jd @ self.vector(r)) for r in resumes]
