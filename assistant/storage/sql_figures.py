"""The operators' figures: each reply's tally summed per day, and the questions of users
who agreed to show them (SQL for both databases).

A reply adds to a handful of rows keyed by its day (see domain/tally.py), so the
dashboard reads summaries, not messages. A question is listed in `questions` only while
its owner consents: saying no deletes the owner's rows, and deleting a message deletes
its row by cascade.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ..domain.tally import DAY, ReplyTally, day_of
from .records import FigureRows, check_owner
from .sql_dialect import Conn, Dialect


def figure_tables(real: str) -> tuple[str, ...]:
    """The migration steps, for a database whose floating-point type is `real`."""
    return tuple(step.format(real=real) for step in _FIGURE_TABLES)


_FIGURE_TABLES = (
    """CREATE TABLE reply_days (day INTEGER NOT NULL, backend TEXT NOT NULL, model TEXT NOT NULL,
            outcome TEXT NOT NULL, replies BIGINT NOT NULL, prompt_tokens BIGINT NOT NULL,
            completion_tokens BIGINT NOT NULL, PRIMARY KEY (day, backend, model, outcome))""",
    """CREATE TABLE ttft_days (day INTEGER NOT NULL, bucket INTEGER NOT NULL,
            replies BIGINT NOT NULL, PRIMARY KEY (day, bucket))""",
    """CREATE TABLE user_days (day INTEGER NOT NULL, owner TEXT NOT NULL, replies BIGINT NOT NULL,
            tokens BIGINT NOT NULL, limit_hits BIGINT NOT NULL, PRIMARY KEY (day, owner))""",
    "CREATE INDEX user_days_by_owner ON user_days (owner)",
    """CREATE TABLE tool_days (day INTEGER NOT NULL, tool TEXT NOT NULL, calls BIGINT NOT NULL,
            failures BIGINT NOT NULL, seconds {real} NOT NULL, slowest {real} NOT NULL,
            PRIMARY KEY (day, tool))""",
    "CREATE TABLE consents (owner TEXT PRIMARY KEY, since {real} NOT NULL)",
    """CREATE TABLE questions (message_id BIGINT PRIMARY KEY
            REFERENCES messages (id) ON DELETE CASCADE, owner TEXT NOT NULL, at {real} NOT NULL)""",
    "CREATE INDEX questions_by_time ON questions (at)",
    "CREATE INDEX questions_by_owner ON questions (owner)",
)
FIGURE_OWNED_TABLES = ("user_days", "consents", "questions")


class UsageFigures:
    """Mixed into SQLStore."""

    _sql: Dialect

    def count_reply(self, tally: ReplyTally) -> None:
        self._sql.db.write(self._count, tally)

    def _count(self, conn: Conn, t: ReplyTally) -> None:
        run = self._sql.execute
        run(conn, """INSERT INTO reply_days (day, backend, model, outcome, replies, prompt_tokens,
                completion_tokens) VALUES (?, ?, ?, ?, 1, ?, ?)
                ON CONFLICT (day, backend, model, outcome) DO UPDATE
                SET replies = reply_days.replies + 1,
                    prompt_tokens = reply_days.prompt_tokens + excluded.prompt_tokens,
                    completion_tokens = reply_days.completion_tokens + excluded.completion_tokens""",
            t.day, t.backend, t.model, t.outcome, t.prompt_tokens, t.completion_tokens)
        if t.ttft_bucket is not None:
            run(conn, """INSERT INTO ttft_days (day, bucket, replies) VALUES (?, ?, 1)
                    ON CONFLICT (day, bucket) DO UPDATE SET replies = ttft_days.replies + 1""",
                t.day, t.ttft_bucket)
        if t.owner:
            limited = t.outcome.startswith("limit:")
            run(conn, """INSERT INTO user_days (day, owner, replies, tokens, limit_hits)
                    VALUES (?, ?, ?, ?, ?) ON CONFLICT (day, owner) DO UPDATE
                    SET replies = user_days.replies + excluded.replies,
                        tokens = user_days.tokens + excluded.tokens,
                        limit_hits = user_days.limit_hits + excluded.limit_hits""",
                t.day, t.owner, 0 if limited else 1, t.prompt_tokens + t.completion_tokens,
                1 if limited else 0)
        for tool in t.tools:
            run(conn, """INSERT INTO tool_days (day, tool, calls, failures, seconds, slowest)
                    VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (day, tool) DO UPDATE
                    SET calls = tool_days.calls + 1,
                        failures = tool_days.failures + excluded.failures,
                        seconds = tool_days.seconds + excluded.seconds,
                        slowest = CASE WHEN excluded.slowest > tool_days.slowest
                                  THEN excluded.slowest ELSE tool_days.slowest END""",
                t.day, tool.tool, int(tool.failed), tool.seconds, tool.seconds)

    def figures(self, first: int, last: int, today: int, top: int = 10) -> FigureRows:
        with self._sql.db.read() as conn:
            def rows(sql: str, *params: Any) -> list[Any]:
                return [tuple(int(v) if isinstance(v, Decimal) else v for v in row)
                        for row in self._sql.execute(conn, sql, *params).fetchall()]
            span = (first, last)
            return FigureRows(
                rows("SELECT day, backend, model, outcome, replies, prompt_tokens,"
                     " completion_tokens FROM reply_days WHERE day BETWEEN ? AND ?", *span),
                rows("SELECT day, bucket, replies FROM ttft_days WHERE day BETWEEN ? AND ?", *span),
                rows("SELECT day, COUNT(*) FROM user_days WHERE day BETWEEN ? AND ?"
                     " AND replies > 0 GROUP BY day", *span),
                rows("""SELECT u.owner, u.replies, u.tokens, u.limit_hits,
                            COALESCE(t.tokens, 0) FROM (SELECT owner, SUM(replies) AS replies,
                            SUM(tokens) AS tokens, SUM(limit_hits) AS limit_hits FROM user_days
                            WHERE day BETWEEN ? AND ? GROUP BY owner
                            ORDER BY SUM(tokens) DESC, SUM(replies) DESC, owner LIMIT ?) u
                        LEFT JOIN user_days t ON t.owner = u.owner AND t.day = ?
                        ORDER BY u.tokens DESC, u.replies DESC, u.owner""", *span, top, today),
                rows("SELECT tool, SUM(calls), SUM(failures), SUM(seconds), MAX(slowest)"
                     " FROM tool_days WHERE day BETWEEN ? AND ? GROUP BY tool"
                     " ORDER BY SUM(calls) DESC, tool", *span),
                rows("SELECT kind, COUNT(*), SUM(size) FROM documents GROUP BY kind ORDER BY kind"),
                _per_day(rows("SELECT created, size FROM documents WHERE created >= ?"
                              " AND created < ?", first * float(DAY), (last + 1) * float(DAY))))

    # Consent to show one's questions ----------------------------------------------------

    def set_consent(self, owner: str, consents: bool, now: float) -> None:
        """Yes lists the owner's questions from now on; no unlists all of them at once."""
        owner = check_owner(owner)

        def run(conn: Conn) -> None:
            if consents:
                self._sql.execute(conn, "INSERT INTO consents (owner, since) VALUES (?, ?)"
                                  " ON CONFLICT (owner) DO NOTHING", owner, now)
            else:
                self._sql.execute(conn, "DELETE FROM consents WHERE owner = ?", owner)
                self._sql.execute(conn, "DELETE FROM questions WHERE owner = ?", owner)
        self._sql.db.write(run)

    def consents(self, owner: str) -> bool:
        with self._sql.db.read() as conn:
            return self._sql.execute(conn, "SELECT 1 FROM consents WHERE owner = ?",
                                     check_owner(owner)).fetchone() is not None

    def _note_question(self, conn: Conn, owner: str, message_id: int, at: float) -> None:
        """From inside the write that added a user's message."""
        self._sql.execute(conn, "INSERT INTO questions (message_id, owner, at)"
                          " SELECT ?, owner, ? FROM consents WHERE owner = ?",
                          message_id, at, owner)

    def shared_questions(self, since: float, limit: int) -> list[str]:
        """The newest questions asked since `since` by owners who consent now."""
        with self._sql.db.read() as conn:
            return [str(row[0]) for row in self._sql.execute(
                conn, """SELECT m.content FROM questions q
                    JOIN consents s ON s.owner = q.owner JOIN messages m ON m.id = q.message_id
                    WHERE q.at >= ? AND q.at >= s.since ORDER BY q.at DESC LIMIT ?""",
                since, limit).fetchall()]


def _per_day(documents: list[tuple[float, int]]) -> list[tuple[int, int, int]]:
    """(created, size) rows -> (day, documents, bytes), grouped here: the databases
    round a time to a whole day differently."""
    days: dict[int, list[int]] = {}
    for created, size in documents:
        day = days.setdefault(day_of(created), [0, 0])
        day[0] += 1
        day[1] += int(size)
    return [(day, count, size) for day, (count, size) in sorted(days.items())]
