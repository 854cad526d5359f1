"""How fast search in every message answers, over 100,000 messages of one user.

    python -m bench.search                      # SQLite (FTS5)
    python -m bench.search --database-url postgresql://user@host/db   # PostgreSQL (GIN)

Fills a fresh database with one user's chats (50 messages each, words drawn with a
Zipf-like skew, so some are in most messages and some in a few), plus other users'
chats, then times each kind of query a visitor types. The target is p95 <= 50 ms.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from typing import Any

from assistant.storage.repository import Store


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """Made-up words of two to four syllables, most frequent first."""
    words: dict[str, None] = {}
    while len(words) < size:
        words["".join(rng.choice("bdfgklmnprstvz") + rng.choice("aeiou")
                      for _ in range(rng.randint(2, 4)))] = None
    return list(words)


VOCABULARY = vocabulary(20_000, random.Random(3))
WEIGHTS = [1 / (rank + 1) for rank in range(len(VOCABULARY))]
PER_CHAT = 50
V = VOCABULARY
QUERIES = {
    "common word": V[0:4],
    "rare word": V[15000:15004],
    "two words": [f"{V[5]} {V[40]}", f"{V[1]} {V[900]}", f"{V[3]} {V[77]}", f"{V[10]} {V[11]}"],
    "prefix as typed": [V[50][:2], V[50][:3], V[500][:4], V[5000][:5]],
    "no match": ["nothingmatches", "xyz", f"{V[5]} nothingmatches", "qq"],
}


def fill(store: Store, owner: str, messages: int, rng: random.Random) -> None:
    for start in range(0, messages, PER_CHAT):
        chat = [{"role": "user" if i % 2 == 0 else "assistant", "parent": i - 1 if i else None,
                 "content": " ".join(rng.choices(VOCABULARY, WEIGHTS, k=rng.randint(8, 60)))}
                for i in range(min(PER_CHAT, messages - start))]
        store.import_json(owner, {"format": "streaming-assistant/conversation", "version": 2,
                                  "title": chat[0]["content"][:40], "settings": {},
                                  "active": len(chat) - 1, "messages": chat})


def time_queries(store: Store, owner: str, rounds: int) -> list[tuple[str, float, float, int]]:
    rows = []
    for kind, queries in QUERIES.items():
        times, found = [], 0
        for _ in range(rounds):
            for query in queries:
                started = time.perf_counter()
                found = max(found, len(store.search_messages(owner, query)))
                times.append((time.perf_counter() - started) * 1000)
        times.sort()
        rows.append((kind, statistics.median(times), times[int(len(times) * 0.95) - 1], found))
    return rows


def open_store(url: str | None) -> Any:
    if url:
        from assistant.storage.postgres.store import PostgresStore
        return PostgresStore(url)
    from assistant.storage.sqlite.store import SQLiteStore
    return SQLiteStore.in_directory(tempfile.mkdtemp(prefix="bench-search-"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a PostgreSQL database to fill (default: SQLite)")
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--others", type=int, default=20_000, help="other users' messages")
    parser.add_argument("--rounds", type=int, default=25)
    args = parser.parse_args(argv)
    rng = random.Random(7)
    owner = f"bench-{rng.getrandbits(32):x}"
    with open_store(args.database_url) as store:
        started = time.perf_counter()
        fill(store, owner, args.messages, rng)
        for n in range(4):
            fill(store, f"{owner}-other{n}", args.others // 4, rng)
        print(f"filled {args.messages:,} messages of one user and {args.others:,} of others "
              f"in {time.perf_counter() - started:.0f} s "
              f"({'PostgreSQL' if args.database_url else 'SQLite'})\n")
        print("| query | p50 ms | p95 ms | hits shown |")
        print("|---|---:|---:|---:|")
        for kind, p50, p95, found in time_queries(store, owner, args.rounds):
            print(f"| {kind} | {p50:.1f} | {p95:.1f} | {found} |")
        store.delete_owner(owner)
        for n in range(4):
            store.delete_owner(f"{owner}-other{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
