"""``POST /v1/embeddings`` for the fake OpenAI server: deterministic vectors that carry some meaning.

A text's vector is a 1024-dimensional signed hashed bag of its lowercase word stems (a few
suffixes stripped: -s, -es, -ed, -ing; common function words skipped) plus, at a lower
weight, each word's character trigrams; a repeated word counts 1 + log(count); L2-normalised.
Texts sharing stems ("exported" / "exports") land near each other, unrelated texts near zero;
synonyms ("harbour" / "port") do not: this is no language model. ``encoding_format`` "base64"
(what the SDK asks for unless told) gets little-endian float32 bytes, as OpenAI sends them.
"""

from __future__ import annotations

import array
import base64
import functools
import math
import re
import sys
import zlib
from typing import Any

__all__ = ["DIMENSIONS", "embed_text", "embeddings_response"]

DIMENSIONS = 1024  # at 256, hash collisions between a passage's ~600 features drown its meaning
_TRIGRAM_WEIGHT = 0.25
_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("ing", "es", "ed", "s")
_STOPWORDS = frozenset({
    "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "had", "has",
    "have", "how", "in", "is", "it", "its", "of", "on", "or", "that", "the", "their", "there", "this", "to",
    "was", "were", "what", "when", "where", "which", "who", "whom", "whose", "why", "with",
})


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _slot(feature: str) -> tuple[int, float]:
    h = zlib.crc32(feature.encode())
    return h % DIMENSIONS, 1.0 if h & 0x80000000 else -1.0


@functools.lru_cache(maxsize=65536)
def _features(word: str) -> tuple[tuple[int, float], ...]:
    """(dimension, signed weight) of one word: its stem, then its trigrams."""
    stem = _stem(word)
    index, sign = _slot("w:" + stem)
    out = [(index, sign)]
    padded = f"#{stem}#"
    for i in range(len(padded) - 2):
        index, sign = _slot("t:" + padded[i:i + 3])
        out.append((index, sign * _TRIGRAM_WEIGHT))
    return tuple(out)


def embed_text(text: str) -> list[float]:
    counts: dict[str, int] = {}
    for word in _WORD.findall(text.lower()):
        if word not in _STOPWORDS:
            counts[word] = counts.get(word, 0) + 1
    vector = [0.0] * DIMENSIONS
    for word, count in counts.items():
        scale = 1.0 + math.log(count)
        for index, weight in _features(word):
            vector[index] += weight * scale
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm else vector


def _encode(vector: list[float], encoding: str) -> list[float] | str:
    if encoding != "base64":
        return vector
    floats = array.array("f", vector)
    if sys.byteorder != "little":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode()


def _error(message: str, param: str | None = None) -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"message": message, "type": "invalid_request_error", "code": None, "param": param}}


def embeddings_response(body: Any) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) answering one embeddings request body."""
    if not isinstance(body, dict):
        return _error("We could not parse the JSON body of your request.")
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) and t for t in texts):
        return _error("'$.input' is invalid: a non-empty string or array of non-empty strings.", "input")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return _error("you must provide a model parameter", "model")
    encoding = body.get("encoding_format") or "float"
    tokens = sum(len(t) // 4 + 1 for t in texts)
    return 200, {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": _encode(embed_text(t), encoding)}
                 for i, t in enumerate(texts)],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
