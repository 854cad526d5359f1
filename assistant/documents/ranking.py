"""Ranking passages for a question: BM25 over words, cosine over embeddings, and their fusion."""

from __future__ import annotations

import threading
from typing import Sequence

import bm25s  # type: ignore[import-untyped]
import numpy as np
import Stemmer  # type: ignore[import-not-found]

__all__ = ["Bm25Ranking", "fuse", "vector_ranking"]

_STOPWORDS = "en"
_local = threading.local()  # a Stemmer is not thread-safe: one per thread


def stemmer() -> Stemmer.Stemmer:
    """This thread's English Snowball stemmer."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def _tokenize(texts: list[str]) -> list[list[str]]:
    """Lowercased words, English stopwords dropped, Snowball-stemmed ("exports" → "export")."""
    tokens: list[list[str]] = bm25s.tokenize(texts, stopwords=_STOPWORDS, stemmer=stemmer(),
                                             return_ids=False, show_progress=False)
    return tokens


class Bm25Ranking:
    """BM25 over a fixed list of passage texts, tokenized as `_tokenize` does."""

    def __init__(self, texts: Sequence[str]) -> None:
        tokens = _tokenize(list(texts)) if texts else []
        self._index: bm25s.BM25 | None = None
        if any(tokens):  # bm25s cannot index a corpus without a single word
            self._index = bm25s.BM25()
            self._index.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Up to k (text index, score) pairs, best first, only scores > 0."""
        if self._index is None or k <= 0:
            return []
        vocabulary: dict[str, int] = self._index.vocab_dict
        words = [w for w in _tokenize([query])[0] if w in vocabulary]
        if not words:
            return []
        scores: np.ndarray = self._index.get_scores(words)
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


def vector_ranking(query: Sequence[float], matrix: np.ndarray, k: int) -> list[int]:
    """Indices of the k rows of `matrix` most cosine-similar to `query`, best first; zero rows never rank."""
    if k <= 0 or len(matrix) == 0:
        return []
    rows = matrix if np.issubdtype(matrix.dtype, np.floating) else matrix.astype(np.float32)
    q = np.asarray(query, dtype=rows.dtype)
    if rows.ndim != 2 or rows.shape[1] != q.shape[0]:
        raise ValueError(f"query has {q.shape[0]} dimensions, matrix rows have {rows.shape[1:]}")
    q_norm = float(np.linalg.norm(q))
    if q_norm == 0:
        return []
    norms = np.linalg.norm(rows, axis=1)
    valid = norms > 0
    similarity = np.where(valid, (rows @ q) / np.where(valid, norms, 1) / q_norm, -np.inf)
    top = np.argsort(-similarity, kind="stable")[:k]
    return [int(i) for i in top if valid[i]]


def fuse(rankings: Sequence[Sequence[int]], k: int = 60, limit: int | None = None) -> list[int]:
    """Reciprocal rank fusion: each item scores sum(1 / (k + rank)), rank from 1.

    Ties keep the order of first appearance, reading the rankings in turn.
    """
    scores: dict[int, float] = {}
    for ranking in rankings:
        seen: set[int] = set()
        for rank, item in enumerate(ranking, start=1):
            if item not in seen:
                seen.add(item)
                scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    fused = sorted(scores, key=lambda item: -scores[item])  # sorted() is stable
    return fused if limit is None else fused[:limit]
