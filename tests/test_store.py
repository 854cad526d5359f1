"""The store, on a real SQLite file in tmp_path and on a real PostgreSQL database."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from assistant.storage.records import NotFound, auto_title, new_conversation_id
from assistant.storage.sqlite.store import MIGRATIONS, DatabaseClosed
from assistant.storage.sqlite.store import SQLiteStore as Store

SETTINGS = {"model": "gpt-4.1-mini", "temperature": 0.7, "system_prompt": "Be brief.",
            "history_turns": 10, "max_tokens": 1024}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(any_store):
    """Each test that takes `store` runs on SQLite and on PostgreSQL."""
    return any_store


def _chat(store: Store, owner: str, *texts: str, title: str | None = None) -> str:
    cid = store.create_conversation(owner, title, SETTINGS)
    for i, text in enumerate(texts):
        store.add_message(owner, cid, "user" if i % 2 == 0 else "assistant", text)
    return cid


def test_a_conversation_keeps_its_messages_in_order_with_settings(store):
    cid = store.create_conversation("alice", None, SETTINGS)
    store.add_message("alice", cid, "user", "  \n What is WAL mode?\nPlease explain.")
    mid = store.add_message("alice", cid, "assistant", "", "streaming",
                            settings={"model": "gpt-4.1-mini-2025", "temperature": 0.7})
    assert store.update_message("alice", mid, "Write-ahead logging", "truncated", "Too long")

    c = store.get_conversation("alice", cid)
    assert c is not None and c.id == cid
    assert c.title == "What is WAL mode?"  # the first non-blank line of the first user message
    assert c.settings == SETTINGS
    assert [(m.position, m.role, m.status) for m in c.messages] == [
        (0, "user", "complete"), (1, "assistant", "truncated")]
    assert c.messages[1].content == "Write-ahead logging" and c.messages[1].reason == "Too long"
    assert c.messages[1].settings == {"model": "gpt-4.1-mini-2025", "temperature": 0.7}
    assert c.messages[0].settings is None


def test_titles_and_settings_can_change(store):
    cid = store.create_conversation("alice", "Given title", SETTINGS)
    store.add_message("alice", cid, "user", "this does not rename it")
    assert store.get_conversation("alice", cid).title == "Given title"
    assert store.rename_conversation("alice", cid, "  New\nname ")
    assert store.update_settings("alice", cid, {"temperature": 1.2})
    c = store.get_conversation("alice", cid)
    assert c.title == "New name" and c.settings == {**SETTINGS, "temperature": 1.2}
    with pytest.raises(ValueError, match="empty"):
        store.rename_conversation("alice", cid, "   ")
    with pytest.raises(ValueError, match="unknown conversation settings: colour"):
        store.update_settings("alice", cid, {"colour": "blue"})


@pytest.mark.parametrize("text, title", [
    ("Hello", "Hello"),
    ("\n\n  spaced   out  \nsecond line", "spaced out"),
    ("word " * 30, "word word word word word word word word word word word word…"),
    ("x" * 100, "x" * 59 + "…"),
    ("", ""),
])
def test_auto_title(text, title):
    assert auto_title(text) == title and len(auto_title(text)) <= 60


def test_bad_arguments_are_refused(store):
    cid = store.create_conversation("alice")
    with pytest.raises(ValueError, match="role"):
        store.add_message("alice", cid, "system", "x")
    with pytest.raises(ValueError, match="status"):
        store.add_message("alice", cid, "user", "x", status="done")
    with pytest.raises(ValueError, match="owner"):
        store.create_conversation("")
    with pytest.raises(NotFound):
        store.add_message("alice", "no-such-id", "user", "x")
    assert not store.update_message("alice", 999_999, "x", "complete")


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


def test_owners_never_reach_each_others_rows(store):
    cid = _chat(store, "alice", "Alice's secret plan", "Noted")
    mid = store.get_conversation("alice", cid).messages[1].id
    memory = store.add_memory("alice", "Alice's birthday is in May")

    assert store.list_conversations("bob") == []
    assert store.list_conversations("bob", query="secret") == []
    assert store.get_conversation("bob", cid) is None
    assert store.get_conversation("bob", cid) == store.get_conversation("bob", "missing")
    assert not store.rename_conversation("bob", cid, "mine now")
    assert not store.update_settings("bob", cid, {"temperature": 2})
    assert not store.delete_conversation("bob", cid)
    assert not store.update_message("bob", mid, "overwritten", "complete")
    with pytest.raises(NotFound):
        store.add_message("bob", cid, "user", "sneaking in")
    with pytest.raises(NotFound):
        store.export_json("bob", cid)
    with pytest.raises(NotFound):
        store.export_markdown("bob", cid)
    assert store.list_memories("bob") == []
    assert not store.delete_memory("bob", memory)

    c = store.get_conversation("alice", cid)
    assert c.title == "Alice's secret plan" and c.settings == SETTINGS
    assert [m.content for m in c.messages] == ["Alice's secret plan", "Noted"]
    assert [m.id for m in store.list_memories("alice")] == [memory]


def test_list_is_most_recent_first_and_searches_titles_and_text(store):
    old = _chat(store, "alice", "Über Straßen in Köln", "Sie sind SCHMAL.")
    new = _chat(store, "alice", "Recipe for soup", "Use 100% tomatoes")
    _chat(store, "bob", "Straßen too")
    assert [c.id for c in store.list_conversations("alice")] == [new, old]
    store.add_message("alice", old, "user", "And bridges?")
    assert [c.id for c in store.list_conversations("alice")] == [old, new]
    assert [c.id for c in store.list_conversations("alice", limit=1)] == [old]

    assert [c.id for c in store.list_conversations("alice", query="ÜBER")] == [old]  # title
    assert [c.id for c in store.list_conversations("alice", query="schmal")] == [old]  # text
    assert [c.id for c in store.list_conversations("alice", query="STRASSEN")] == [old]
    assert [c.id for c in store.list_conversations("alice", query="100%")] == [new]
    assert store.list_conversations("alice", query="%") == [store.list_conversations("alice")[1]]
    assert store.list_conversations("alice", query="nothing like this") == []
    assert len(store.list_conversations("alice", query="  ")) == 2


def test_json_export_imports_as_a_new_conversation_of_the_importer(store):
    cid = _chat(store, "alice", "Plan a trip\nto Lisbon", "Day 1: Alfama")
    mid = store.add_message("alice", cid, "assistant", "Day 2", "failed", "The model timed out.",
                            settings={"model": "m"})
    exported = json.loads(json.dumps(store.export_json("alice", cid)))
    assert exported["format"] == "streaming-assistant/conversation" and exported["version"] == 1

    copy = store.import_json("bob", json.dumps(exported))
    assert copy != cid
    assert store.get_conversation("alice", copy) is None
    original, imported = store.get_conversation("alice", cid), store.get_conversation("bob", copy)
    assert imported.title == original.title == "Plan a trip"
    assert imported.settings == original.settings
    shape = lambda c: [(m.role, m.content, m.status, m.reason, m.settings)  # noqa: E731
                       for m in c.messages]
    assert shape(imported) == shape(original)
    assert store.export_json("bob", copy)["messages"] == exported["messages"]  # times too
    assert store.get_conversation("alice", cid).messages[-1].id == mid  # untouched


def test_markdown_export(store):
    cid = _chat(store, "alice", "Explain **WAL**", "It is a *log*.")
    store.add_message("alice", cid, "user", "More?")
    store.add_message("alice", cid, "assistant", "Well", "stopped")
    markdown = store.export_markdown("alice", cid)
    assert markdown.startswith("# Explain **WAL**\n")
    assert "model: gpt-4.1-mini, temperature: 0.7" in markdown
    assert "> **System prompt:** Be brief." in markdown
    assert "## User\n\nExplain **WAL**\n\n## Assistant\n\nIt is a *log*.\n" in markdown
    assert markdown.rstrip().endswith("## Assistant\n\nWell\n\n> ⚠️ Reply stopped")


def _export(**changes):
    data = {"format": "streaming-assistant/conversation", "version": 1, "title": "t",
            "messages": [{"role": "user", "content": "hi"}]}
    data.update(changes)
    return data


@pytest.mark.parametrize("data, problem", [
    ("{not json", "not valid JSON"),
    ([1, 2], "expected a JSON object"),
    ({"messages": []}, '"format" must be'),
    (_export(version=2), "from a newer app"),
    (_export(version="1"), '"version" must be'),
    (_export(title=5), '"title" must be a string'),
    (_export(settings=[]), '"settings" must be an object'),
    (_export(settings={"temperature": [1]}), "strings or numbers"),
    (_export(messages={"role": "user"}), '"messages" must be a list'),
    (_export(messages=["hi"]), r"messages\[0\] must be an object"),
    (_export(messages=[{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]),
     r"messages\[1\].role"),
    (_export(messages=[{"role": "user", "content": None}]), r"messages\[0\].content"),
    (_export(messages=[{"role": "user", "content": "", "status": "ok"}]), r"messages\[0\].status"),
    (_export(messages=[{"role": "user", "content": "", "reason": 3}]), r"messages\[0\].reason"),
    (_export(messages=[{"role": "assistant", "content": "", "settings": 3}]),
     r"messages\[0\].settings"),
])
def test_import_rejects_garbage_with_a_clear_message(store, data, problem):
    with pytest.raises(ValueError, match=problem):
        store.import_json("alice", data)
    assert store.list_conversations("alice") == []


def test_import_is_lenient_where_it_can_be(store):
    cid = store.import_json("alice", _export(
        title="", settings={"temperature": 0.2, "future_setting": 1},
        messages=[{"role": "user", "content": "Lone \ud800 surrogate"},
                  {"role": "assistant", "content": "half", "status": "streaming",
                   "created": "not a date"}]))
    c = store.get_conversation("alice", cid)
    assert c.title == "Lone \ufffd surrogate" and c.settings == {"temperature": 0.2}
    assert c.messages[1].status == "stopped"  # nothing streams into an imported copy


def test_memories(store):
    first = store.add_memory("alice", "  Likes tea ")
    second = store.add_memory("alice", "Lives in Oslo")
    store.add_memory("bob", "Likes coffee")
    assert [(m.id, m.text) for m in store.list_memories("alice")] == [
        (first, "Likes tea"), (second, "Lives in Oslo")]
    assert store.delete_memory("alice", first)
    assert not store.delete_memory("alice", first)
    assert [m.text for m in store.list_memories("alice")] == ["Lives in Oslo"]
    assert [m.text for m in store.list_memories("bob")] == ["Likes coffee"]
    with pytest.raises(ValueError, match="empty"):
        store.add_memory("alice", " ")


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
        assert store.add_memory("alice", "memories arrived in v2") > 0
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 5
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


def _wal(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return wal.read_bytes() if wal.exists() else b""


def test_fifty_writers_at_once_lose_nothing(store):
    start, errors, ids = threading.Barrier(50), [], {}

    def writer(n: int) -> None:
        try:
            start.wait()
            owner = f"user{n}"
            cid = store.create_conversation(owner, None, SETTINGS)
            ids[owner] = cid
            for i in range(20):
                store.add_message(owner, cid, "user" if i % 2 == 0 else "assistant", f"{n}:{i}")
                if i % 5 == 0:
                    store.list_conversations(owner, query=f"{n}:")  # reads beside the writes
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for n in range(50):
        c = store.get_conversation(f"user{n}", ids[f"user{n}"])
        assert [m.content for m in c.messages] == [f"{n}:{i}" for i in range(20)]
        assert [m.position for m in c.messages] == list(range(20))


def test_submitted_writes_run_in_order_and_flush_waits_for_them(store):
    cid = store.create_conversation("alice")
    mid = store.add_message("alice", cid, "assistant", "", "streaming")
    futures = [store.defer(store.update_message, "alice", mid, "x" * n, "streaming")
               for n in range(1, 101)]
    store.defer(store.update_message, "alice", mid, "done", "complete")
    store.flush()
    assert all(f.done() and f.result() for f in futures)
    assert store.get_conversation("alice", cid).messages[0].content == "done"
    failing = store.defer(store.add_message, "alice", "missing", "user", "x")
    store.flush()
    assert isinstance(failing.exception(), NotFound)


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


def test_deleting_an_owner_removes_every_row_of_theirs_and_keeps_the_others(store):
    mine, theirs = _chat(store, "alice", "my secret question"), _chat(store, "bob", "bob's")
    store.add_memory("alice", "alice likes tea")
    store.documents.add_document("alice", "doc-1", "notes.md", "markdown", 10, 1, "/x",
                                 [(0, None, "", "alice's passage", None)])

    assert store.delete_owner("alice") == 3  # a conversation, a memory, a document
    assert store.get_conversation("alice", mine) is None
    assert store.list_memories("alice") == [] and store.documents.list_documents("alice") == []
    assert store.documents.passages("alice") == []
    assert store.get_conversation("bob", theirs) is not None


def test_untouched_conversations_go_and_the_rest_stay(store):
    old = _chat(store, "alice", "old")
    touched = store.get_conversation("alice", old).updated
    new = _chat(store, "alice", "new")
    assert store.get_conversation("alice", new).updated > touched + 1e-6
    assert store.delete_untouched(touched + 1e-6) == 1
    assert [c.id for c in store.list_conversations("alice")] == [new]
    assert store.get_conversation("alice", old) is None
