"""Embedding vectors for passages and questions, from the server's /embeddings endpoint, when it has one.

A server that has no embeddings (404, 405, 501, or a 400 saying so) is asked once: after that
`embed` returns None at once, and ranking falls back to BM25 alone. A connection error or a
timeout only fails that call. The texts are never logged.
"""

from __future__ import annotations

import logging
import re
from typing import Sequence

import openai

__all__ = ["BATCH_SIZE", "Embeddings"]

log = logging.getLogger(__name__)

BATCH_SIZE = 64  # texts per request
_NO_EMBEDDINGS_STATUS = (404, 405, 501)
_NO_EMBEDDINGS_MESSAGE = re.compile(r"embedding|not supported", re.I)


def _means_no_embeddings(exc: openai.APIStatusError) -> bool:
    if isinstance(exc, openai.NotFoundError) or exc.status_code in _NO_EMBEDDINGS_STATUS:
        return True
    return isinstance(exc, openai.BadRequestError) and bool(_NO_EMBEDDINGS_MESSAGE.search(str(exc.message)))


class Embeddings:
    def __init__(self, client: openai.AsyncOpenAI, model: str, batch_size: int = BATCH_SIZE) -> None:
        self._client = client
        self.model = model
        self._batch_size = max(1, batch_size)
        self._available: bool | None = None

    @property
    def available(self) -> bool | None:
        """True once the server embedded something, False once it said it cannot, None before."""
        return self._available

    async def embed(self, texts: Sequence[str]) -> list[list[float]] | None:
        """One vector per text, in order; None if the server has no embeddings or the call failed."""
        if self._available is False:
            return None
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            batch = [text or " " for text in texts[start:start + self._batch_size]]  # "" is refused
            try:
                response = await self._client.embeddings.create(model=self.model, input=batch)
            except openai.APIStatusError as exc:
                if _means_no_embeddings(exc):
                    self._available = False
                    log.info("No embeddings from %s (HTTP %d): ranking by words only", self.model, exc.status_code)
                else:
                    log.warning("Embeddings request failed: HTTP %d", exc.status_code)
                return None
            except openai.APIConnectionError as exc:  # timeouts included
                log.warning("Embeddings request failed: %s", type(exc).__name__)
                return None
            except ValueError:  # the SDK found no data in the answer
                log.warning("Embeddings answer had no vectors")
                return None
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                log.warning("Embeddings answer had %d vectors for %d texts", len(data), len(batch))
                return None
            vectors.extend(list(item.embedding) for item in data)
        if vectors:
            self._available = True
        return vectors
