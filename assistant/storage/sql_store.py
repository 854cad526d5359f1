"""The store's SQL, written once for SQLite and PostgreSQL (see repository.py).

A store is this core and a Dialect: the few fragments of SQL that differ between the
databases, how an inserted row's id comes back, and how deleted rows leave the disk.
The SQL here uses `?` placeholders; the dialect turns them into its database's own.

Writes run in order on the database's one writer thread: the plain methods block until
their write commits, and `defer` enqueues one without waiting. Reads block on
connections of their own beside the writer: call them off the event loop.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future
from typing import Any, Callable, Literal, Mapping, Sequence, TypeVar

from .records import (
    ROLES,
    Conversation,
    ConversationSummary,
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
from .sql_dialect import Conn, Dialect
from .sql_documents import SQLDocuments
from .sql_figures import FIGURE_OWNED_TABLES, UsageFigures
from .sql_memories_keys import MemoriesAndKeys
from .sql_organising import ChatOrganising
from .sql_search import MessageSearch
from .sql_shares import ChatSharing
from .whole_conversations import WholeConversations, read_import

T = TypeVar("T")
S = TypeVar("S", bound="SQLStore")

OWNED_TABLES = ("conversations", "messages", "images", "memories", "documents", "passages",
                "api_keys", "folders", "shares", *FIGURE_OWNED_TABLES)
ALIVE_REPLICAS = "SELECT id FROM replicas WHERE heartbeat >= ?"
# The migration of linear chats into trees: each message follows the one before it.
TREE_FROM_LINES = (
    """UPDATE messages SET parent_id = (SELECT p.id FROM messages p
           WHERE p.conversation_id = messages.conversation_id AND p.position < messages.position
           ORDER BY p.position DESC LIMIT 1)""",
    """UPDATE conversations SET active_id = (SELECT m.id FROM messages m
           WHERE m.conversation_id = conversations.id ORDER BY m.position DESC LIMIT 1)""",
    "CREATE INDEX messages_by_parent ON messages (parent_id)",
)


class SQLStore(WholeConversations, ChatOrganising, MessageSearch, ChatSharing, UsageFigures,
               MemoriesAndKeys):
    """The one storage object of the app; create it once, `close()` it at shutdown."""

    def __init__(self, dialect: Dialect, replica: str = "") -> None:
        self._sql = dialect
        self._db = dialect.db
        self.replica = replica  # recorded on each reply, so a dead process's can be found
        self.documents = SQLDocuments(dialect)

    def defer(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Queues `fn(*args)`, usually a write method of this store, behind earlier writes.

        Returns at once; the Future holds the result or the exception. Raises DatabaseClosed.
        """
        return self._db.submit(fn, *args)

    def flush(self, timeout: float | None = None) -> None:
        """Waits until every write submitted so far has committed."""
        self._db.flush(timeout)

    def close(self) -> None:
        """Commits the writes still queued, then closes the database. Safe to call twice."""
        self._db.close()

    def __enter__(self: S) -> S:
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
        self._db.write(self._insert_conversation, row)
        return row[0]

    def list_conversations(self, owner: str, query: str | None = None,
                           limit: int = 100) -> list[ConversationSummary]:
        """Most recently updated first; `query` matches titles and message text, in any case."""
        needle = clean_text((query or "").strip()).casefold()
        sql = ("SELECT id, title, created, updated, (SELECT COUNT(*) - COUNT(DISTINCT m.parent_id)"
               " FROM messages m WHERE m.conversation_id = c.id), pinned, folder_id"
               " FROM conversations c WHERE owner = ?")
        params: list[Any] = [check_owner(owner)]
        if needle:
            sql += (f" AND ({self._sql.contains('title')} OR EXISTS (SELECT 1 FROM messages m"
                    f" WHERE m.conversation_id = c.id AND {self._sql.contains('m.content')}))")
            params += [self._sql.needle(needle)] * 2
        sql += f" ORDER BY updated DESC, {self._sql.order} DESC LIMIT ?"
        with self._db.read() as conn:
            rows = self._sql.execute(conn, sql, *params, max(1, int(limit))).fetchall()
        return [ConversationSummary(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])
                for row in rows]

    def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        """The conversation with its settings and its messages in order; None if not the owner's."""
        check_owner(owner)
        with self._db.read() as conn:
            row = self._sql.execute(conn, "SELECT id, title, created, updated, settings, active_id"
                                    " FROM conversations WHERE id = ? AND owner = ?",
                                    conversation_id, owner).fetchone()
            if row is None:
                return None
            messages = self._sql.execute(
                conn, "SELECT id, position, role, content, status, reason, settings, created,"
                " updated, steps, sources, parent_id, replica, figures FROM messages"
                " WHERE conversation_id = ?"
                " ORDER BY position",
                row[0]).fetchall()
            images: dict[int, list[StoredImage]] = {}
            for message_id, media_type, data, name in self._sql.execute(
                    conn, "SELECT i.message_id, i.media_type, i.data, i.name FROM images i"
                    " JOIN messages m ON m.id = i.message_id WHERE m.conversation_id = ?"
                    " ORDER BY i.position", row[0]).fetchall():
                images.setdefault(message_id, []).append(StoredImage(media_type, bytes(data), name))
        return Conversation(row[0], row[1], row[2], row[3], settings=_json_object(row[4]),
                            messages=tuple(message_from_row(m, images.get(m[0], ())) for m in messages),
                            active_id=row[5])

    def get_message(self, owner: str, message_id: int) -> Message | None:
        """One message without its images (a reply as it streams); None if not the owner's."""
        check_owner(owner)
        with self._db.read() as conn:
            row = self._sql.execute(
                conn, "SELECT m.id, m.position, m.role, m.content, m.status, m.reason,"
                " m.settings, m.created, m.updated, m.steps, m.sources, m.parent_id, m.replica,"
                " m.figures"
                " FROM messages m JOIN conversations c ON c.id = m.conversation_id"
                " WHERE m.id = ? AND c.owner = ?", message_id, owner).fetchone()
        return message_from_row(row, ()) if row is not None else None

    def rename_conversation(self, owner: str, conversation_id: str, title: str) -> bool:
        if not clean_title(title):
            raise ValueError("the title is empty")
        return self._db.write(self._update_conversation, check_owner(owner), conversation_id,
                              "title = ?", clean_title(title))

    def update_settings(self, owner: str, conversation_id: str,
                        settings: Mapping[str, Any]) -> bool:
        """Merges `settings` (keys from SETTINGS_KEYS) into the conversation's."""
        return self._db.write(self._update_conversation, check_owner(owner), conversation_id,
                              self._sql.merge_settings, settings_json(settings))

    def delete_conversation(self, owner: str, conversation_id: str) -> bool:
        """Removes the conversation and its messages from the disk itself (no soft delete)."""
        owner = check_owner(owner)
        return self._db.write(lambda conn: self._delete(  # its messages go by ON DELETE CASCADE
            conn, "DELETE FROM conversations WHERE id = ? AND owner = ?", conversation_id, owner,
            forget_text=True))

    def delete_owner(self, owner: str) -> int:
        """Removes every conversation, memory, document and API key of `owner` from the disk
        itself; returns how many rows of theirs went (passages, messages and images by cascade)."""
        owner = check_owner(owner)

        def run(conn: Conn) -> int:
            deleted = sum(int(self._sql.execute(conn, f"DELETE FROM {table} WHERE owner = ?",
                                                owner).rowcount)
                          for table in ("shares", "conversations", "memories", "documents",
                                        "api_keys", "folders", *FIGURE_OWNED_TABLES))
            self._sql.forget_deleted_text(conn)
            self._sql.scrub_after_commit(OWNED_TABLES)
            return deleted
        return self._db.write(run)

    def delete_untouched(self, before: float) -> int:
        """Removes conversations last updated before `before` (epoch seconds); how many went."""
        def run(conn: Conn) -> int:
            deleted = int(self._sql.execute(conn, "DELETE FROM conversations WHERE updated < ?",
                                            before).rowcount)
            if deleted:
                self._sql.forget_deleted_text(conn)
                self._sql.scrub_after_commit(OWNED_TABLES)
            return deleted
        return self._db.write(run)

    def _delete(self, conn: Conn, sql: str, *params: Any, forget_text: bool = False) -> bool:
        deleted = int(self._sql.execute(conn, sql, *params).rowcount) > 0
        if deleted and forget_text:
            self._sql.forget_deleted_text(conn)
        if deleted:
            self._sql.scrub_after_commit(OWNED_TABLES)
        return deleted

    # Messages

    def add_message(self, owner: str, conversation_id: str, role: str, content: str,
                    status: str = "complete", reason: str | None = None,
                    settings: Mapping[str, Any] | None = None,
                    images: Sequence[StoredImage] = (),
                    parent_id: int | Literal["active"] | None = "active") -> int:
        """Adds a message after `parent_id` (None: a first message; "active": after the one
        the chat shows last), makes it the one the chat shows last, and returns its id.

        NotFound unless the owner has the conversation and the parent is in it.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        row = (role, clean_text(content), check_status(status), reason and clean_text(reason),
               None if settings is None else json.dumps(dict(settings)), time.time(), None, None,
               None, tuple(images))
        owner = check_owner(owner)

        def run(conn: Conn) -> int:
            message_id = self._insert_message(conn, owner, conversation_id, row, parent_id)
            if role == "user":
                self._note_question(conn, owner, message_id, row[5])
            return message_id
        return self._db.write(run)

    def set_active(self, owner: str, conversation_id: str, message_id: int | None) -> bool:
        """The chat shows the path that ends at `message_id` (None: no message yet)."""
        return self._db.write(self._set_active, check_owner(owner), conversation_id, message_id)

    def update_message(self, owner: str, message_id: int, content: str, status: str,
                       reason: str | None = None,
                       steps: Sequence[Mapping[str, Any]] = (),
                       sources: Sequence[Mapping[str, Any]] = (),
                       figures: Mapping[str, Any] | None = None) -> bool:
        """Replaces a message's content and status (a streaming reply as it grows and ends)."""
        row = (clean_text(content), check_status(status), reason and clean_text(reason),
               steps_json(steps), sources_json(sources), figures and json.dumps(dict(figures)),
               time.time())
        return self._db.write(self._update_message, check_owner(owner), message_id, row)

    # Replicas

    def beat(self, replica: str, now: float) -> None:
        self._db.write_at_once(lambda conn: self._sql.execute(
            conn, "INSERT INTO replicas (id, heartbeat) VALUES (?, ?)"
            " ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat", replica, now))

    def mark_interrupted(self, reason: str, alive_since: float | None = None) -> int:
        """Replies left "streaming" by a dead process become "failed" with `reason`.

        A process is alive while its heartbeat is at least `alive_since`; None: none is.
        """
        return self._db.write(self._mark_interrupted, clean_text(reason), alive_since)

    def _mark_interrupted(self, conn: Conn, reason: str, alive_since: float | None) -> int:
        return int(self._sql.execute(
            conn, "UPDATE messages SET status = 'failed', reason = ? WHERE status = 'streaming'"
            f" AND (CAST(? AS REAL) IS NULL OR replica IS NULL OR replica NOT IN ({ALIVE_REPLICAS}))",
            reason, alive_since, alive_since).rowcount)

    # Import (the format is export.py's; exports are WholeConversations')

    def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> str:
        """A NEW conversation owned by `owner` from an export; a ValueError says what is wrong."""
        now = time.time()
        conversation, messages, parents, active = read_import(owner, data, now)
        cid = new_conversation_id()

        def run(conn: Conn) -> None:
            self._insert_conversation(conn, (cid, owner, *conversation))
            ids: list[int] = []
            for row, parent in zip(messages, parents):
                ids.append(self._insert_message(
                    conn, owner, cid, row, None if parent is None else ids[parent]))
            self._sql.execute(conn, "UPDATE conversations SET updated = ?, active_id = ?"
                              " WHERE id = ?", now, None if active is None else ids[active], cid)

        self._db.write(run)
        return cid

    # Writes, run inside a transaction on the writer thread

    def _insert_conversation(self, conn: Conn, row: tuple[Any, ...]) -> None:
        """`row` is (id, owner, title, settings JSON, created), which is also its `updated`."""
        self._sql.execute(conn, "INSERT INTO conversations (id, owner, title, settings, created,"
                          " updated) VALUES (?, ?, ?, ?, ?, ?)", *row, row[-1])

    def _update_conversation(self, conn: Conn, owner: str, cid: str,
                             assignment: str, value: Any) -> bool:
        return int(self._sql.execute(conn, f"UPDATE conversations SET {assignment}"
                                     " WHERE id = ? AND owner = ?", value, cid, owner).rowcount) > 0

    def _insert_message(self, conn: Conn, owner: str, cid: str, row: tuple[Any, ...],
                        parent: int | Literal["active"] | None) -> int:
        """`row` is (role, content, status, reason, settings JSON, created, updated or None,
        steps JSON or None, sources JSON or None, images)."""
        found = self._sql.execute(conn, "SELECT active_id FROM conversations WHERE id = ?"
                                  " AND owner = ?" + self._sql.lock, cid, owner).fetchone()
        if found is None:
            raise NotFound(cid)
        if parent == "active":
            parent = found[0]
        elif parent is not None and not self._in_conversation(conn, cid, parent):
            raise NotFound(f"message {parent}")
        role, content, status, reason, settings, created, updated, steps, sources, images = row
        message_id = self._sql.insert(
            conn, "INSERT INTO messages (conversation_id, position, role, content, status, reason,"
            " settings, created, updated, steps, sources, replica, parent_id)"
            " SELECT ?, COALESCE(MAX(position) + 1, 0), ?, ?, ?, ?, ?, ?, COALESCE(?, ?), ?, ?, ?, ?"
            " FROM messages WHERE conversation_id = ?",
            cid, role, content, status, reason, settings, created, updated, created, steps,
            sources, self.replica or None, parent, cid)
        self._sql.execute_many(conn, "INSERT INTO images (message_id, position, media_type, name,"
                               " data) VALUES (?, ?, ?, ?, ?)",
                               [(message_id, i, im.media_type, im.name, im.data)
                                for i, im in enumerate(images)])
        title = auto_title(content) if role == "user" else ""
        self._sql.execute(conn, "UPDATE conversations SET updated = ?, active_id = ?, title ="
                          " CASE title WHEN '' THEN ? ELSE title END WHERE id = ?",
                          time.time(), message_id, title, cid)
        return message_id

    def _in_conversation(self, conn: Conn, cid: str, message_id: int) -> bool:
        return self._sql.execute(conn, "SELECT 1 FROM messages WHERE id = ? AND conversation_id = ?",
                                 int(message_id), cid).fetchone() is not None

    def _set_active(self, conn: Conn, owner: str, cid: str, message_id: int | None) -> bool:
        if message_id is not None and not self._in_conversation(conn, cid, message_id):
            return False
        return self._update_conversation(conn, owner, cid, "active_id = ?", message_id)

    def _update_message(self, conn: Conn, owner: str, message_id: int,
                        row: tuple[Any, ...]) -> bool:
        """`row` is (content, status, reason, steps JSON, sources JSON, figures JSON, updated)."""
        found = self._sql.execute(conn, "SELECT c.id FROM messages m JOIN conversations c"
                                  " ON c.id = m.conversation_id WHERE m.id = ? AND c.owner = ?",
                                  message_id, owner).fetchone()
        if found is not None:
            self._sql.execute(conn, "UPDATE messages SET content = ?, status = ?, reason = ?,"
                              " steps = ?, sources = ?, figures = ?, updated = ? WHERE id = ?", *row,
                              message_id)
            self._sql.execute(conn, "UPDATE conversations SET updated = ? WHERE id = ?",
                              row[6], found[0])
            self._sql.message_changed(conn, message_id)
        return found is not None


def message_from_row(row: tuple[Any, ...], images: Sequence[StoredImage]) -> Message:
    """A row of `SELECT id, position, role, content, status, reason, settings, created,
    updated, steps, sources, parent_id, replica, figures`."""
    settings, steps, sources = json.loads(row[6]) if row[6] else None, row[9], row[10]
    figures = json.loads(row[13]) if row[13] else None
    return Message(row[0], row[1], row[2], row[3], row[4], row[5], settings, row[7], row[8],
                   tuple(json.loads(steps)) if steps else (),
                   tuple(json.loads(sources)) if sources else (), tuple(images), row[11], row[12],
                   figures)


def _json_object(value: Any) -> dict[str, Any]:
    """SQLite keeps JSON as text; PostgreSQL's jsonb arrives parsed."""
    return dict(json.loads(value) if isinstance(value, str) else value)
