"""Passage ranking (BM25, vectors, fusion), embeddings against the fake server, and the test corpus."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import numpy as np
import openai
import pytest

from assistant.documents.embeddings import Embeddings
from assistant.documents.ranking import Bm25Ranking, fuse, vector_ranking
from fakes.corpus import corpus, questions
from fakes.fake_embeddings import DIMENSIONS, embed_text, embeddings_response
from fakes.fake_openai import FakeOpenAI
from fakes.loopback import free_port

TEXTS = [
    "The harbour of Velmora exports dried kelp to the northern ports.",
    "Velmora holds a festival every summer with music in the harbour.",
    "The town council of Velmora meets every week in the town hall.",
    "A lighthouse keeper in Oskarvik writes about the harbour and the weather.",
]


def test_bm25_ranks_the_passage_with_the_rare_words_first() -> None:
    results = Bm25Ranking(TEXTS).search("Which town exports kelp?", 10)
    assert [i for i, _ in results] == [0, 2]  # "town" is in passage 2 twice, but "exports" and "kelp" are rarer
    assert Bm25Ranking(TEXTS).search("lighthouse in the harbour", 2)[0][0] == 3


def test_bm25_scores_are_positive_and_best_first() -> None:
    results = Bm25Ranking(TEXTS).search("Velmora harbour festival", 10)
    scores = [score for _, score in results]
    assert results[0][0] == 1
    assert scores == sorted(scores, reverse=True) and all(s > 0 for s in scores)
    assert {i for i, _ in results} == {0, 1, 2, 3}


def test_bm25_without_a_match_or_a_corpus_gives_nothing() -> None:
    ranking = Bm25Ranking(TEXTS)
    assert ranking.search("zebra quantum", 5) == []
    assert ranking.search("the of and", 5) == []  # stopwords only
    assert ranking.search("", 5) == []
    assert ranking.search("kelp", 0) == []
    assert Bm25Ranking([]).search("kelp", 5) == []
    assert Bm25Ranking(["the and of", ""]).search("kelp", 5) == []  # no word to index at all


def test_bm25_with_one_text_and_k_beyond_the_corpus() -> None:
    results = Bm25Ranking(["Only one passage about dried kelp."]).search("kelp", 50)
    assert [i for i, _ in results] == [0] and results[0][1] > 0
    assert len(Bm25Ranking(TEXTS).search("Velmora", 100)) == 3


def test_vector_ranking_picks_the_nearest_and_skips_zero_rows() -> None:
    matrix = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.6, 0.8, 0.0], [0.0, 0.0, 5.0]], dtype=np.float32)
    assert vector_ranking([0.5, 0.6, 0.0], matrix, 2) == [2, 0]
    # Row 1 is all zeros: never ranked. Rows 0 and 2 tie at 0 and keep their order.
    assert vector_ranking([0.0, 0.0, 1.0], matrix, 10) == [3, 0, 2]
    assert vector_ranking([0.0, 0.0, 0.0], matrix, 3) == []
    assert vector_ranking([1.0, 0.0, 0.0], np.zeros((0, 3)), 3) == []
    with pytest.raises(ValueError):
        vector_ranking([1.0, 0.0], matrix, 3)


def test_fuse_by_reciprocal_rank() -> None:
    # 7: 1/61 + 1/63 beats 3: 1/62 + 1/62 (barely); then 9: 1/61 and 5: 1/63.
    assert fuse([[7, 3, 5], [9, 3, 7]]) == [7, 3, 9, 5]
    assert fuse([[7, 3, 5], [9, 3, 7]], limit=2) == [7, 3]
    assert fuse([[1, 2], [2, 1]]) == [1, 2]  # a tie: 1 appeared first
    assert fuse([[4, 5, 6]], k=0) == [4, 5, 6]
    assert fuse([]) == []


def test_embeddings_come_back_in_order_across_batches(fake: FakeOpenAI) -> None:
    texts = [f"passage {i} about dried kelp exports" for i in range(150)]

    async def run() -> list[list[float]] | None:
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as client:
            embeddings = Embeddings(client, "fake-embedding")
            assert embeddings.available is None
            vectors = await embeddings.embed(texts)
            assert embeddings.available is True
            return vectors

    vectors = asyncio.run(run())
    assert vectors is not None and len(vectors) == 150
    assert all(len(v) == DIMENSIONS for v in vectors)
    assert np.allclose(vectors[149], embed_text(texts[149]), atol=1e-6)
    posts = [r for r in fake.requests if r.path == "/v1/embeddings"]
    assert [len(r.body["input"]) for r in posts] == [64, 64, 22]
    assert {r.body["model"] for r in posts} == {"fake-embedding"}


def test_fake_embeddings_put_shared_stems_near_each_other() -> None:
    question = np.array(embed_text("What is exported from the harbour of Velmora?"))
    near = np.array(embed_text("The harbour of Velmora exports dried kelp."))
    far = np.array(embed_text("The council meets on Thursdays in the town hall."))
    assert question @ near > 0.4 > question @ far
    status, body = embeddings_response({"model": "m", "input": "kelp", "encoding_format": "float"})
    assert status == 200 and body["data"][0]["embedding"] == embed_text("kelp")
    assert body["usage"]["prompt_tokens"] == body["usage"]["total_tokens"] > 0
    assert embeddings_response({"model": "m", "input": [""]})[0] == 400


def test_without_embeddings_on_the_server_it_asks_once(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake, "embeddings_enabled", False, raising=False)

    async def run() -> tuple[Any, Any, bool | None]:
        async with openai.AsyncOpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as client:
            embeddings = Embeddings(client, "fake-embedding")
            return await embeddings.embed(["one", "two"]), await embeddings.embed(["three"]), embeddings.available

    assert asyncio.run(run()) == (None, None, False)
    assert [r.path for r in fake.requests].count("/v1/embeddings") == 1


def test_a_connection_error_fails_only_that_call(fake: FakeOpenAI) -> None:
    async def run() -> tuple[Any, bool | None, Any]:
        async with openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="test",
                                      max_retries=0, timeout=2) as client:
            embeddings = Embeddings(client, "fake-embedding")
            failed, after_failure = await embeddings.embed(["one"]), embeddings.available
            client.base_url = httpx.URL(fake.base_url + "/")
            return failed, after_failure, await embeddings.embed(["one"])

    failed, available, vectors = asyncio.run(run())
    assert failed is None and available is None
    assert vectors is not None and len(vectors) == 1


_ERRORS: dict[int, type[openai.APIStatusError]] = {
    400: openai.BadRequestError, 429: openai.RateLimitError, 500: openai.InternalServerError}


class _Refusing:
    """A client whose embeddings.create raises what a server without embeddings answers."""

    def __init__(self, status: int, message: str) -> None:
        self.embeddings = self
        self.calls = 0
        self._status, self._message = status, message

    async def create(self, **_: Any) -> None:
        self.calls += 1
        response = httpx.Response(self._status, request=httpx.Request("POST", "http://fake/v1/embeddings"))
        error = _ERRORS.get(self._status, openai.APIStatusError)
        raise error(self._message, response=response, body=None)


@pytest.mark.parametrize(("status", "message", "disabled"), [
    (405, "Method Not Allowed", True),
    (501, "This server does not support embeddings. Start it with `--embeddings`", True),
    (400, "This model does not support embeddings.", True),
    (400, "'$.input' is invalid.", False),
    (429, "Rate limit reached", False),
    (500, "Internal error", False),
])
def test_which_errors_mean_no_embeddings(status: int, message: str, disabled: bool) -> None:
    client = _Refusing(status, message)
    embeddings = Embeddings(client, "m")  # type: ignore[arg-type]
    assert asyncio.run(embeddings.embed(["a"])) is None
    assert asyncio.run(embeddings.embed(["b"])) is None
    assert embeddings.available is (False if disabled else None)
    assert client.calls == (1 if disabled else 2)


def test_corpus_is_large_and_its_answers_are_on_their_pages() -> None:
    documents = dict(corpus())
    pages = [page for pages in documents.values() for page in pages]
    assert len(documents) == 10 and len(pages) >= 200
    assert all(heading and 1500 <= len(text) <= 2500 for heading, text in pages)
    asked = questions()
    assert len(asked) >= 60 and any(q.paraphrased for q in asked) and not all(q.paraphrased for q in asked)
    answered = 0
    for q in asked:
        words = re.compile(rf"\b{re.escape(q.answer)}\b", re.I)
        holding = [n for n, (heading, text) in enumerate(documents[q.document], 1)
                   if words.search(f"{heading}\n{text}")]
        answered += holding == [q.page] and not words.search(q.text)
    assert answered >= 50
    assert corpus() == corpus() and questions() == asked  # deterministic
