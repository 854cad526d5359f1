"""Replies followed and stopped from another process, through a shared PostgreSQL database.

Two stores on one database stand for two replicas ("replica-a" writes the reply,
"replica-b" holds the page that follows it); the signals between them are PostgreSQL's
own LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Iterator

import pytest

from assistant.conversation.remote_runs import RemoteRuns
from assistant.domain.reply import Place, Reply
from assistant.domain.validation import ReplyOptions
from assistant.storage.postgres.store import PostgresStore
from assistant.storage.recorder import ConversationRecorder
from assistant.storage.replicas import Heartbeat

OPTIONS = ReplyOptions(model="m", temperature=0.5, system_prompt="", history_turns=4,
                       max_tokens=256)
CUT = "The app stopped while this reply was being written."


class Replica:
    """A store, a recorder and the remote runs of one process; what others ask, noted."""

    def __init__(self, url: str, name: str) -> None:
        self.store = PostgresStore(url, name)
        # Unwatched, a reply is saved only at its start and end here.
        self.recorder = ConversationRecorder(self.store, flush_interval=3600, watched_interval=0)
        self.watched, self.stopped, self.answered = threading.Event(), [], []

        def watch(message_id: int) -> None:
            self.recorder.watch(message_id)
            self.watched.set()
        self.remote = RemoteRuns(self.store, self.store.signals, name, watch=watch,
                                 stop=self.stopped.append,
                                 answer=lambda *answer: self.answered.append(answer), poll=0.05)
        assert self.store.signals.listening.wait(10)


@pytest.fixture
def replicas(database_url: str) -> Iterator[tuple[Replica, Replica]]:
    a, b = Replica(database_url, "replica-a"), Replica(database_url, "replica-b")
    yield a, b
    a.store.close()
    b.store.close()


async def _started(a: Replica) -> tuple[str, Reply]:
    cid = a.store.create_conversation("alice")
    reply = Reply(backend="fake", model="m", options=OPTIONS, user_message="Count",
                  place=Place("alice", cid))
    a.recorder.reply_started(reply)
    await _wait(lambda: reply.place.message_id is not None)  # saved, and its id handed back
    return cid, reply


async def _wait(condition, timeout: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def test_a_page_on_another_replica_follows_the_reply_as_it_is_saved_to_its_end(replicas):
    a, b = replicas

    async def scenario() -> list[tuple[str, str]]:
        cid, reply = await _started(a)
        assert a.remote.find("alice", cid) is None  # its own reply: followed in-process
        assert b.remote.find("mallory", cid) is None  # nobody else's
        found = b.remote.find("alice", cid)
        assert found is not None and found.id == reply.place.message_id

        seen: list[tuple[str, str]] = []

        async def follow() -> None:
            async for last in b.remote.follow("alice", found.id):
                seen.append((last.content, last.status))
        follower = asyncio.create_task(follow())
        await _wait(lambda: seen)
        await asyncio.to_thread(a.watched.wait, 10)  # B asked A to save the reply often
        for text in ("One", "One two", "One two three"):
            reply.text = text
            a.recorder.reply_progress(reply)  # saved at once while watched
            await _wait(lambda text=text: seen[-1][0] == text)
        reply.text, reply.outcome = "One two three four", "complete"
        a.recorder.reply_finished(reply)
        await asyncio.wait_for(follower, 10)
        return seen

    seen = asyncio.run(scenario())
    assert seen == [("", "streaming"), ("One", "streaming"), ("One two", "streaming"),
                    ("One two three", "streaming"), ("One two three four", "complete")]


def test_stop_on_another_replica_reaches_the_one_writing_the_reply_and_only_for_its_owner(
        replicas):
    a, b = replicas

    async def scenario() -> tuple[bool, bool, int | None]:
        cid, reply = await _started(a)
        refused = await b.remote.stop("mallory", cid)
        stopped = await b.remote.stop("alice", cid)
        await _wait(lambda: a.stopped)
        return refused, stopped, reply.place.message_id

    refused, stopped, message_id = asyncio.run(scenario())
    assert (refused, stopped) == (False, True)
    assert a.stopped == [message_id]  # every process hears it; Runs.stop_reply acts if it runs


def test_an_answer_on_another_replica_reaches_the_reply_that_asked_and_only_its_owner_s(
        replicas):
    a, b = replicas

    async def scenario() -> tuple[bool, bool, int | None]:
        cid, reply = await _started(a)
        refused = await asyncio.to_thread(b.remote.answer, "mallory", cid, "allow")
        answered = await asyncio.to_thread(b.remote.answer, "alice", cid, "deny")
        await _wait(lambda: a.answered)
        return refused, answered, reply.place.message_id

    refused, answered, message_id = asyncio.run(scenario())
    assert (refused, answered) == (False, True)
    assert a.answered == [(message_id, "deny")]  # Approvals.answer acts if the reply runs here


def test_a_page_following_a_reply_whose_replica_died_is_told_when_the_heartbeat_marks_it(
        replicas):
    a, b = replicas

    async def scenario() -> list[tuple[str, str, str | None]]:
        cid, _ = await _started(a)  # replica-a never beats: it counts as dead
        found = b.remote.find("alice", cid)
        assert found is not None
        seen = []
        heartbeat = Heartbeat(b.store, "replica-b", CUT)
        async for last in b.remote.follow("alice", found.id):
            seen.append((last.content, last.status, last.reason))
            if len(seen) == 1:
                await asyncio.to_thread(heartbeat.sweep)
        return seen

    assert asyncio.run(scenario()) == [("", "streaming", None), ("", "failed", CUT)]
