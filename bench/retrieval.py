"""Benchmark: passage retrieval over the synthetic corpus (fakes/corpus.py), BM25 alone and fused.

    python -m bench.retrieval          # under 10 s on 2 cores

The corpus (10 documents, 208 pages) is split with assistant.documents.passages as the
library splits an upload (each page one section) and ranked as Library.search ranks: BM25
over heading + text, cosine over the fake server's embeddings of the text, 20 candidates
each, fused by reciprocal rank. The fake OpenAI server (fakes/fake_openai.py, its
/v1/embeddings from fakes/fake_embeddings.py: hashed word stems and trigrams, no real
model) runs in its own process. A hit is a top-5 passage from the question's document and
page; MRR counts the first right passage in the top 10. Index time is for 100 pages (split,
BM25 build, and with embeddings also the embedding requests), median of 5 runs; search
times are per question, the fused ones including the question's embedding request.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from openai import AsyncOpenAI

from assistant.documents.embeddings import Embeddings
from assistant.documents.passages import Passage, split_passages
from assistant.documents.ranking import Bm25Ranking, fuse, vector_ranking
from assistant.documents.reading import ReadDocument, Section
from fakes.corpus import corpus, questions

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = 20  # per ranking, as in Library.search
TOP, MRR_DEPTH = 5, 10
INDEX_PAGES, INDEX_RUNS, SEARCH_ROUNDS = 100, 5, 3

LARGE = 10_000  # passages, for the search-time target

def passages_of(pages: list[tuple[str, str]]) -> list[Passage]:
    document = ReadDocument("pdf", len(pages), tuple(Section(n, h, t) for n, (h, t) in enumerate(pages, 1)))
    return split_passages(document)


def bm25_text(p: Passage) -> str:
    return f"{p.heading}\n{p.text}"


def pct(values: list[float], p: float) -> float:
    xs = sorted(values)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs) + 0.5) - 1))]


def start_fake() -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen([sys.executable, "-m", "fakes.fake_openai", "--port", "0"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    base_url = proc.stdout.readline().decode().strip()  # it prints its base_url first
    if not base_url.startswith("http://"):
        proc.kill()
        raise RuntimeError("the fake OpenAI server did not start")
    return proc, base_url


async def index_times(embeddings: Embeddings) -> tuple[float, float]:
    """Median seconds to index INDEX_PAGES pages: BM25 only, and BM25 + embeddings."""
    docs, left = [], INDEX_PAGES
    for _, pages in corpus():
        docs.append(pages[:left])
        left -= len(docs[-1])
        if left <= 0:
            break
    bm25_only, with_vectors = [], []
    for _ in range(INDEX_RUNS):
        start = time.perf_counter()
        split = [passages_of(pages) for pages in docs]
        Bm25Ranking([bm25_text(p) for ps in split for p in ps])
        bm25_only.append(time.perf_counter() - start)
        start = time.perf_counter()
        split = [passages_of(pages) for pages in docs]
        Bm25Ranking([bm25_text(p) for ps in split for p in ps])
        for ps in split:  # one embed call per document, as an upload does
            if await embeddings.embed([p.text for p in ps]) is None:
                raise RuntimeError("the fake server gave no embeddings")
        with_vectors.append(time.perf_counter() - start)
    return statistics.median(bm25_only), statistics.median(with_vectors)


async def measure() -> dict[str, object]:
    docs = corpus()
    names = [name for name, _ in docs]
    where: list[tuple[int, int | None]] = []
    passages: list[Passage] = []
    for d, (_, pages) in enumerate(docs):
        for p in passages_of(pages):
            passages.append(p)
            where.append((d, p.page))
    proc, base_url = start_fake()
    try:
        client = AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
        embeddings = Embeddings(client, "fake-embedding")
        bm25 = Bm25Ranking([bm25_text(p) for p in passages])
        vectors = await embeddings.embed([p.text for p in passages])
        if vectors is None:
            raise RuntimeError("the fake server gave no embeddings")
        matrix = np.asarray(vectors, dtype=np.float32)

        def by_words(q: str) -> list[int]:
            return [i for i, _ in bm25.search(q, CANDIDATES)]

        async def by_vector(q: str) -> list[int]:
            embedded = await embeddings.embed([q])
            return vector_ranking(embedded[0], matrix, CANDIDATES) if embedded else []

        async def fused(q: str) -> list[int]:
            return fuse([by_words(q), await by_vector(q)], limit=MRR_DEPTH)

        async def words(q: str) -> list[int]:
            return by_words(q)

        rankers = {"BM25 only": words, "vectors alone": by_vector, "fused (RRF)": fused}
        qs = questions()
        quality: dict[str, tuple[float, float, float, float]] = {}
        for label, rank in rankers.items():
            hits, rr = {False: 0, True: 0}, 0.0
            for q in qs:
                target = (names.index(q.document), q.page)
                found = [where[i] == target for i in (await rank(q.text))[:MRR_DEPTH]]
                hits[q.paraphrased] += any(found[:TOP])
                rr += 1 / (found.index(True) + 1) if True in found else 0.0
            paraphrased = sum(q.paraphrased for q in qs)
            quality[label] = ((hits[False] + hits[True]) / len(qs), rr / len(qs),
                              hits[False] / (len(qs) - paraphrased), hits[True] / paraphrased)
        timing: dict[str, list[float]] = {"BM25 only": [], "fused (RRF)": []}
        for _ in range(SEARCH_ROUNDS):
            for q in qs:
                for label in timing:
                    start = time.perf_counter()
                    await rankers[label](q.text)
                    timing[label].append(time.perf_counter() - start)
        large = large_corpus_timing([bm25_text(p) for p in passages], [q.text for q in qs])
        index_bm25, index_vectors = await index_times(embeddings)
        await client.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {"pages": sum(len(p) for _, p in docs), "documents": len(docs), "passages": len(passages),
            "questions": len(qs), "quality": quality, "timing": timing,
            "index": (index_bm25, index_vectors), "large": large}


def large_corpus_timing(texts: list[str], queries: list[str]) -> tuple[int, list[float]]:
    """BM25 search times over the corpus repeated to at least LARGE passages."""
    copies = -(-LARGE // len(texts))
    many = [f"{t} copy{c}" for c in range(copies) for t in texts]
    ranking = Bm25Ranking(many)
    times = []
    for _ in range(SEARCH_ROUNDS):
        for q in queries:
            start = time.perf_counter()
            ranking.search(q, 20)
            times.append(time.perf_counter() - start)
    return len(many), times


def print_report(res: dict, seconds: float) -> None:
    cpu = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")), platform.processor())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("bm25s", "numpy", "openai"))
    print(f"\n{now} · {os.cpu_count()} cores ({cpu}) · Python {platform.python_version()}, {versions}\n"
          f"{res['documents']} documents, {res['pages']} pages, {res['passages']} passages, "
          f"{res['questions']} questions · fake embeddings in their own process · run took {seconds:.0f} s\n")
    ms = lambda v: f"{v * 1000:.1f}" if v < 0.1 else f"{v * 1000:.0f}"  # noqa: E731
    table = [("", "BM25 only", "vectors alone", "fused (RRF)")]
    quality = res["quality"]
    table.append((f"recall@{TOP}", *(f"{quality[k][0]:.3f}" for k in table[0][1:])))
    table.append((f"MRR@{MRR_DEPTH}", *(f"{quality[k][1]:.3f}" for k in table[0][1:])))
    table.append((f"recall@{TOP}: literal / paraphrased", *(f"{quality[k][2]:.3f} / {quality[k][3]:.3f}"
                                                           for k in table[0][1:])))
    index_bm25, index_vectors = res["index"]
    table.append((f"index {INDEX_PAGES} pages (ms)", ms(index_bm25), "-", ms(index_vectors)))
    timing = res["timing"]
    spread = lambda xs: f"{ms(pct(xs, 50))} / {ms(pct(xs, 95))}"  # noqa: E731
    table.append(("search p50 / p95 (ms)", spread(timing["BM25 only"]), "-", spread(timing["fused (RRF)"])))
    count, large = res["large"]
    table.append((f"search p50 / p95, {count:,} passages (ms)", spread(large), "-", "-"))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, r in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main() -> int:
    started = time.monotonic()
    res = asyncio.run(measure())
    print_report(res, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
