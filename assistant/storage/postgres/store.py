"""The store in a PostgreSQL database, each row owned by one user (see ../repository.py).

Chosen by ASSISTANT_DATABASE_URL=postgresql://…, so that several app processes (replicas)
share one database. The same public surface as the SQLite store, method for method:
writes run in order on one writer thread (database.py), reads on pooled connections.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from typing import Any, Callable, Mapping, Sequence, TypeVar

import psycopg

from ..records import (
    ROLES,
    Conversation,
    ConversationSummary,
    Memory,
    NotFound,
    StoredImage,
    auto_title,
    check_owner,
    check_status,
    clean_text,
    clean_title,
    new_conversation_id,
    settings_json,
    sources_json,
    steps_json,
)
from ..sqlite.store import message_from_row
from ..whole_conversations import WholeConversations, read_import
from .database import Database
from .documents import PostgresDocuments
from .usage import PostgresUsage

__all__ = ["PostgresStore", "MIGRATIONS"]

T = TypeVar("T")
Conn = psycopg.Connection[Any]

# Step n takes the database from version n-1 to n. Append new steps; never edit a shipped one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    ("""CREATE TABLE conversations (id TEXT PRIMARY KEY, owner TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '', settings JSONB NOT NULL DEFAULT '{}',
            created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL,
            seq BIGSERIAL)""",
     "CREATE INDEX conversations_by_owner ON conversations (owner, updated)",
     """CREATE TABLE messages (id BIGSERIAL PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'complete' CHECK
                (status IN ('complete', 'refused', 'streaming', 'stopped', 'failed',
                            'truncated')),
            reason TEXT, settings TEXT, steps TEXT, sources TEXT, replica TEXT,
            created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL,
            UNIQUE (conversation_id, position))""",
     "CREATE INDEX messages_streaming ON messages (replica) WHERE status = 'streaming'",
     """CREATE TABLE memories (id BIGSERIAL PRIMARY KEY, owner TEXT NOT NULL,
            text TEXT NOT NULL, created DOUBLE PRECISION NOT NULL)""",
     "CREATE INDEX memories_by_owner ON memories (owner, id)",
     """CREATE TABLE documents (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
            kind TEXT NOT NULL, size BIGINT NOT NULL, pages INTEGER NOT NULL,
            path TEXT NOT NULL, created DOUBLE PRECISION NOT NULL, seq BIGSERIAL)""",
     "CREATE INDEX documents_by_owner ON documents (owner, created)",
     """CREATE TABLE passages (id BIGSERIAL PRIMARY KEY,
            document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
            owner TEXT NOT NULL, ordinal INTEGER NOT NULL, page INTEGER,
            heading TEXT NOT NULL DEFAULT '', text TEXT NOT NULL, vector BYTEA,
            UNIQUE (document_id, ordinal))""",
     "CREATE INDEX passages_by_owner ON passages (owner)",
     """CREATE TABLE images (id BIGSERIAL PRIMARY KEY,
            message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            position INTEGER NOT NULL, media_type TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
            data BYTEA NOT NULL)""",
     "CREATE INDEX images_by_message ON images (message_id, position)",
     """CREATE TABLE replicas (id TEXT PRIMARY KEY,
            heartbeat DOUBLE PRECISION NOT NULL)"""),
    # 2: per-user limits, shared by every replica (usage.py)
    ("CREATE TABLE usage_requests (key TEXT NOT NULL, at DOUBLE PRECISION NOT NULL)",
     "CREATE INDEX usage_requests_by_key ON usage_requests (key, at)",
     """CREATE TABLE usage_streams (id BIGSERIAL PRIMARY KEY, key TEXT NOT NULL,
            replica TEXT NOT NULL)""",
     "CREATE INDEX usage_streams_by_key ON usage_streams (key)",
     """CREATE TABLE usage_tokens (key TEXT NOT NULL, day INTEGER NOT NULL,
            tokens BIGINT NOT NULL, PRIMARY KEY (key, day))"""),
)
OWNED_TABLES = ("conversations", "messages", "images", "memories", "documents", "passages")


_FOLDED = "replace(lower({}), 'ß', 'ss')"  # near Python's casefold(), which the needle gets


def _like(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class PostgresStore(WholeConversations):
    """The one storage object of the app; create it once, `close()` it at shutdown."""

    def __init__(self, url: str, replica: str = "") -> None:
        self._db = Database(url, MIGRATIONS)
        self.replica = replica  # recorded on each reply, so a dead process's can be found
        self.documents = PostgresDocuments(self._db)
        self.usage = PostgresUsage(self._db)

    def defer(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        return self._db.submit(fn, *args)

    def flush(self, timeout: float | None = None) -> None:
        self._db.flush(timeout)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Conversations

    def create_conversation(self, owner: str, title: str | None = None,
                            settings: Mapping[str, Any] | None = None, *,
                            conversation_id: str | None = None) -> str:
        row = (conversation_id or new_conversation_id(), check_owner(owner),
               clean_title(title or ""), settings_json(settings), time.time())
        self._db.write(_insert_conversation, row)
        return row[0]

    def list_conversations(self, owner: str, query: str | None = None,
                           limit: int = 100) -> list[ConversationSummary]:
        needle = clean_text((query or "").strip()).casefold()
        params: dict[str, Any] = {"owner": check_owner(owner), "like": _like(needle),
                                  "limit": max(1, int(limit))}
        sql = "SELECT id, title, created, updated FROM conversations c WHERE owner = %(owner)s"
        if needle:
            sql += (f" AND ({_FOLDED.format('title')} LIKE %(like)s OR EXISTS (SELECT 1 FROM"
                    f" messages m WHERE m.conversation_id = c.id"
                    f" AND {_FOLDED.format('m.content')} LIKE %(like)s))")
        with self._db.read() as conn:
            rows = conn.execute(sql + " ORDER BY updated DESC, seq DESC LIMIT %(limit)s",
                                params).fetchall()
        return [ConversationSummary(*row) for row in rows]

    def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        check_owner(owner)
        with self._db.read() as conn:
            row = conn.execute("SELECT id, title, created, updated, settings FROM conversations"
                               " WHERE id = %s AND owner = %s", (conversation_id, owner)).fetchone()
            if row is None:
                return None
            messages = conn.execute(
                "SELECT id, position, role, content, status, reason, settings, created, updated,"
                " steps, sources FROM messages WHERE conversation_id = %s ORDER BY position",
                (row[0],)).fetchall()
            images: dict[int, list[StoredImage]] = {}
            for message_id, media_type, data, name in conn.execute(
                    "SELECT i.message_id, i.media_type, i.data, i.name FROM images i"
                    " JOIN messages m ON m.id = i.message_id WHERE m.conversation_id = %s"
                    " ORDER BY i.position", (row[0],)):
                images.setdefault(message_id, []).append(StoredImage(media_type, bytes(data), name))
        return Conversation(row[0], row[1], row[2], row[3], settings=dict(row[4]),
                            messages=tuple(message_from_row(m, images.get(m[0], ()))
                                           for m in messages))

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool:
        if not clean_title(title):
            raise ValueError("the title is empty")
        return self._db.write(_update_conversation, check_owner(owner), conversation_id,
                              "title = %s", clean_title(title))

    def update_settings(self, owner: str, conversation_id: str,
                        settings: Mapping[str, Any]) -> bool:
        return self._db.write(_update_conversation, check_owner(owner), conversation_id,
                              "settings = settings || %s::jsonb", settings_json(settings))

    def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        return self._db.write(self._delete, "DELETE FROM conversations WHERE id = %s"
                              " AND owner = %s", conversation_id, check_owner(owner))

    def delete_owner(self, owner: str) -> int:
        owner = check_owner(owner)

        def run(conn: Conn) -> int:
            deleted = sum(conn.execute(f"DELETE FROM {table} WHERE owner = %s",
                                       (owner,)).rowcount
                          for table in ("conversations", "memories", "documents"))
            self._db.vacuum_after_commit(*OWNED_TABLES)
            return deleted
        return self._db.write(run)

    def delete_untouched(self, before: float) -> int:
        def run(conn: Conn) -> int:
            deleted = conn.execute("DELETE FROM conversations WHERE updated < %s",
                                   (before,)).rowcount
            if deleted:
                self._db.vacuum_after_commit(*OWNED_TABLES)
            return deleted
        return self._db.write(run)

    def _delete(self, conn: Conn, sql: str, *params: Any) -> bool:
        deleted = conn.execute(sql, params).rowcount > 0
        if deleted:
            self._db.vacuum_after_commit(*OWNED_TABLES)
        return bool(deleted)

    # Messages

    def add_message(self, owner: str, conversation_id: str, role: str, content: str,
                    status: str = "complete", reason: str | None = None,
                    settings: Mapping[str, Any] | None = None,
                    images: Sequence[StoredImage] = ()) -> int:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        row = (role, clean_text(content), check_status(status), reason and clean_text(reason),
               None if settings is None else json.dumps(dict(settings)), time.time(), None, None,
               None, tuple(images))
        return self._db.write(_insert_message, check_owner(owner), conversation_id, row,
                              self.replica)

    def update_message(self, owner: str, message_id: int, content: str, status: str,
                       reason: str | None = None,
                       steps: Sequence[Mapping[str, Any]] = (),
                       sources: Sequence[Mapping[str, Any]] = ()) -> bool:
        row = (clean_text(content), check_status(status), reason and clean_text(reason),
               steps_json(steps), sources_json(sources), time.time())
        return self._db.write(_update_message, check_owner(owner), message_id, row)

    # Replicas

    def beat(self, replica: str, now: float) -> None:
        self._db.write(lambda conn: conn.execute(
            "INSERT INTO replicas (id, heartbeat) VALUES (%s, %s)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat = EXCLUDED.heartbeat", (replica, now)))

    def mark_interrupted(self, reason: str, alive_since: float | None = None) -> int:
        """Replies left "streaming" by a dead process become "failed" with `reason`.

        A process is alive while its heartbeat is at least `alive_since`; None: none is.
        """
        def run(conn: Conn) -> int:
            alive = "SELECT id FROM replicas WHERE heartbeat >= %s"
            conn.execute(f"DELETE FROM usage_streams WHERE %s::float8 IS NULL"  # their slots
                         f" OR replica NOT IN ({alive})", (alive_since, alive_since))
            return conn.execute(
                "UPDATE messages SET status = 'failed', reason = %s WHERE status = 'streaming'"
                f" AND (%s::float8 IS NULL OR replica IS NULL OR replica NOT IN ({alive}))",
                (clean_text(reason), alive_since, alive_since)).rowcount
        return self._db.write(run)

    # Import (exports are WholeConversations')

    def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> str:
        now = time.time()
        conversation, messages = read_import(owner, data, now)
        cid = new_conversation_id()

        def run(conn: Conn) -> None:
            _insert_conversation(conn, (cid, owner, *conversation))
            for row in messages:
                _insert_message(conn, owner, cid, row, self.replica)
            conn.execute("UPDATE conversations SET updated = %s WHERE id = %s", (now, cid))

        self._db.write(run)
        return cid

    # Memories

    def add_memory(self, owner: str, text: str) -> int:
        row = (check_owner(owner), clean_text(str(text)).strip(), time.time())
        if not row[1]:
            raise ValueError("the memory is empty")
        return self._db.write(lambda conn: _returning_id(conn.execute(
            "INSERT INTO memories (owner, text, created) VALUES (%s, %s, %s) RETURNING id", row)))

    def list_memories(self, owner: str) -> list[Memory]:
        with self._db.read() as conn:
            return [Memory(*row) for row in conn.execute(
                "SELECT id, text, created FROM memories WHERE owner = %s ORDER BY id",
                (check_owner(owner),)).fetchall()]

    def delete_memory(self, owner: str, memory_id: int) -> bool:
        return self._db.write(self._delete, "DELETE FROM memories WHERE id = %s AND owner = %s",
                              int(memory_id), check_owner(owner))


def _returning_id(cursor: Any) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def _insert_conversation(conn: Conn, row: tuple[Any, ...]) -> None:
    conn.execute("INSERT INTO conversations (id, owner, title, settings, created, updated)"
                 " VALUES (%s, %s, %s, %s, %s, %s)", (*row, row[-1]))


def _update_conversation(conn: Conn, owner: str, cid: str, assignment: str, value: Any) -> bool:
    return bool(conn.execute(f"UPDATE conversations SET {assignment}"
                             " WHERE id = %s AND owner = %s", (value, cid, owner)).rowcount > 0)


def _insert_message(conn: Conn, owner: str, cid: str, row: tuple[Any, ...], replica: str) -> int:
    """`row` as in the SQLite store's _insert_message."""
    if conn.execute("SELECT 1 FROM conversations WHERE id = %s AND owner = %s FOR UPDATE",
                    (cid, owner)).fetchone() is None:
        raise NotFound(cid)
    role, content, status, reason, settings, created, updated, steps, sources, images = row
    message_id = _returning_id(conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content, status, reason,"
        " settings, created, updated, steps, sources, replica)"
        " SELECT %(cid)s, COALESCE(MAX(position) + 1, 0), %(role)s, %(content)s, %(status)s,"
        " %(reason)s, %(settings)s, %(created)s, COALESCE(%(updated)s, %(created)s), %(steps)s,"
        " %(sources)s, %(replica)s FROM messages WHERE conversation_id = %(cid)s RETURNING id",
        {"cid": cid, "role": role, "content": content, "status": status, "reason": reason,
         "settings": settings, "created": created, "updated": updated, "steps": steps,
         "sources": sources, "replica": replica or None}))
    with conn.cursor() as cursor:
        cursor.executemany("INSERT INTO images (message_id, position, media_type, name, data)"
                           " VALUES (%s, %s, %s, %s, %s)",
                           [(message_id, i, im.media_type, im.name, im.data)
                            for i, im in enumerate(images)])
    title = auto_title(content) if role == "user" else ""
    conn.execute("UPDATE conversations SET updated = %s, title = CASE title WHEN '' THEN %s"
                 " ELSE title END WHERE id = %s", (time.time(), title, cid))
    return message_id


def _update_message(conn: Conn, owner: str, message_id: int, row: tuple[Any, ...]) -> bool:
    found = conn.execute("SELECT c.id FROM messages m JOIN conversations c"
                         " ON c.id = m.conversation_id WHERE m.id = %s AND c.owner = %s",
                         (message_id, owner)).fetchone()
    if found is not None:
        conn.execute("UPDATE messages SET content = %s, status = %s, reason = %s, steps = %s,"
                     " sources = %s, updated = %s WHERE id = %s", (*row, message_id))
        conn.execute("UPDATE conversations SET updated = %s WHERE id = %s", (row[5], found[0]))
    return found is not None
