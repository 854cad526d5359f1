"""Per-user limits counted in PostgreSQL, so that every replica counts against the same numbers.

Each admission is one transaction under an advisory lock per key: check every limit of
every key, then count the request and hold a stream slot, or count nothing. Stream
slots name their replica; a dead replica's are dropped with its replies (store.py).
"""

from __future__ import annotations

from typing import Any, Sequence

import psycopg

from ...quotas.policy import DAY, Exceeded, LimitSettings
from .database import Database

Conn = psycopg.Connection[Any]
MINUTE = 60.0


class PostgresUsage:
    def __init__(self, db: Database) -> None:
        self._db = db

    def admit(self, keys: Sequence[str], now: float, limits: LimitSettings,
              replica: str) -> Exceeded | list[int]:
        """The stream slots taken (to `release` later), or the first limit that refuses."""
        def run(conn: Conn) -> Exceeded | list[int]:
            for key in sorted(keys):  # one order everywhere, so two admissions never deadlock
                conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (key,))
            for key in keys:
                refused = _refusal(conn, key, now, limits)
                if refused is not None:
                    return refused
            slots: list[int] = []
            for key in keys:
                if limits.requests_per_minute > 0:
                    conn.execute("INSERT INTO usage_requests (key, at) VALUES (%s, %s)", (key, now))
                if limits.concurrent_streams > 0:
                    row = conn.execute("INSERT INTO usage_streams (key, replica) VALUES (%s, %s)"
                                       " RETURNING id", (key, replica)).fetchone()
                    slots.append(int(row[0]) if row else 0)
            return slots
        return self._db.write(run)

    def release(self, slots: Sequence[int]) -> None:
        if slots:
            self._db.write_later(lambda conn: conn.execute(
                "DELETE FROM usage_streams WHERE id = ANY(%s)", (list(slots),)))

    def add_tokens(self, keys: Sequence[str], now: float, tokens: int) -> None:
        day = int(now // DAY)

        def run(conn: Conn) -> None:
            for key in keys:
                conn.execute("INSERT INTO usage_tokens (key, day, tokens) VALUES (%s, %s, %s)"
                             " ON CONFLICT (key, day) DO UPDATE"
                             " SET tokens = usage_tokens.tokens + EXCLUDED.tokens",
                             (key, day, tokens))
        self._db.write_later(run)

    def tokens_used(self, key: str, now: float) -> int:
        with self._db.read() as conn:
            return _tokens_used(conn, key, now)


def _tokens_used(conn: Conn, key: str, now: float) -> int:
    row = conn.execute("SELECT tokens FROM usage_tokens WHERE key = %s AND day = %s",
                       (key, int(now // DAY))).fetchone()
    return int(row[0]) if row else 0


def _refusal(conn: Conn, key: str, now: float, limits: LimitSettings) -> Exceeded | None:
    if limits.concurrent_streams > 0:
        row = conn.execute("SELECT COUNT(*) FROM usage_streams WHERE key = %s", (key,)).fetchone()
        if row and row[0] >= limits.concurrent_streams:
            return Exceeded("streams", limits.concurrent_streams, None)
    if limits.tokens_per_day > 0 and _tokens_used(conn, key, now) >= limits.tokens_per_day:
        return Exceeded("tokens", limits.tokens_per_day, (int(now // DAY) + 1) * DAY)
    if limits.requests_per_minute > 0:
        conn.execute("DELETE FROM usage_requests WHERE key = %s AND at <= %s",
                     (key, now - MINUTE))
        row = conn.execute("SELECT COUNT(*), MIN(at) FROM usage_requests WHERE key = %s",
                           (key,)).fetchone()
        if row and row[0] >= limits.requests_per_minute:
            return Exceeded("requests", limits.requests_per_minute,
                            max(now + 1, float(row[1]) + MINUTE))
    return None
