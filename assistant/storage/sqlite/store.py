"""Conversations, messages and memories in one SQLite file, each row owned by one user.

Every method takes `owner` and touches only that owner's rows; someone else's id
behaves exactly like a missing one (None, False or NotFound), so ids cannot be probed.

Writes run in order on one writer thread (database.py). The plain methods block until
their write commits: use them from worker threads, tests and imports. From the event
loop, `store.submit(store.some_write, *args)` enqueues the same call and returns a
concurrent Future at once (`await asyncio.wrap_future(...)` for its result). Reads
block on their own connections beside the writer: call them off the event loop.

A PostgreSQL version would keep this class's methods and dataclasses and change the
inside: a psycopg connection pool instead of the writer thread (Postgres takes
concurrent writers itself), TIMESTAMPTZ/JSONB/BIGSERIAL columns, the migration list
tracked in a schema_version table instead of PRAGMA user_version, ILIKE or a pg_trgm
index for search, and deletion that reaches the disk only after VACUUM.

The JSON and Markdown export format is export.py's: the export and import methods here
only read and write the rows.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import time
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from .database import Database, DatabaseClosed  # noqa: F401 - callers catch it from here

T = TypeVar("T")

FILENAME = "assistant.sqlite3"
ROLES = ("user", "assistant")
STATUSES = ("complete", "streaming", "stopped", "failed", "truncated")
SETTINGS_KEYS = ("model", "temperature", "system_prompt", "history_turns", "max_tokens")
TITLE_CHARS = 60
_SURROGATE = re.compile("[\ud800-\udfff]")

# Step n takes a file from user_version n-1 to n. Append new steps; never edit a shipped one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE conversations (id TEXT PRIMARY KEY, owner TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '', settings TEXT NOT NULL DEFAULT '{}',
            created REAL NOT NULL, updated REAL NOT NULL)""",
     "CREATE INDEX conversations_by_owner ON conversations (owner, updated)",
     """CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'complete' CHECK
                (status IN ('complete', 'streaming', 'stopped', 'failed', 'truncated')),
            reason TEXT, settings TEXT, created REAL NOT NULL, updated REAL NOT NULL,
            UNIQUE (conversation_id, position))"""),
    ("""CREATE TABLE memories (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL,
            text TEXT NOT NULL, created REAL NOT NULL)""",
     "CREATE INDEX memories_by_owner ON memories (owner, id)"),
)
SCHEMA_VERSION = len(MIGRATIONS)


class NotFound(LookupError):
    """No such conversation or message for this owner (whether missing or someone else's)."""


@dataclass(frozen=True)
class Message:
    id: int
    position: int
    role: str  # user | assistant
    content: str
    status: str  # one of STATUSES
    reason: str | None  # why a reply is incomplete, in the user's words
    settings: dict[str, Any] | None  # what produced an assistant reply
    created: float  # seconds since the epoch
    updated: float


@dataclass(frozen=True)
class ConversationSummary:
    id: str
    title: str  # "" until the first user message names it
    created: float
    updated: float


@dataclass(frozen=True)
class Conversation:
    id: str
    title: str
    created: float
    updated: float
    settings: dict[str, Any]
    messages: tuple[Message, ...]


@dataclass(frozen=True)
class Memory:
    id: int
    text: str
    created: float


def new_conversation_id() -> str:
    return secrets.token_urlsafe(12)


def auto_title(text: str, limit: int = TITLE_CHARS) -> str:
    """The first non-blank line, cut at a word boundary to at most `limit` characters."""
    line = next((" ".join(l.split()) for l in text.splitlines() if l.strip()), "")
    if len(line) <= limit:
        return line
    space = line.rfind(" ", 0, limit)  # the text before it fits, with room for the ellipsis
    head = line[:space] if space >= limit // 2 else line[:limit - 1]
    return head.rstrip(" ,.;:-") + "…"


def _text(value: str) -> str:
    """Text SQLite will take: lone surrogates (possible in JSON) become U+FFFD."""
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", value)


def _settings_json(settings: Mapping[str, Any] | None) -> str:
    settings = dict(settings or {})
    unknown = set(settings) - set(SETTINGS_KEYS)
    if unknown:
        raise ValueError(f"unknown conversation settings: {', '.join(sorted(unknown))}")
    return json.dumps(settings)


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _clean_title(title: str) -> str:
    return _text(" ".join(str(title).split()))[:200]


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}")
    return status


def _check_owner(owner: Any) -> str:
    if not isinstance(owner, str) or not owner:
        raise ValueError("owner must be a non-empty string")
    return owner


class Store:
    """The one storage object of the app; create it once, `close()` it at shutdown."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._db = Database(path, MIGRATIONS, {"casefold": _casefold})
        self.path = self._db.path

    @classmethod
    def in_directory(cls, data_dir: str | os.PathLike[str]) -> Store:
        return cls(Path(data_dir) / FILENAME)

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queues `fn(*args)`, usually a write method of this store, behind earlier writes.

        Returns at once; the Future holds the result or the exception. Raises DatabaseClosed.
        """
        return self._db.submit(fn, *args)

    def flush(self, timeout: float | None = None) -> None:
        """Waits until every write submitted so far has committed."""
        self._db.flush(timeout)

    def close(self) -> None:
        """Commits the writes still queued, then closes the file. Safe to call twice."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Conversations ("updated" moves only when messages change: the list is by last activity)

    def create_conversation(self, owner: str, title: str | None = None,
                            settings: Mapping[str, Any] | None = None, *,
                            conversation_id: str | None = None) -> str:
        """A new, empty conversation; without a title, its first user message names it.

        Pass a `new_conversation_id()` to know the id before a submitted write lands.
        """
        row = (conversation_id or new_conversation_id(), _check_owner(owner),
               _clean_title(title or ""), _settings_json(settings), time.time())
        self._db.write(_insert_conversation, row)
        return row[0]

    def list_conversations(self, owner: str, query: str | None = None,
                           limit: int = 100) -> list[ConversationSummary]:
        """Most recently updated first; `query` matches titles and message text, in any case."""
        params = {"owner": _check_owner(owner), "needle": _text((query or "").strip()).casefold(),
                  "limit": max(1, int(limit))}
        sql = "SELECT id, title, created, updated FROM conversations c WHERE owner = :owner"
        if params["needle"]:
            sql += (" AND (instr(casefold(title), :needle) OR EXISTS (SELECT 1 FROM messages m"
                    " WHERE m.conversation_id = c.id AND instr(casefold(m.content), :needle)))")
        with self._db.read() as conn:
            rows = conn.execute(sql + " ORDER BY updated DESC, rowid DESC LIMIT :limit",
                                params).fetchall()
        return [ConversationSummary(*row) for row in rows]

    def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        """The conversation with its settings and its messages in order; None if not the owner's."""
        _check_owner(owner)
        with self._db.read() as conn:
            row = conn.execute("SELECT id, title, created, updated, settings FROM conversations"
                               " WHERE id = ? AND owner = ?", (conversation_id, owner)).fetchone()
            if row is None:
                return None
            messages = conn.execute(
                "SELECT id, position, role, content, status, reason, settings, created, updated"
                " FROM messages WHERE conversation_id = ? ORDER BY position", (row[0],)).fetchall()
        return Conversation(*row[:4], settings=json.loads(row[4]), messages=tuple(
            Message(*m[:6], json.loads(m[6]) if m[6] else None, *m[7:]) for m in messages))

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool:
        if not _clean_title(title):
            raise ValueError("the title is empty")
        return self._db.write(_update_conversation, _check_owner(owner), conversation_id,
                              "title = ?", _clean_title(title))

    def update_settings(self, owner: str, conversation_id: str,
                        settings: Mapping[str, Any]) -> bool:
        """Merges `settings` (keys from SETTINGS_KEYS) into the conversation's."""
        return self._db.write(_update_conversation, _check_owner(owner), conversation_id,
                              "settings = json_patch(settings, ?)", _settings_json(settings))

    def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Removes the conversation and its messages from the file itself (no soft delete)."""
        return self._db.write(  # its messages go too, by ON DELETE CASCADE
            self._delete, "DELETE FROM conversations WHERE id = ? AND owner = ?",
            conversation_id, _check_owner(owner))

    def _delete(self, conn: sqlite3.Connection, sql: str, *params: Any) -> bool:
        deleted = conn.execute(sql, params).rowcount > 0
        if deleted:
            self._db.checkpoint_after_commit()
        return deleted

    # Messages

    def add_message(self, owner: str, conversation_id: str, role: str, content: str,
                    status: str = "complete", reason: str | None = None,
                    settings: Mapping[str, Any] | None = None) -> int:
        """Appends a message and returns its id; NotFound unless the owner has the conversation."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        row = (role, _text(content), _check_status(status), reason and _text(reason),
               None if settings is None else json.dumps(dict(settings)), time.time(), None)
        return self._db.write(_insert_message, _check_owner(owner), conversation_id, row)

    def update_message(self, owner: str, message_id: int, content: str, status: str,
                       reason: str | None = None) -> bool:
        """Replaces a message's content and status (a streaming reply as it grows and ends)."""
        row = (_text(content), _check_status(status), reason and _text(reason), time.time())
        return self._db.write(_update_message, _check_owner(owner), message_id, row)

    # Export and import (the format is in export.py, imported on call: it imports this module)

    def mark_interrupted(self, reason: str) -> int:
        """Replies a crash left "streaming" become "failed" with `reason`; returns how many."""
        return self._db.write(lambda conn: conn.execute(
            "UPDATE messages SET status = 'failed', reason = ? WHERE status = 'streaming'",
            (_text(reason),)).rowcount)

    def export_json(self, owner: str, conversation_id: str) -> dict[str, Any]:
        """The conversation in the versioned export format; NotFound if not the owner's."""
        from .export import to_json
        return to_json(self._owned(owner, conversation_id), time.time())

    def export_markdown(self, owner: str, conversation_id: str) -> str:
        from .export import to_markdown
        return to_markdown(self._owned(owner, conversation_id))

    def _owned(self, owner: str, conversation_id: str) -> Conversation:
        conversation = self.get_conversation(owner, conversation_id)
        if conversation is None:
            raise NotFound(conversation_id)
        return conversation

    def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> str:
        """A NEW conversation owned by `owner` from an export; a ValueError says what is wrong."""
        from .export import parse_export
        _check_owner(owner)
        if isinstance(data, (str, bytes)):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise ValueError(f"the file is not valid JSON ({exc})") from None
        now = time.time()
        conversation, messages = parse_export(data, now)
        cid = new_conversation_id()

        def run(conn: sqlite3.Connection) -> None:
            _insert_conversation(conn, (cid, owner, *conversation))
            for row in messages:
                _insert_message(conn, owner, cid, row)
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, cid))

        self._db.write(run)
        return cid

    # Memories

    def add_memory(self, owner: str, text: str) -> int:
        row = (_check_owner(owner), _text(str(text)).strip(), time.time())
        if not row[1]:
            raise ValueError("the memory is empty")
        return self._db.write(lambda conn: int(conn.execute(
            "INSERT INTO memories (owner, text, created) VALUES (?, ?, ?)", row).lastrowid or 0))

    def list_memories(self, owner: str) -> list[Memory]:
        """Oldest first."""
        with self._db.read() as conn:
            return [Memory(*row) for row in conn.execute(
                "SELECT id, text, created FROM memories WHERE owner = ? ORDER BY id",
                (_check_owner(owner),)).fetchall()]

    def delete_memory(self, owner: str, memory_id: int) -> bool:
        return self._db.write(self._delete, "DELETE FROM memories WHERE id = ? AND owner = ?",
                              memory_id, _check_owner(owner))


# Writes, run inside a transaction on the writer thread

def _insert_conversation(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    conn.execute("INSERT INTO conversations (id, owner, title, settings, created, updated)"
                 " VALUES (?, ?, ?, ?, ?, ?)", (*row, row[-1]))


def _update_conversation(conn: sqlite3.Connection, owner: str, cid: str,
                         assignment: str, value: Any) -> bool:
    return conn.execute(f"UPDATE conversations SET {assignment} WHERE id = ? AND owner = ?",
                        (value, cid, owner)).rowcount > 0


def _insert_message(conn: sqlite3.Connection, owner: str, cid: str, row: tuple[Any, ...]) -> int:
    """`row` is (role, content, status, reason, settings JSON, created, updated or None)."""
    if conn.execute("SELECT 1 FROM conversations WHERE id = ? AND owner = ?",
                    (cid, owner)).fetchone() is None:
        raise NotFound(cid)
    cursor = conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content, status, reason, settings,"
        " created, updated) SELECT ?1, COALESCE(MAX(position) + 1, 0), ?2, ?3, ?4, ?5, ?6, ?7,"
        " COALESCE(?8, ?7) FROM messages WHERE conversation_id = ?1", (cid, *row))
    title = auto_title(row[1]) if row[0] == "user" else ""
    conn.execute("UPDATE conversations SET updated = ?, title = CASE title WHEN '' THEN ?"
                 " ELSE title END WHERE id = ?", (time.time(), title, cid))
    return int(cursor.lastrowid or 0)


def _update_message(conn: sqlite3.Connection, owner: str, message_id: int,
                    row: tuple[Any, ...]) -> bool:
    """`row` is (content, status, reason, updated)."""
    found = conn.execute("SELECT c.id FROM messages m JOIN conversations c"
                         " ON c.id = m.conversation_id WHERE m.id = ? AND c.owner = ?",
                         (message_id, owner)).fetchone()
    if found is not None:
        conn.execute("UPDATE messages SET content = ?, status = ?, reason = ?, updated = ?"
                     " WHERE id = ?", (*row, message_id))
        conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (row[3], found[0]))
    return found is not None

