"""ConversationRecorder: replies built by hand, observer methods called as the turn calls them."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

import assistant.storage.recorder as recorder_module
from assistant.domain.failures import Failure
from assistant.domain.reply import Place, Reply
from assistant.domain.validation import ReplyOptions
from assistant.storage.recorder import ConversationRecorder
from assistant.storage.sqlite.store import SQLiteStore as Store
from assistant.web.render import render
from assistant.web.stored_chat import chat_messages

OPTIONS = ReplyOptions(model="default", temperature=0.5, system_prompt="Be kind.",
                       history_turns=4, max_tokens=256)


@pytest.fixture
def store(any_store):
    """On SQLite and on PostgreSQL."""
    return any_store


def _reply(place: Place, user_message: str = "Tell me about\nSQLite") -> Reply:
    return Reply(backend="fake", model="gpt-4.1-mini-2025-04-14", options=OPTIONS,
                 user_message=user_message, place=place)


def _messages(store: Store, owner: str, cid: str) -> list[tuple[str, str, str, str | None]]:
    conversation = store.get_conversation(owner, cid)
    assert conversation is not None
    return [(m.role, m.content, m.status, m.reason) for m in conversation.messages]


def _started(store: Store) -> tuple[str, ConversationRecorder, Reply]:
    """Alice's new conversation with a reply that has just started and been saved."""
    cid = store.create_conversation("alice")
    recorder = ConversationRecorder(store, flush_interval=0)
    reply = _reply(Place("alice", cid))
    recorder.reply_started(reply)
    store.flush()
    return cid, recorder, reply


def test_a_turn_is_saved_from_start_to_finish(store):
    cid, recorder, reply = _started(store)
    assert _messages(store, "alice", cid) == [("user", "Tell me about\nSQLite", "complete", None),
                                             ("assistant", "", "streaming", None)]
    assistant = store.get_conversation("alice", cid).messages[1]
    assert reply.place.message_id == assistant.id
    assert assistant.settings == {"api": "chat_completions", "model": "gpt-4.1-mini-2025-04-14", "temperature": 0.5,
                                  "system_prompt": "Be kind.", "history_turns": 4,
                                  "max_tokens": 256}
    conversation = store.get_conversation("alice", cid)
    assert conversation.title == "Tell me about"
    assert conversation.settings["model"] == "default"  # as chosen, to restore the sidebar

    reply.text = "SQLite is"
    recorder.reply_progress(reply)
    store.flush()
    assert _messages(store, "alice", cid)[1] == ("assistant", "SQLite is", "streaming", None)

    reply.text, reply.outcome = "SQLite is a library.", "complete"
    recorder.reply_finished(reply)
    store.flush()
    assert _messages(store, "alice", cid)[1] == ("assistant", "SQLite is a library.",
                                                 "complete", None)


def test_a_conversation_is_created_when_the_place_has_none(store):
    recorder = ConversationRecorder(store)
    place = Place("alice")
    reply = _reply(place, "   \nWhy is the sky blue? A question people ask in every language, always")
    recorder.reply_started(reply)
    cid = place.conversation_id  # known at once, before the write lands
    reply.text, reply.outcome = "Rayleigh scattering.", "complete"
    recorder.reply_finished(reply)
    store.flush()
    [summary] = store.list_conversations("alice")
    assert summary.id == cid
    assert summary.title == "Why is the sky blue? A question people ask in every…"
    assert _messages(store, "alice", cid)[1][1:3] == ("Rayleigh scattering.", "complete")


@pytest.mark.parametrize("outcome, failure, status, reason", [
    ("stopped", None, "stopped", None),
    ("failed", Failure("timeout", "The model stopped answering."), "failed",
     "The model stopped answering."),
    ("truncated", Failure("length", "The reply hit the token limit."), "truncated",
     "The reply hit the token limit."),
    ("streaming", None, "failed", None),  # never left streaming
])
def test_outcomes_become_statuses(store, outcome, failure, status, reason):
    cid = store.create_conversation("alice")
    recorder = ConversationRecorder(store)
    reply = _reply(Place("alice", cid))
    recorder.reply_started(reply)
    reply.text, reply.outcome, reply.failure = "Partial", outcome, failure
    recorder.reply_finished(reply)
    store.flush()
    assert _messages(store, "alice", cid)[1] == ("assistant", "Partial", status, reason)


def test_progress_writes_at_most_once_per_interval(store, monkeypatch):
    clock = SimpleNamespace(now=100.0)
    monkeypatch.setattr(recorder_module, "time", SimpleNamespace(monotonic=lambda: clock.now))
    submitted: list[Any] = []
    real_defer = store.defer
    monkeypatch.setattr(store, "defer", lambda fn, *a: submitted.append(fn) or real_defer(fn, *a))
    cid = store.create_conversation("alice")
    recorder = ConversationRecorder(store, flush_interval=2.0)
    reply = _reply(Place("alice", cid))
    recorder.reply_started(reply)
    assert len(submitted) == 1

    for _ in range(49):  # 25 updates a second for ~2 s: nothing due yet
        reply.text += "tok "
        clock.now += 0.04
        recorder.reply_progress(reply)
    assert len(submitted) == 1
    clock.now += 0.05
    recorder.reply_progress(reply)
    assert len(submitted) == 2
    clock.now += 5
    recorder.reply_progress(reply)  # due, but the text has not changed since
    assert len(submitted) == 2
    store.flush()
    assert _messages(store, "alice", cid)[1] == ("assistant", "tok " * 49, "streaming", None)


def test_text_that_stops_arriving_is_still_saved_without_more_progress(store):
    cid = store.create_conversation("alice")
    recorder = ConversationRecorder(store, flush_interval=0.05)

    async def stream() -> Reply:
        reply = _reply(Place("alice", cid))
        recorder.reply_started(reply)
        reply.text = "Half a sentence"
        recorder.reply_progress(reply)  # too soon to write; schedules a flush instead
        for _ in range(500):  # the model stalls: no more progress calls, yet it is written
            await asyncio.to_thread(store.flush)
            if _messages(store, "alice", cid)[1][1:3] == ("Half a sentence", "streaming"):
                break
            await asyncio.sleep(0.01)
        assert _messages(store, "alice", cid)[1][1:3] == ("Half a sentence", "streaming")
        assert reply.place.message_id > 0  # set on the event loop, from the writer thread
        return reply

    asyncio.run(stream())


def test_many_interleaved_replies_on_one_loop(store):
    recorder = ConversationRecorder(store, flush_interval=0.01)

    async def one(n: int) -> tuple[str, str]:
        reply = _reply(Place(f"user{n % 7}"), f"Question {n}")
        recorder.reply_started(reply)
        for i in range(30):
            reply.text += f"{n}.{i} "
            recorder.reply_progress(reply)
            await asyncio.sleep(0.001)
        reply.outcome = "complete"
        recorder.reply_finished(reply)
        return reply.place.conversation_id, reply.text

    async def main() -> list[tuple[str, str]]:
        return await asyncio.gather(*(one(n) for n in range(40)))

    results = asyncio.run(main())
    store.flush()
    for n, (cid, text) in enumerate(results):
        assert _messages(store, f"user{n % 7}", cid) == [
            ("user", f"Question {n}", "complete", None), ("assistant", text, "complete", None)]
    assert sum(len(store.list_conversations(f"user{k}")) for k in range(7)) == 40


def test_a_conversation_deleted_mid_reply_stays_deleted(store):
    cid, recorder, reply = _started(store)
    assert store.delete_conversation("alice", cid)
    other = store.create_conversation("alice")
    store.add_message("alice", other, "assistant", "Untouched")
    reply.text = "Late text"
    recorder.reply_progress(reply)
    reply.outcome = "complete"
    recorder.reply_finished(reply)
    store.flush()
    assert store.get_conversation("alice", cid) is None
    assert _messages(store, "alice", other) == [("assistant", "Untouched", "complete", None)]


def test_it_never_raises_into_the_reply(store, tmp_path, caplog):
    recorder = ConversationRecorder(store, flush_interval=0)
    bobs = store.create_conversation("bob")

    nobody = _reply(Place())  # no owner: not saved
    alice_into_bobs = _reply(Place("alice", bobs))
    with caplog.at_level(logging.WARNING, logger="assistant.recorder"):
        for reply in (nobody, alice_into_bobs):
            recorder.reply_started(reply)
            reply.text = "text"
            recorder.reply_progress(reply)
            recorder.reply_finished(reply)
        store.flush()
    assert "not this user's" in caplog.text
    assert store.get_conversation("bob", bobs).messages == ()
    assert store.list_conversations("alice") == []

    closed = Store.in_directory(tmp_path / "closed")
    closed.close()
    late = ConversationRecorder(closed)
    reply = _reply(Place("alice"))
    late.reply_started(reply)
    late.reply_progress(reply)
    late.reply_finished(reply)


def test_a_reopened_reply_shows_the_stats_line_it_ended_with(store):
    cid, recorder, reply = _started(store)
    reply.first_token, reply.ended = reply.started + 0.42, reply.started + 2.42
    reply.text, reply.outcome = "SQLite is a library.", "complete"
    reply.prompt_tokens, reply.completion_tokens, reply.usage_estimated = 1200, 350, False
    reply.route = "gpt-4.1-mini · code: the message has a code block"
    recorder.reply_finished(reply)
    store.flush()

    live = render(reply)[-1]
    assert live["content"] == ("<small>↪ gpt-4.1-mini · code: the message has a code block · "
                               "0.42 s to first token · 175 tokens/s · 1,200 → 350 tokens · "
                               "$0.0010</small>")
    assert chat_messages(store.get_conversation("alice", cid))[-1] == live


def test_a_reply_that_failed_keeps_its_figures_in_the_incomplete_mark(store):
    cid, recorder, reply = _started(store)
    reply.first_token, reply.ended = reply.started + 1.5, reply.started + 3.0
    reply.text, reply.outcome = "Half of it", "failed"
    reply.failure = Failure("timeout", "The model stopped answering.")
    recorder.reply_finished(reply)
    store.flush()
    restored = chat_messages(store.get_conversation("alice", cid))[-1]
    assert restored == render(reply)[-1]
    assert "1.50 s to first token" in restored["metadata"]["log"]
