"""What each database keeps on disk: restarts, migrations, deleted bytes, crashes.

The SQLite file in tmp_path, and a real PostgreSQL database (see conftest.py).
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.storage.records import new_conversation_id
from assistant.storage.sqlite.store import MIGRATIONS, DatabaseClosed
from assistant.storage.sqlite.store import SQLiteStore as Store
from tests.test_store import _chat

ROOT = Path(__file__).resolve().parent.parent


def _wal(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_data_survives_a_restart(tmp_path):
    with Store.in_directory(tmp_path) as first:
        cid = _chat(first, "alice", "Remember me", "I will")
        first.add_memory("alice", "Prefers metric units")
    assert (tmp_path / "assistant.sqlite3").exists()
    with Store.in_directory(tmp_path) as second:
        c = second.get_conversation("alice", cid)
        assert [m.content for m in c.messages] == ["Remember me", "I will"]
        assert [m.text for m in second.list_memories("alice")] == ["Prefers metric units"]
        with sqlite3.connect(second.path) as raw:
            assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


V1_SCHEMA = """
CREATE TABLE conversations (id TEXT PRIMARY KEY, owner TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '', settings TEXT NOT NULL DEFAULT '{}',
    created REAL NOT NULL, updated REAL NOT NULL);
CREATE INDEX conversations_by_owner ON conversations (owner, updated);
CREATE TABLE messages (id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    position INTEGER NOT NULL, role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
    content TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'complete' CHECK
        (status IN ('complete', 'streaming', 'stopped', 'failed', 'truncated')),
    reason TEXT, settings TEXT, created REAL NOT NULL, updated REAL NOT NULL,
    UNIQUE (conversation_id, position));
INSERT INTO conversations VALUES ('old-id', 'alice', 'From v1', '{"temperature": 0.3}', 1, 2);
INSERT INTO messages (conversation_id, position, role, content, created, updated)
    VALUES ('old-id', 0, 'user', 'written by version 1', 1, 1);
PRAGMA user_version = 1;
"""


def test_a_file_from_schema_v1_is_migrated_and_keeps_its_data(tmp_path):
    path = tmp_path / "assistant.sqlite3"
    with sqlite3.connect(path) as raw:  # what the first release wrote (frozen here on purpose)
        raw.executescript(V1_SCHEMA)
    raw.close()
    with Store(path) as store:
        c = store.get_conversation("alice", "old-id")
        assert c.title == "From v1" and c.settings == {"temperature": 0.3}
        assert [m.content for m in c.messages] == ["written by version 1"]
        store.add_message("alice", "old-id", "assistant", "answered by version 2")
        assert len(store.search_messages("alice", "version")) == 2  # old text indexed too
        assert store.add_memory("alice", "memories arrived in v2") > 0
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 11
    raw.close()


def test_postgres_tracks_its_migrations_and_refuses_a_newer_schema(database_url):
    import psycopg

    from assistant.storage.postgres.store import MIGRATIONS as PG_MIGRATIONS
    from assistant.storage.postgres.store import PostgresStore

    with PostgresStore(database_url), PostgresStore(database_url):  # two replicas migrate once
        pass
    with psycopg.connect(database_url, autocommit=True) as raw:
        versions = [v for (v,) in raw.execute("SELECT version FROM schema_migrations")]
        assert versions == list(range(1, len(PG_MIGRATIONS) + 1))
        raw.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (len(PG_MIGRATIONS) + 1,))
    with pytest.raises(RuntimeError, match="Upgrade the app"):
        PostgresStore(database_url)


def test_only_a_dead_processs_replies_are_marked_cut_off(store_location):
    alive, dead = store_location.open("alive"), store_location.open("dead")
    try:
        cid = alive.create_conversation("alice")
        live = alive.add_message("alice", cid, "assistant", "still writing", "streaming")
        cut = dead.add_message("alice", cid, "assistant", "cut off mid-", "streaming")
        alive.beat("alive", 1_000.0)
        dead.beat("dead", 990.0)

        assert alive.mark_interrupted("The server stopped.", alive_since=997.0) == 1
        status = {m.id: (m.status, m.reason) for m in alive.get_conversation("alice", cid).messages}
        assert status[cut] == ("failed", "The server stopped.")
        assert status[live] == ("streaming", None)
        assert alive.mark_interrupted("The server stopped.", alive_since=1_001.0) == 1  # now both
    finally:
        alive.close()
        dead.close()


def test_a_file_from_a_newer_app_is_refused(tmp_path):
    path = tmp_path / "assistant.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    raw.close()
    with pytest.raises(RuntimeError, match="Upgrade the app"):
        Store(path)


def test_deleted_text_leaves_the_database_and_wal_files(tmp_path):
    marker, memory_marker = "ZQX-deleted-marker-7731", "ZQX-memory-marker-4410"
    path = tmp_path / "assistant.sqlite3"
    with Store(path) as store:
        keep = _chat(store, "alice", "Keep this one", "Sure")
        cid = _chat(store, "alice", f"Title {marker}", f"{marker} " * 2000)  # overflow pages too
        mid = store.add_message("alice", cid, "assistant", "", "streaming")
        for n in range(5):
            store.update_message("alice", mid, f"{marker} draft {n}", "streaming")
        memory = store.add_memory("alice", memory_marker)
        store.list_conversations("alice", query=marker)  # leaves an idle reader behind
        assert marker.encode() in path.read_bytes() + _wal(path)

        assert store.delete_conversation("alice", cid)
        assert store.delete_memory("alice", memory)
        for blob in (path.read_bytes(), _wal(path)):  # already gone while the app runs
            assert marker.encode() not in blob and memory_marker.encode() not in blob
    for blob in (path.read_bytes(), _wal(path)):
        assert marker.encode() not in blob and memory_marker.encode() not in blob
    with Store(path) as store:
        assert [c.id for c in store.list_conversations("alice")] == [keep]


def test_a_closed_store_refuses_work_and_closes_twice(tmp_path):
    store = Store.in_directory(tmp_path)
    store.close()
    store.close()
    store.flush()  # nothing is pending
    with pytest.raises(DatabaseClosed):
        store.defer(store.add_memory, "alice", "x")
    with pytest.raises(DatabaseClosed):
        store.list_conversations("alice")


KILLED_WRITER = """
import os, signal, sys
from assistant.storage.sqlite.store import SQLiteStore as Store
store = Store(sys.argv[1])
cid = store.create_conversation("alice", None, {"temperature": 0.5}, conversation_id=sys.argv[2])
store.add_message("alice", cid, "user", "Before the crash")
mid = store.add_message("alice", cid, "assistant", "", "streaming")
store.defer(store.update_message, "alice", mid, "Half a reply", "streaming")
store.flush()
os.kill(os.getpid(), signal.SIGKILL)  # no close(), no atexit, no checkpoint
"""


def test_committed_writes_survive_kill_9(tmp_path):
    path, cid = tmp_path / "assistant.sqlite3", new_conversation_id()
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(path), cid], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == -9, done.stderr
    with Store(path) as store:
        c = store.get_conversation("alice", cid)
        assert [(m.content, m.status) for m in c.messages] == [
            ("Before the crash", "complete"), ("Half a reply", "streaming")]
