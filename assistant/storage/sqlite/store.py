"""The store in one SQLite file, each row owned by one user (see ../repository.py).

Writes run in order on one writer thread (database.py): the plain methods block until
their write commits, and `defer` enqueues one without waiting. Reads block on their
own connections beside the writer: call them off the event loop.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

from ..records import (
    ROLES,
    Conversation,
    ConversationSummary,
    Memory,
    Message,
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
from ..whole_conversations import WholeConversations, read_import
from .database import Database, DatabaseClosed
from .documents import SQLiteDocuments

__all__ = ["SQLiteStore", "DatabaseClosed", "NotFound", "FILENAME", "MIGRATIONS"]

T = TypeVar("T")

FILENAME = "assistant.sqlite3"

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
    # 3: replies keep their steps (reasoning), and a refusal is a status of its own
    ("""CREATE TABLE messages_v3 (id INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            position INTEGER NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
            content TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'complete' CHECK
                (status IN ('complete', 'refused', 'streaming', 'stopped', 'failed',
                            'truncated')),
            reason TEXT, settings TEXT, steps TEXT, created REAL NOT NULL, updated REAL NOT NULL,
            UNIQUE (conversation_id, position))""",
     """INSERT INTO messages_v3 (id, conversation_id, position, role, content, status, reason,
            settings, created, updated) SELECT id, conversation_id, position, role, content,
            status, reason, settings, created, updated FROM messages""",
     "DROP TABLE messages",
     "ALTER TABLE messages_v3 RENAME TO messages"),
    # 4: documents and their passages, images attached to messages, the sources a reply cites
    ("""CREATE TABLE documents (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
            kind TEXT NOT NULL, size INTEGER NOT NULL, pages INTEGER NOT NULL,
            path TEXT NOT NULL, created REAL NOT NULL)""",
     "CREATE INDEX documents_by_owner ON documents (owner, created)",
     """CREATE TABLE passages (id INTEGER PRIMARY KEY AUTOINCREMENT,
            document_id TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
            owner TEXT NOT NULL, ordinal INTEGER NOT NULL, page INTEGER,
            heading TEXT NOT NULL DEFAULT '', text TEXT NOT NULL, vector BLOB,
            UNIQUE (document_id, ordinal))""",
     "CREATE INDEX passages_by_owner ON passages (owner)",
     """CREATE TABLE images (id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
            position INTEGER NOT NULL, media_type TEXT NOT NULL, name TEXT NOT NULL DEFAULT '',
            data BLOB NOT NULL)""",
     "CREATE INDEX images_by_message ON images (message_id, position)",
     "ALTER TABLE messages ADD COLUMN sources TEXT"),
    # 5: a reply in progress names its process, whose heartbeat says whether it still runs
    ("ALTER TABLE messages ADD COLUMN replica TEXT",
     "CREATE INDEX messages_streaming ON messages (replica) WHERE status = 'streaming'",
     "CREATE TABLE replicas (id TEXT PRIMARY KEY, heartbeat REAL NOT NULL)"),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


class SQLiteStore(WholeConversations):
    """The one storage object of the app; create it once, `close()` it at shutdown."""

    def __init__(self, path: str | os.PathLike[str], replica: str = "") -> None:
        self._db = Database(path, MIGRATIONS, {"casefold": _casefold})
        self.path = self._db.path
        self.replica = replica  # recorded on each reply, so a dead process's can be found
        self.documents = SQLiteDocuments(self._db)

    @classmethod
    def in_directory(cls, data_dir: str | os.PathLike[str], replica: str = "") -> SQLiteStore:
        return cls(Path(data_dir) / FILENAME, replica)

    def defer(self, fn: Callable[..., T], *args: Any) -> Future[T]:
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

    def __enter__(self) -> SQLiteStore:
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
        row = (conversation_id or new_conversation_id(), check_owner(owner),
               clean_title(title or ""), settings_json(settings), time.time())
        self._db.write(_insert_conversation, row)
        return row[0]

    def list_conversations(self, owner: str, query: str | None = None,
                           limit: int = 100) -> list[ConversationSummary]:
        """Most recently updated first; `query` matches titles and message text, in any case."""
        params = {"owner": check_owner(owner), "needle": clean_text((query or "").strip()).casefold(),
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
        check_owner(owner)
        with self._db.read() as conn:
            row = conn.execute("SELECT id, title, created, updated, settings FROM conversations"
                               " WHERE id = ? AND owner = ?", (conversation_id, owner)).fetchone()
            if row is None:
                return None
            messages = conn.execute(
                "SELECT id, position, role, content, status, reason, settings, created, updated,"
                " steps, sources"
                " FROM messages WHERE conversation_id = ? ORDER BY position", (row[0],)).fetchall()
            images: dict[int, list[StoredImage]] = {}
            for message_id, *image in conn.execute(
                    "SELECT i.message_id, i.media_type, i.data, i.name FROM images i JOIN messages m"
                    " ON m.id = i.message_id WHERE m.conversation_id = ? ORDER BY i.position",
                    (row[0],)):
                images.setdefault(message_id, []).append(StoredImage(*image))
        return Conversation(row[0], row[1], row[2], row[3], settings=json.loads(row[4]),
                            messages=tuple(message_from_row(m, images.get(m[0], ())) for m in messages))

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool:
        if not clean_title(title):
            raise ValueError("the title is empty")
        return self._db.write(_update_conversation, check_owner(owner), conversation_id,
                              "title = ?", clean_title(title))

    def update_settings(self, owner: str, conversation_id: str,
                        settings: Mapping[str, Any]) -> bool:
        """Merges `settings` (keys from SETTINGS_KEYS) into the conversation's."""
        return self._db.write(_update_conversation, check_owner(owner), conversation_id,
                              "settings = json_patch(settings, ?)", settings_json(settings))

    def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Removes the conversation and its messages from the file itself (no soft delete)."""
        return self._db.write(  # its messages go too, by ON DELETE CASCADE
            self._delete, "DELETE FROM conversations WHERE id = ? AND owner = ?",
            conversation_id, check_owner(owner))

    def delete_owner(self, owner: str) -> int:
        """Removes every conversation, memory and document of `owner` from the file itself;
        returns how many rows of theirs went (passages, messages and images by cascade)."""
        owner = check_owner(owner)

        def run(conn: sqlite3.Connection) -> int:
            deleted = sum(conn.execute(f"DELETE FROM {table} WHERE owner = ?", (owner,)).rowcount
                          for table in ("conversations", "memories", "documents"))
            self._db.checkpoint_after_commit()
            return deleted
        return self._db.write(run)

    def delete_untouched(self, before: float) -> int:
        """Removes conversations last updated before `before` (epoch seconds); how many went."""
        def run(conn: sqlite3.Connection) -> int:
            deleted = int(conn.execute("DELETE FROM conversations WHERE updated < ?",
                                       (before,)).rowcount)
            if deleted:
                self._db.checkpoint_after_commit()
            return deleted
        return self._db.write(run)

    def _delete(self, conn: sqlite3.Connection, sql: str, *params: Any) -> bool:
        deleted = conn.execute(sql, params).rowcount > 0
        if deleted:
            self._db.checkpoint_after_commit()
        return deleted

    # Messages

    def add_message(self, owner: str, conversation_id: str, role: str, content: str,
                    status: str = "complete", reason: str | None = None,
                    settings: Mapping[str, Any] | None = None,
                    images: Sequence[StoredImage] = ()) -> int:
        """Appends a message and returns its id; NotFound unless the owner has the conversation."""
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
        """Replaces a message's content and status (a streaming reply as it grows and ends)."""
        row = (clean_text(content), check_status(status), reason and clean_text(reason),
               steps_json(steps), sources_json(sources), time.time())
        return self._db.write(_update_message, check_owner(owner), message_id, row)

    # Replicas

    def beat(self, replica: str, now: float) -> None:
        self._db.write(lambda conn: conn.execute(
            "INSERT INTO replicas (id, heartbeat) VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat", (replica, now)))

    def mark_interrupted(self, reason: str, alive_since: float | None = None) -> int:
        """Replies left "streaming" by a dead process become "failed" with `reason`.

        A process is alive while its heartbeat is at least `alive_since`; None: none is.
        """
        return self._db.write(lambda conn: int(conn.execute(
            "UPDATE messages SET status = 'failed', reason = ? WHERE status = 'streaming'"
            " AND (? IS NULL OR replica IS NULL OR replica NOT IN"
            " (SELECT id FROM replicas WHERE heartbeat >= ?))",
            (clean_text(reason), alive_since, alive_since)).rowcount))

    # Import (the format is export.py's; exports are WholeConversations')

    def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> str:
        """A NEW conversation owned by `owner` from an export; a ValueError says what is wrong."""
        now = time.time()
        conversation, messages = read_import(owner, data, now)
        cid = new_conversation_id()

        def run(conn: sqlite3.Connection) -> None:
            _insert_conversation(conn, (cid, owner, *conversation))
            for row in messages:
                _insert_message(conn, owner, cid, row, self.replica)
            conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, cid))

        self._db.write(run)
        return cid

    # Memories

    def add_memory(self, owner: str, text: str) -> int:
        row = (check_owner(owner), clean_text(str(text)).strip(), time.time())
        if not row[1]:
            raise ValueError("the memory is empty")
        return self._db.write(lambda conn: int(conn.execute(
            "INSERT INTO memories (owner, text, created) VALUES (?, ?, ?)", row).lastrowid or 0))

    def list_memories(self, owner: str) -> list[Memory]:
        """Oldest first."""
        with self._db.read() as conn:
            return [Memory(*row) for row in conn.execute(
                "SELECT id, text, created FROM memories WHERE owner = ? ORDER BY id",
                (check_owner(owner),)).fetchall()]

    def delete_memory(self, owner: str, memory_id: int) -> bool:
        return self._db.write(self._delete, "DELETE FROM memories WHERE id = ? AND owner = ?",
                              memory_id, check_owner(owner))


def message_from_row(row: tuple[Any, ...], images: Sequence[StoredImage]) -> Message:
    """A row of `SELECT id, position, role, content, status, reason, settings, created,
    updated, steps, sources`."""
    settings, steps, sources = json.loads(row[6]) if row[6] else None, row[9], row[10]
    return Message(row[0], row[1], row[2], row[3], row[4], row[5], settings, row[7], row[8],
                   tuple(json.loads(steps)) if steps else (),
                   tuple(json.loads(sources)) if sources else (), tuple(images))


# Writes, run inside a transaction on the writer thread

def _insert_conversation(conn: sqlite3.Connection, row: tuple[Any, ...]) -> None:
    conn.execute("INSERT INTO conversations (id, owner, title, settings, created, updated)"
                 " VALUES (?, ?, ?, ?, ?, ?)", (*row, row[-1]))


def _update_conversation(conn: sqlite3.Connection, owner: str, cid: str,
                         assignment: str, value: Any) -> bool:
    return conn.execute(f"UPDATE conversations SET {assignment} WHERE id = ? AND owner = ?",
                        (value, cid, owner)).rowcount > 0


def _insert_message(conn: sqlite3.Connection, owner: str, cid: str, row: tuple[Any, ...],
                    replica: str) -> int:
    """`row` is (role, content, status, reason, settings JSON, created, updated or None,
    steps JSON or None, sources JSON or None, images)."""
    if conn.execute("SELECT 1 FROM conversations WHERE id = ? AND owner = ?",
                    (cid, owner)).fetchone() is None:
        raise NotFound(cid)
    *columns, images = row
    cursor = conn.execute(
        "INSERT INTO messages (conversation_id, position, role, content, status, reason, settings,"
        " created, updated, steps, sources, replica) SELECT ?1, COALESCE(MAX(position) + 1, 0),"
        " ?2, ?3, ?4, ?5, ?6, ?7, COALESCE(?8, ?7), ?9, ?10, ?11 FROM messages"
        " WHERE conversation_id = ?1", (cid, *columns, replica or None))
    message_id = int(cursor.lastrowid or 0)
    conn.executemany("INSERT INTO images (message_id, position, media_type, name, data)"
                     " VALUES (?, ?, ?, ?, ?)",
                     [(message_id, i, im.media_type, im.name, im.data) for i, im in enumerate(images)])
    title = auto_title(row[1]) if row[0] == "user" else ""
    conn.execute("UPDATE conversations SET updated = ?, title = CASE title WHEN '' THEN ?"
                 " ELSE title END WHERE id = ?", (time.time(), title, cid))
    return message_id


def _update_message(conn: sqlite3.Connection, owner: str, message_id: int,
                    row: tuple[Any, ...]) -> bool:
    """`row` is (content, status, reason, steps JSON, sources JSON, updated)."""
    found = conn.execute("SELECT c.id FROM messages m JOIN conversations c"
                         " ON c.id = m.conversation_id WHERE m.id = ? AND c.owner = ?",
                         (message_id, owner)).fetchone()
    if found is not None:
        conn.execute("UPDATE messages SET content = ?, status = ?, reason = ?, steps = ?,"
                     " sources = ?, updated = ? WHERE id = ?", (*row, message_id))
        conn.execute("UPDATE conversations SET updated = ? WHERE id = ?", (row[5], found[0]))
    return found is not None

