"""The store in one SQLite file, each row owned by one user (see ../repository.py).

The SQL is ../sql_store.py's; here are the file's schema and what SQLite says its own way.
Writes run in order on one writer thread (database.py); reads on connections beside it.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Sequence

from ..records import NotFound
from ..sql_dialect import Conn, Dialect
from ..sql_figures import figure_tables
from ..sql_store import TREE_FROM_LINES, SQLStore, message_from_row
from .database import Database, DatabaseClosed

__all__ = ["SQLiteStore", "DatabaseClosed", "NotFound", "FILENAME", "MIGRATIONS", "message_from_row"]

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
    # 6: a conversation is a tree of messages; it shows the path that ends at its active one
    ("ALTER TABLE messages ADD COLUMN parent_id INTEGER REFERENCES messages (id) ON DELETE CASCADE",
     "ALTER TABLE conversations ADD COLUMN active_id INTEGER",
     *TREE_FROM_LINES),
    # 7: API keys, kept as their SHA-256 digests only
    ("""CREATE TABLE api_keys (id TEXT PRIMARY KEY, owner TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '', digest TEXT NOT NULL UNIQUE, created REAL NOT NULL)""",
     "CREATE INDEX api_keys_by_owner ON api_keys (owner, created)"),
    # 8: pins and folders; every message in a full-text index, kept by triggers
    ("""CREATE TABLE folders (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
            created REAL NOT NULL)""",
     "CREATE INDEX folders_by_owner ON folders (owner, name)",
     "ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0",
     "ALTER TABLE conversations ADD COLUMN folder_id TEXT REFERENCES folders (id) ON DELETE SET NULL",
     """CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages',
            content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')""",
     """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
            INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END""",
     """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content); END""",
     """CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
            INSERT INTO messages_fts (messages_fts, rowid, content)
            VALUES ('delete', old.id, old.content);
            INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END""",
     "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')"),
    # 9: share links: read-only snapshots of chats, opened by a long random token
    ("""CREATE TABLE shares (token TEXT PRIMARY KEY, owner TEXT NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            title TEXT NOT NULL, snapshot TEXT NOT NULL, audience TEXT NOT NULL,
            created REAL NOT NULL, expires REAL)""",
     "CREATE INDEX shares_by_owner ON shares (owner, created)",
     "CREATE INDEX shares_by_conversation ON shares (conversation_id)"),
    # 10: a reply keeps the figures of its stats line: time to first token, tokens, route
    ("ALTER TABLE messages ADD COLUMN figures TEXT",),
    # 11: the operators' figures, summed per day, and the questions users agreed to show
    figure_tables("REAL"),
)
SEARCH = """WITH recent AS (SELECT messages_fts.rowid AS id, rank FROM messages_fts
        JOIN messages m ON m.id = messages_fts.rowid JOIN conversations c ON c.id = m.conversation_id
        WHERE messages_fts MATCH ? AND c.owner = ? ORDER BY messages_fts.rowid DESC LIMIT ?)
    SELECT c.id, c.title, m.id, m.role, m.content, c.updated FROM recent
    JOIN messages m ON m.id = recent.id JOIN conversations c ON c.id = m.conversation_id
    ORDER BY recent.rank, m.id DESC LIMIT ?"""
SCHEMA_VERSION = len(MIGRATIONS)


def _casefold(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


class SQLiteDialect(Dialect):
    order = "rowid"
    merge_settings = "settings = json_patch(settings, ?)"

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.db: Database = db  # this database's own type, for checkpoint_after_commit

    def contains(self, column: str) -> str:
        return f"instr(casefold({column}), ?)"  # casefold() is _casefold, on every reader

    def search(self, conn: Conn, owner: str, terms: Sequence[str], among: int,
               limit: int) -> list[Any]:
        match = " ".join(f'"{term}"' for term in terms) + "*"  # terms are \w+: no quotes
        return list(self.execute(conn, SEARCH, match, owner, among, limit).fetchall())

    def forget_deleted_text(self, conn: Conn) -> None:
        # FTS5 marks deleted rows and drops their words only when it merges its segments.
        self.execute(conn, "INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")

    def insert(self, conn: Conn, sql: str, *params: Any) -> int:
        cursor: sqlite3.Cursor = self.execute(conn, sql, *params)
        return int(cursor.lastrowid or 0)

    def scrub_after_commit(self, tables: Sequence[str]) -> None:
        self.db.checkpoint_after_commit()  # secure_delete zeroed the rows; this empties the WAL


class SQLiteStore(SQLStore):
    """The one storage object of the app; create it once, `close()` it at shutdown."""

    def __init__(self, path: str | os.PathLike[str], replica: str = "") -> None:
        db = Database(path, MIGRATIONS, {"casefold": _casefold})
        super().__init__(SQLiteDialect(db), replica)
        self.path = db.path

    @classmethod
    def in_directory(cls, data_dir: str | os.PathLike[str], replica: str = "") -> SQLiteStore:
        return cls(Path(data_dir) / FILENAME, replica)
