"""The store in a PostgreSQL database, each row owned by one user (see ../repository.py).

Chosen by ASSISTANT_DATABASE_URL=postgresql://…, so that several app processes (replicas)
share one database. The SQL is ../sql_store.py's, as the SQLite store's is; here are the
schema and what PostgreSQL says its own way. Writes run in order on one writer thread
(database.py), reads on pooled connections.
"""

from __future__ import annotations

from typing import Any, Sequence

from ..sql_dialect import Conn, Dialect
from ..sql_figures import figure_tables
from ..sql_store import ALIVE_REPLICAS, TREE_FROM_LINES, SQLStore
from .database import Database
from .signals import CHANNEL, PostgresSignals
from .usage import PostgresUsage

__all__ = ["PostgresStore", "MIGRATIONS"]

# Step n takes the database from version n-1 to n. Append new steps; never edit a shipped one.
# Words without their accents ("café" is "cafe"), by the unaccent extension where the server
# has it and lets us add it; without it, as they are.
SEARCH_WORDS = (
    """DO $$ BEGIN
        CREATE EXTENSION IF NOT EXISTS unaccent;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'no unaccent: search will not fold accents';
    END $$""",
    "CREATE TEXT SEARCH CONFIGURATION assistant_words (COPY = simple)",
    """DO $$ BEGIN
        IF EXISTS (SELECT 1 FROM pg_ts_dict WHERE dictname = 'unaccent') THEN
            ALTER TEXT SEARCH CONFIGURATION assistant_words ALTER MAPPING FOR
                asciihword, asciiword, hword, hword_asciipart, hword_part, word
                WITH unaccent, simple;
        END IF;
    END $$""")

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
    # 3: a conversation is a tree of messages; it shows the path that ends at its active one
    ("ALTER TABLE messages ADD COLUMN parent_id BIGINT REFERENCES messages (id) ON DELETE CASCADE",
     "ALTER TABLE conversations ADD COLUMN active_id BIGINT",
     *TREE_FROM_LINES),
    # 4: API keys, kept as their SHA-256 digests only
    ("""CREATE TABLE api_keys (id TEXT PRIMARY KEY, owner TEXT NOT NULL,
            name TEXT NOT NULL DEFAULT '', digest TEXT NOT NULL UNIQUE,
            created DOUBLE PRECISION NOT NULL)""",
     "CREATE INDEX api_keys_by_owner ON api_keys (owner, created)"),
    # 5: pins and folders; every message's words, in a column with a GIN index
    ("""CREATE TABLE folders (id TEXT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL)""",
     "CREATE INDEX folders_by_owner ON folders (owner, name)",
     "ALTER TABLE conversations ADD COLUMN pinned BOOLEAN NOT NULL DEFAULT false",
     "ALTER TABLE conversations ADD COLUMN folder_id TEXT REFERENCES folders (id) ON DELETE SET NULL",
     """ALTER TABLE messages ADD COLUMN words tsvector
            GENERATED ALWAYS AS (to_tsvector('simple', content)) STORED""",
     "CREATE INDEX messages_by_words ON messages USING GIN (words)"),
    # 6: share links: read-only snapshots of chats, opened by a long random token
    ("""CREATE TABLE shares (token TEXT PRIMARY KEY, owner TEXT NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
            title TEXT NOT NULL, snapshot TEXT NOT NULL, audience TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL, expires DOUBLE PRECISION)""",
     "CREATE INDEX shares_by_owner ON shares (owner, created)",
     "CREATE INDEX shares_by_conversation ON shares (conversation_id)"),
    # 7: a reply keeps the figures of its stats line: time to first token, tokens, route
    ("ALTER TABLE messages ADD COLUMN figures TEXT",),
    # 8: search folds accents, as SQLite's does (where the server has unaccent), and walks
    # only the owner's messages, newest first
    (*SEARCH_WORDS,
     "ALTER TABLE messages DROP COLUMN words",
     """ALTER TABLE messages ADD COLUMN words tsvector
            GENERATED ALWAYS AS (strip(to_tsvector('assistant_words', content))) STORED""",
     "CREATE INDEX messages_by_words ON messages USING GIN (words)",
     "ALTER TABLE messages ADD COLUMN owner TEXT",
     """UPDATE messages m SET owner = c.owner FROM conversations c
            WHERE c.id = m.conversation_id""",
     """CREATE FUNCTION messages_take_owner() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            SELECT owner INTO NEW.owner FROM conversations WHERE id = NEW.conversation_id;
            RETURN NEW;
        END $$""",
     """CREATE TRIGGER messages_take_owner BEFORE INSERT ON messages
            FOR EACH ROW EXECUTE FUNCTION messages_take_owner()""",
     "CREATE INDEX messages_by_owner ON messages (owner, (-id))"),
    # 9: the operators' figures, summed per day, and the questions users agreed to show
    figure_tables("DOUBLE PRECISION"),
)
SEARCH = """WITH recent AS (SELECT id, words FROM messages
        WHERE words @@ to_tsquery('assistant_words', ?) AND owner = ?
        ORDER BY -id LIMIT ?),
    best AS (SELECT id, ts_rank(words, to_tsquery('assistant_words', ?)) AS rank FROM recent
        ORDER BY rank DESC, id DESC LIMIT ?)
    SELECT c.id, c.title, m.id, m.role, m.content, c.updated FROM best
    JOIN messages m ON m.id = best.id JOIN conversations c ON c.id = m.conversation_id
    ORDER BY best.rank DESC, best.id DESC"""


class PostgresDialect(Dialect):
    order = "seq"
    merge_settings = "settings = settings || ?::jsonb"
    lock = " FOR UPDATE"  # two replicas appending to one conversation take turns

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.db: Database = db  # this database's own type, for vacuum_after_commit

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")  # so the core's SQL holds no other "?" (nor "%")

    def contains(self, column: str) -> str:
        return f"replace(lower({column}), 'ß', 'ss') LIKE ?"  # near Python's casefold()

    def needle(self, folded: str) -> str:  # a LIKE pattern: the text anywhere, taken literally
        return "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"

    def search(self, conn: Conn, owner: str, terms: Sequence[str], among: int,
               limit: int) -> list[Any]:
        query = " & ".join(f"'{term}'" for term in terms) + ":*"  # terms are \w+: no quotes
        # Planned for these words each time: a plan made for a rare word (walk the newest
        # messages) takes seconds for one found nowhere, and the reverse.
        return list(conn.execute(self.sql(SEARCH), (query, owner, among, query, limit),
                                 prepare=False).fetchall())

    def insert(self, conn: Conn, sql: str, *params: Any) -> int:
        row = self.execute(conn, sql + " RETURNING id", *params).fetchone()
        return int(row[0]) if row else 0

    def scrub_after_commit(self, tables: Sequence[str]) -> None:
        self.db.vacuum_after_commit(*tables)

    def message_changed(self, conn: Conn, message_id: int) -> None:
        self.execute(conn, "SELECT pg_notify(?, ?)", CHANNEL, f"changed {message_id}")


class PostgresStore(SQLStore):
    """The one storage object of the app; create it once, `close()` it at shutdown."""

    def __init__(self, url: str, replica: str = "") -> None:
        db = Database(url, MIGRATIONS)
        super().__init__(PostgresDialect(db), replica)
        self.usage = PostgresUsage(db)
        self.signals = PostgresSignals(db)  # replies that other processes write and follow

    def close(self) -> None:
        self.signals.close()
        super().close()

    def _mark_interrupted(self, conn: Conn, reason: str, alive_since: float | None) -> int:
        self._sql.execute(conn, "DELETE FROM usage_streams WHERE CAST(? AS REAL) IS NULL"  # their slots
                          f" OR replica NOT IN ({ALIVE_REPLICAS})", alive_since, alive_since)
        return super()._mark_interrupted(conn, reason, alive_since)
