"""Pins, folders, full-text search and share links in the store, on SQLite (FTS5) and PostgreSQL
(tsvector with a GIN index): only ever over the owner's own chats."""

from __future__ import annotations

import json

import pytest

from assistant.storage.records import MATCH_END, MATCH_START, NotFound
from assistant.storage.snapshots import ShareOptions, snapshot


@pytest.fixture
def store(any_store):
    """On SQLite and on PostgreSQL."""
    return any_store


def _chat(store, owner: str, *texts: str) -> str:
    cid = store.create_conversation(owner)
    for i, text in enumerate(texts):
        store.add_message(owner, cid, "user" if i % 2 == 0 else "assistant", text)
    return cid


def test_search_finds_words_in_any_message_ranked_with_the_match_marked(store):
    owls = _chat(store, "alice", "Tell me about birds", "Owls hunt at night with silent flight.")
    _chat(store, "alice", "Owls owls owls: why do owls hoot?", "To mark their territory.")
    _chat(store, "alice", "What is bread made of?", "Flour and water.")

    hits = store.search_messages("alice", "owls")
    assert len(hits) == 2
    assert f"{MATCH_START}owls{MATCH_END}".casefold() in hits[0].snippet.casefold()
    assert hits[0].snippet.casefold().count("owls") == 4  # the message that says it most first
    assert hits[1].conversation_id == owls and hits[1].role == "assistant"
    assert store.search_messages("alice", "silent fli")[0].message_id == \
        store.get_conversation("alice", owls).path()[-1].id  # the last word as a prefix
    assert store.search_messages("alice", "owls bread") == []  # every word must match


def test_search_folds_accents_and_case_both_ways(store):
    cid = _chat(store, "alice", "Une crème brûlée au Café de Zürich", "Ça coûte cher.")
    for query in ("creme brulee", "CAFÉ", "zurich", "cafe de zu", "ca coute"):
        hits = store.search_messages("alice", query)
        assert [h.conversation_id for h in hits] == [cid], query
    marked = store.search_messages("alice", "cafe")[0].snippet
    assert f"{MATCH_START}Café{MATCH_END}" in marked
    assert store.search_messages("bob", "creme") == []


def test_search_sees_a_reply_as_it_was_last_written_and_forgets_deleted_chats(store):
    cid = _chat(store, "alice", "Name a colour")
    reply = store.add_message("alice", cid, "assistant", "", status="streaming")
    store.update_message("alice", reply, "Vermilion, a bright red.", "complete")
    assert [h.message_id for h in store.search_messages("alice", "vermilion")] == [reply]
    store.update_message("alice", reply, "Ochre, an earthy yellow.", "complete")
    assert store.search_messages("alice", "vermilion") == []
    assert store.delete_conversation("alice", cid)
    assert store.search_messages("alice", "ochre") == []


def test_search_takes_any_text_as_words_not_as_query_syntax(store):
    _chat(store, "alice", 'He said "NEAR(a b)" AND -x OR y* ^z: 50% off_side')
    for query in ('"NEAR(a b)"', "AND", "-x OR", "^z:", "50%", "'; DROP TABLE messages; --",
                  "", "   ", "***"):
        store.search_messages("alice", query)  # no syntax error, whatever is typed
    assert len(store.search_messages("alice", '"near" AND')) == 1
    assert store.search_messages("alice", "***") == []


def test_nobody_searches_pins_or_moves_another_owners_chat(store):
    cid = _chat(store, "alice", "My secret plan is tulips")
    folder = store.create_folder("alice", "Garden")
    bobs = store.create_folder("bob", "Garden")
    assert store.search_messages("bob", "tulips") == []
    assert not store.set_pinned("bob", cid, True)
    assert not store.move_conversation("bob", cid, bobs)
    assert not store.move_conversation("alice", cid, bobs)  # into someone else's folder
    assert not store.rename_folder("bob", folder, "Mine")
    assert not store.delete_folder("bob", folder)
    assert store.list_folders("bob")[0].id == bobs and bobs != folder
    [summary] = store.list_conversations("alice")
    assert (summary.pinned, summary.folder_id) == (False, None)


def test_a_chat_is_pinned_and_moved_into_one_folder_and_keeps_its_place_in_time(store):
    older = _chat(store, "alice", "First")
    newer = _chat(store, "alice", "Second")
    work = store.create_folder("alice", "Work")
    assert store.create_folder("alice", "  Work ") == work  # one folder per name
    home = store.create_folder("alice", "Home")
    assert store.set_pinned("alice", older, True)
    assert store.move_conversation("alice", older, work)
    assert store.move_conversation("alice", older, home)  # one folder at most
    chats = {c.id: c for c in store.list_conversations("alice")}
    assert (chats[older].pinned, chats[older].folder_id) == (True, home)
    assert [c.id for c in store.list_conversations("alice")] == [newer, older]  # by activity
    assert [f.name for f in store.list_folders("alice")] == ["Home", "Work"]

    assert store.rename_folder("alice", home, "House")
    assert store.delete_folder("alice", home)
    chats = {c.id: c for c in store.list_conversations("alice")}
    assert chats[older].folder_id is None and store.get_conversation("alice", older) is not None
    with pytest.raises(ValueError):
        store.create_folder("alice", "   ")


def test_deleting_all_my_data_deletes_my_folders_and_my_words_from_the_index(store):
    _chat(store, "alice", "Zebracorn notes")
    store.create_folder("alice", "Zoo")
    store.delete_owner("alice")
    assert store.list_folders("alice") == []
    assert store.search_messages("alice", "zebracorn") == []


def _share(store, owner: str, cid: str, **options) -> str:
    conversation = store.get_conversation(owner, cid)
    return store.create_share(owner, cid, snapshot(conversation, ShareOptions(**options)))


def test_a_share_is_a_snapshot_that_stays_as_it_was_when_the_chat_goes_on(store):
    cid = _chat(store, "alice", "Plan the garden", "Tulips in spring.")
    token = _share(store, "alice", cid)
    store.add_message("alice", cid, "user", "And in summer?")
    store.rename_conversation("alice", cid, "Renamed later")
    shared = store.open_share(token)
    assert [m["content"] for m in shared.snapshot["chat"]["messages"]] == [
        "Plan the garden", "Tulips in spring."]
    assert shared.title == "Plan the garden" and shared.audience == "anyone"
    assert len(token) >= 32 and store.open_share(token[:-1] + ("y" if token[-1] == "x" else "x")) is None


def test_a_snapshot_keeps_tools_sources_images_and_the_prompt_only_when_ticked(store):
    from assistant.storage.records import StoredImage
    cid = store.create_conversation("alice", settings={"system_prompt": "Be terse."})
    store.add_message("alice", cid, "user", "Look", images=[StoredImage("image/png", b"png")])
    reply = store.add_message("alice", cid, "assistant", "", status="streaming")
    store.update_message("alice", reply, "Done [1].", "complete",
                         steps=[{"type": "tool", "text": "secret result", "name": "calc"}],
                         sources=[{"number": 1, "passage_id": 1, "document_id": "d", "name": "n",
                                   "page": 0, "heading": "", "text": "passage text"}])
    conversation = store.get_conversation("alice", cid)
    bare = json.dumps(snapshot(conversation, ShareOptions()))
    assert "secret result" not in bare and "passage text" not in bare
    assert "Be terse." not in bare and '"images": [{' not in bare
    full = json.dumps(snapshot(conversation, ShareOptions(True, True, True, True), facts=["I am Al"]))
    assert all(part in full for part in ("secret result", "passage text", "Be terse.",
                                         '"images": [{', "I am Al"))
    assert cid not in full  # the chat's own id stays private


def test_a_revoked_expired_or_deleted_share_is_gone_and_only_its_owner_revokes_it(store):
    cid = _chat(store, "alice", "Hello")
    kept, revoked = _share(store, "alice", cid), _share(store, "alice", cid)
    expiring = store.create_share("alice", cid, {"title": "t"}, expires=1000.0)
    assert store.open_share(expiring, now=999.0) is not None
    assert store.open_share(expiring, now=1000.0) is None
    assert not store.revoke_share("bob", kept)
    with pytest.raises(NotFound):
        store.create_share("bob", cid, {"title": "stolen"})
    assert store.list_shares("bob") == []
    assert store.revoke_share("alice", revoked) and store.open_share(revoked) is None
    assert {s.token for s in store.list_shares("alice")} == {kept, expiring}
    assert store.delete_conversation("alice", cid)
    assert store.open_share(kept) is None and store.list_shares("alice") == []
    other = _chat(store, "alice", "Again")
    token = _share(store, "alice", other)
    store.delete_owner("alice")
    assert store.open_share(token) is None
