"""How fast the operators' dashboard loads over 1,000,000 stored messages.

    python -m bench.dashboard                      # SQLite
    python -m bench.dashboard --database-url postgresql://user@host/db   # PostgreSQL

Fills a fresh database with 5,000 users' chats over the last 90 days (10 messages each),
the daily figures their replies left, their documents, and the questions of the one user
in ten who agreed to share them. Then it times, for each period:
  - figures: reading the summaries and grouping topics (insights/dashboard.py);
  - page: the whole load in the real app, the admin's /admin page and its event that
    draws the charts, over HTTP on loopback.
The target is a page load under 1 s.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from assistant.domain.tally import DAY, day_of, ttft_bucket
from assistant.insights.dashboard import PERIODS, build_dashboard
from assistant.quotas.policy import LimitSettings
from bench.search import VOCABULARY, WEIGHTS

CUMULATIVE = list(itertools.accumulate(WEIGHTS))

USERS = 5_000
DAYS = 90
PER_CHAT = 10
CONSENTING = 0.1
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4.1"), ("local", "smollm2"))
OUTCOMES = (("complete", 0.93), ("stopped", 0.03), ("failed:timeout", 0.02),
            ("refused", 0.01), ("limit:tokens", 0.01))
TOOLS = ("calculator", "search_documents", "get_weather")
PASSWORD = "bench-admin-pw"


def fill(store: Any, messages: int, now: float, rng: random.Random,
         consenting_share: float = CONSENTING) -> None:
    """Rows written straight into the tables, as the app's writes would have left them."""
    owners = [f"user:u{n}" for n in range(USERS)]
    consenting = set(rng.sample(owners, int(USERS * consenting_share)))
    conversations, rows, questions = [], [], []
    replies: dict[tuple[int, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    ttft: dict[tuple[int, int], int] = defaultdict(int)
    users: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    tools: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0, 0.0, 0.0])
    outcome_names, outcome_weights = zip(*OUTCOMES)
    message_id = 0
    for chat in range(messages // PER_CHAT):
        owner = rng.choice(owners)
        created = now - rng.random() * DAYS * DAY
        cid = uuid.uuid4().hex
        conversations.append((cid, owner, f"chat {chat}", "{}", created, created))
        for position in range(PER_CHAT):
            message_id += 1
            role = "user" if position % 2 == 0 else "assistant"
            text = " ".join(rng.choices(VOCABULARY, cum_weights=CUMULATIVE, k=rng.randint(6, 30)))
            at = created + position * 30
            rows.append((message_id, cid, position, role, text, "complete", at, at,
                         message_id - 1 if position else None))
            if role == "user":
                if owner in consenting:
                    questions.append((message_id, owner, at))
                continue
            day, (backend, model) = day_of(at), rng.choice(MODELS)
            outcome = rng.choices(outcome_names, outcome_weights)[0]
            prompt, completion = rng.randint(50, 3000), rng.randint(10, 800)
            figures = replies[(day, backend, model, outcome)]
            figures[0] += 1
            user = users[(day, owner)]
            if outcome.startswith("limit:"):
                user[2] += 1
                continue
            figures[1] += prompt
            figures[2] += completion
            user[0] += 1
            user[1] += prompt + completion
            ttft[(day, ttft_bucket(rng.lognormvariate(-1.2, 0.6)))] += 1
            if rng.random() < 0.2:
                tool, seconds = rng.choice(TOOLS), rng.expovariate(4)
                counted = tools[(day, tool)]
                counted[0] += 1
                counted[1] += rng.random() < 0.05
                counted[2] += seconds
                counted[3] = max(counted[3], seconds)
    documents = [(uuid.uuid4().hex, owner, f"doc{n}.pdf", rng.choice(("pdf", "text", "markdown")),
                  rng.randint(10_000, 5_000_000), 3, "/nowhere", now - rng.random() * DAYS * DAY)
                 for owner in owners for n in range(2)]

    def run(conn: Any) -> None:
        sql = store._sql
        sql.execute_many(conn, "INSERT INTO conversations (id, owner, title, settings, created,"
                         " updated) VALUES (?, ?, ?, ?, ?, ?)", conversations)
        sql.execute_many(conn, "INSERT INTO messages (id, conversation_id, position, role,"
                         " content, status, created, updated, parent_id)"
                         " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        sql.execute_many(conn, "INSERT INTO documents (id, owner, name, kind, size, pages, path,"
                         " created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", documents)
        sql.execute_many(conn, "INSERT INTO consents (owner, since) VALUES (?, ?)",
                         [(owner, now - DAYS * DAY) for owner in consenting])
        sql.execute_many(conn, "INSERT INTO questions (message_id, owner, at) VALUES (?, ?, ?)",
                         questions)
        sql.execute_many(conn, "INSERT INTO reply_days (day, backend, model, outcome, replies,"
                         " prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(*key, *value) for key, value in replies.items()])
        sql.execute_many(conn, "INSERT INTO ttft_days (day, bucket, replies) VALUES (?, ?, ?)",
                         [(*key, value) for key, value in ttft.items()])
        sql.execute_many(conn, "INSERT INTO user_days (day, owner, replies, tokens, limit_hits)"
                         " VALUES (?, ?, ?, ?, ?)", [(*key, *value) for key, value in users.items()])
        sql.execute_many(conn, "INSERT INTO tool_days (day, tool, calls, failures, seconds,"
                         " slowest) VALUES (?, ?, ?, ?, ?, ?)",
                         [(*key, *value) for key, value in tools.items()])
    store._sql.db.write(run)
    if type(store).__name__ == "PostgresStore":  # its id sequence goes on after the ids given
        store._sql.db.write(lambda conn: store._sql.execute(
            conn, "SELECT setval('messages_id_seq', ?)", message_id))


def timed(action: Any, rounds: int) -> tuple[float, float]:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def page_load(url: str, fn_index: int, period: str) -> None:
    """The admin's page and the event that draws its charts, as the browser asks them."""
    with httpx.Client(base_url=url, timeout=60) as web:
        web.post("/login", data={"username": "admin", "password": PASSWORD})
        assert web.get("/admin").status_code == 200
        session = uuid.uuid4().hex
        web.post("/gradio_api/queue/join", json={"data": [period], "fn_index": fn_index,
                                                   "session_hash": session}).raise_for_status()
        with web.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as s:
            for line in s.iter_lines():
                if line.startswith("data:") and "process_completed" in line:
                    assert json.loads(line[5:])["success"], line
                    return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty PostgreSQL database (default: SQLite)")
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args(argv)
    from assistant.app.server import create_app, launch
    from assistant.app.settings import load_settings
    from fakes.loopback import free_port

    data_dir = Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    port = free_port()
    env = {"ASSISTANT_DATA_DIR": str(data_dir), "ASSISTANT_PORT": str(port),
           "ASSISTANT_AUTH": f"admin:{PASSWORD}", "ASSISTANT_ADMINS": "admin",
           "OPENAI_BASE_URL": "http://127.0.0.1:9/v1", "ASSISTANT_MODEL": "bench"}
    if args.database_url:
        env["ASSISTANT_DATABASE_URL"] = args.database_url
    app = create_app(load_settings([], environ=env))
    try:
        now = time.time()
        started = time.perf_counter()
        fill(app.store, args.messages, now, random.Random(11))
        print(f"filled {args.messages:,} messages of {USERS:,} users over {DAYS} days in "
              f"{time.perf_counter() - started:.0f} s "
              f"({'PostgreSQL' if args.database_url else 'SQLite'})\n")
        launch(app, prevent_thread_lock=True, quiet=True)
        url = f"http://127.0.0.1:{port}/"
        show = next(i for i, fn in app.demo.fns.items()
                    if getattr(fn.fn, "__name__", "") == "show")
        print("| period | figures p50 / p95 (ms) | page load p50 / p95 (ms) |")
        print("|---|---:|---:|")
        for period, days in PERIODS.items():
            figures = timed(lambda d=days: build_dashboard(app.store, d, time.time(), {},  # type: ignore[misc]
                                                           LimitSettings()), args.rounds)
            page = timed(lambda p=period: page_load(url, show, p), args.rounds)  # type: ignore[misc]
            print(f"| {period} | {figures[0]:.0f} / {figures[1]:.0f} "
                  f"| {page[0]:.0f} / {page[1]:.0f} |")
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
