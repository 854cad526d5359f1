"""The store, on a real SQLite file in tmp_path and on a real PostgreSQL database."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from assistant.storage.records import NotFound, auto_title
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
    assert exported["format"] == "streaming-assistant/conversation" and exported["version"] == 2

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
    (_export(version=3), "from a newer app"),
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
