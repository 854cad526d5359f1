"""A conversation is a tree of messages with one active path, on SQLite and PostgreSQL:
versions, branches, migrating linear chats, and exports that carry the tree."""

from __future__ import annotations

import json
import sqlite3

import pytest

from assistant.storage.records import NotFound


@pytest.fixture
def store(any_store):
    """On SQLite and on PostgreSQL."""
    return any_store


def _contents(messages) -> list[str]:
    return [m.content for m in messages]


def test_a_new_version_of_a_reply_keeps_the_old_one_as_its_sibling(store):
    cid = store.create_conversation("alice")
    question = store.add_message("alice", cid, "user", "Name a colour", parent_id=None)
    first = store.add_message("alice", cid, "assistant", "Red", parent_id=question)
    second = store.add_message("alice", cid, "assistant", "Blue", parent_id=question)

    chat = store.get_conversation("alice", cid)
    assert chat.active_id == second
    assert _contents(chat.path()) == ["Name a colour", "Blue"]
    [blue] = [m for m in chat.messages if m.id == second]
    assert [m.id for m in chat.siblings(blue)] == [first, second]

    assert store.set_active("alice", cid, first)
    assert _contents(store.get_conversation("alice", cid).path()) == ["Name a colour", "Red"]
    store.add_message("alice", cid, "user", "Darker?")  # after the message the chat shows
    assert _contents(store.get_conversation("alice", cid).path()) == [
        "Name a colour", "Red", "Darker?"]


def test_an_edited_first_message_starts_a_branch_from_the_root(store):
    cid = store.create_conversation("alice")
    store.add_message("alice", cid, "user", "Hi")
    store.add_message("alice", cid, "assistant", "Hello")
    store.add_message("alice", cid, "user", "Hi there", parent_id=None)
    chat = store.get_conversation("alice", cid)
    assert _contents(chat.path()) == ["Hi there"] and len(chat.messages) == 3
    assert store.set_active("alice", cid, None)
    assert store.get_conversation("alice", cid).path() == ()


def test_a_branch_stays_inside_its_own_conversation_and_owner(store):
    mine, theirs = store.create_conversation("alice"), store.create_conversation("bob")
    bobs = store.add_message("bob", theirs, "user", "Bob's secret")
    with pytest.raises((NotFound, ValueError)):
        store.add_message("alice", mine, "assistant", "leak", parent_id=bobs)
    assert not store.set_active("alice", mine, bobs)
    assert not store.set_active("alice", theirs, bobs)
    assert store.get_conversation("bob", theirs).active_id == bobs


def test_exports_carry_the_tree_and_import_it_whole(store):
    cid = store.create_conversation("alice")
    question = store.add_message("alice", cid, "user", "Name a colour")
    store.add_message("alice", cid, "assistant", "Red")
    blue = store.add_message("alice", cid, "assistant", "Blue", parent_id=question)
    store.set_active("alice", cid, blue)

    exported = json.loads(json.dumps(store.export_json("alice", cid)))
    assert exported["version"] == 2 and exported["active"] == 2
    assert [m.get("parent") for m in exported["messages"]] == [None, 0, 0]
    markdown = store.export_markdown("alice", cid)
    assert "Blue" in markdown and "Red" not in markdown  # the path the chat shows

    copy = store.get_conversation("bob", store.import_json("bob", json.dumps(exported)))
    assert _contents(copy.path()) == ["Name a colour", "Blue"]
    assert sorted(_contents(copy.messages)) == ["Blue", "Name a colour", "Red"]


def test_a_version_1_export_imports_as_one_path(store):
    old = {"format": "streaming-assistant/conversation", "version": 1, "title": "t",
           "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                        {"role": "user", "content": "c"}]}
    chat = store.get_conversation("alice", store.import_json("alice", json.dumps(old)))
    assert _contents(chat.path()) == ["a", "b", "c"]


@pytest.mark.parametrize("change, problem", [
    ({"active": 7}, '"active" must be'),
    ({"messages": [{"role": "user", "content": "a", "parent": 0}]}, r"messages\[0\].parent"),
    ({"messages": [{"role": "user", "content": "a", "parent": "x"}]}, r"messages\[0\].parent"),
])
def test_a_bad_tree_in_an_export_is_refused_with_what_is_wrong(store, change, problem):
    data = {"format": "streaming-assistant/conversation", "version": 2, "title": "t",
            "messages": [{"role": "user", "content": "a"}], **change}
    with pytest.raises(ValueError, match=problem):
        store.import_json("alice", json.dumps(data))


# Migrating the chats written before the tree ---------------------------------------------

LINEAR = [("user", "one"), ("assistant", "two"), ("user", "three"), ("assistant", "four")]


def _linear_rows(execute, placeholder: str) -> None:
    p = placeholder
    execute(f"INSERT INTO conversations (id, owner, title, settings, created, updated)"
            f" VALUES ({p}, {p}, {p}, '{{}}', 1, 2)", ("old-chat", "alice", "Old"))
    for position, (role, content) in enumerate(LINEAR):
        execute(f"INSERT INTO messages (conversation_id, position, role, content, created,"
                f" updated) VALUES ({p}, {p}, {p}, {p}, 1, 1)",
                ("old-chat", position, role, content))


def _check_migrated(store) -> None:
    chat = store.get_conversation("alice", "old-chat")
    assert _contents(chat.path()) == [c for _, c in LINEAR]
    assert chat.active_id == chat.messages[-1].id
    assert [h.message_id for h in store.search_messages("alice", "three")] == \
        [chat.messages[2].id]  # old messages are found too
    assert store.search_messages("bob", "three") == []
    assert [m.parent_id for m in chat.messages] == [None, *[m.id for m in chat.messages[:-1]]]
    store.add_message("alice", "old-chat", "user", "five")
    assert _contents(store.get_conversation("alice", "old-chat").path())[-1] == "five"


def test_sqlite_turns_linear_chats_into_trees_and_loses_nothing(tmp_path):
    from assistant.storage.sqlite.database import migrate
    from assistant.storage.sqlite.store import MIGRATIONS, SQLiteStore

    path = tmp_path / "assistant.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    migrate(raw, MIGRATIONS[:5])  # the schema before the tree
    _linear_rows(raw.execute, "?")
    raw.close()
    with SQLiteStore(path) as store:
        _check_migrated(store)


def test_postgres_turns_linear_chats_into_trees_and_loses_nothing(database_url):
    import psycopg

    from assistant.storage.postgres.database import migrate
    from assistant.storage.postgres.store import MIGRATIONS, PostgresStore

    with psycopg.connect(database_url, autocommit=True) as raw:
        migrate(raw, MIGRATIONS[:2])  # the schema before the tree
        _linear_rows(raw.execute, "%s")
    store = PostgresStore(database_url)
    try:
        _check_migrated(store)
    finally:
        store.close()


def test_a_branch_is_a_new_chat_with_the_path_shown_and_the_original_stays(store):
    cid = store.create_conversation("alice", "Colours")
    question = store.add_message("alice", cid, "user", "Name a colour")
    store.add_message("alice", cid, "assistant", "Red")
    store.add_message("alice", cid, "assistant", "Blue", parent_id=question)
    store.add_message("alice", cid, "user", "Darker?")

    branch = store.get_conversation("alice", store.branch_conversation("alice", cid))
    assert branch.title == "Colours (branch)"
    assert _contents(branch.path()) == ["Name a colour", "Blue", "Darker?"]
    assert len(branch.messages) == 3  # the other version stays behind
    assert len(store.get_conversation("alice", cid).messages) == 4
    with pytest.raises(NotFound):
        store.branch_conversation("bob", cid)


def test_a_branch_up_to_any_message_holds_the_path_to_it_even_in_a_version_not_shown(store):
    cid = store.create_conversation("alice", "Colours")
    question = store.add_message("alice", cid, "user", "Name a colour")
    red = store.add_message("alice", cid, "assistant", "Red")
    store.add_message("alice", cid, "user", "Darker?")
    store.add_message("alice", cid, "assistant", "Blue", parent_id=question)  # shown now

    branch = store.get_conversation("alice", store.branch_conversation("alice", cid, up_to=red))
    assert _contents(branch.path()) == ["Name a colour", "Red"]
    assert len(branch.messages) == 2
    other = store.create_conversation("bob")
    elsewhere = store.add_message("bob", other, "user", "Mine")
    with pytest.raises(NotFound):  # a message of another chat, or another owner's
        store.branch_conversation("alice", cid, up_to=elsewhere)
    with pytest.raises(NotFound):
        store.branch_conversation("bob", cid, up_to=red)


def test_a_search_hit_in_a_version_not_shown_names_the_branch_to_open_on(store):
    cid = store.create_conversation("alice", "Colours")
    question = store.add_message("alice", cid, "user", "Name a colour")
    store.add_message("alice", cid, "assistant", "Red")
    darker = store.add_message("alice", cid, "user", "Darker RED?")
    store.add_message("alice", cid, "assistant", "Blue", parent_id=question)  # shown now

    conversation = store.get_conversation("alice", cid)
    assert conversation.leaf_showing("darker red") == darker
    assert conversation.leaf_showing("blue") is None  # the chat shows it already
    assert conversation.leaf_showing("green") is None and conversation.leaf_showing(" ") is None


def test_one_message_is_read_alone_and_only_by_its_owner(store):
    cid = store.create_conversation("alice")
    question = store.add_message("alice", cid, "user", "Name a colour")
    reply = store.add_message("alice", cid, "assistant", "Re", "streaming")
    store.update_message("alice", reply, "Red", "complete")
    found = store.get_message("alice", reply)
    assert (found.content, found.status, found.parent_id) == ("Red", "complete", question)
    assert store.get_message("bob", reply) is None and store.get_message("alice", 10**9) is None


def test_the_chat_list_counts_each_chat_s_branches(store):
    linear, versions = store.create_conversation("alice"), store.create_conversation("alice")
    store.add_message("alice", linear, "user", "Hi")
    store.add_message("alice", linear, "assistant", "Hello")
    question = store.add_message("alice", versions, "user", "Name a colour")
    store.add_message("alice", versions, "assistant", "Red", parent_id=question)
    blue = store.add_message("alice", versions, "assistant", "Blue", parent_id=question)
    store.add_message("alice", versions, "user", "Darker?", parent_id=blue)
    store.add_message("alice", versions, "user", "Lighter?", parent_id=blue)
    empty = store.create_conversation("alice")

    branches = {c.id: c.branches for c in store.list_conversations("alice")}
    assert branches == {linear: 1, versions: 3, empty: 0}


def test_tools_a_chat_always_allows_stay_with_that_chat_not_its_branches_or_exports(store):
    cid = store.create_conversation("alice")
    store.add_message("alice", cid, "user", "Delete it")
    store.update_settings("alice", cid, {"model": "m", "allowed_tools": ["files__delete"]})
    branch = store.branch_conversation("alice", cid, None)
    assert store.get_conversation("alice", branch).settings == {"model": "m"}
    copied = store.import_json("alice", store.export_json("alice", cid))
    assert store.get_conversation("alice", copied).settings == {"model": "m"}
    assert store.get_conversation("alice", cid).settings["allowed_tools"] == ["files__delete"]
