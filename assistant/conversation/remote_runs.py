"""Replies that another process runs, followed and stopped through the shared database.

With replicas, a page may land on a process other than the one running its reply: a
reload behind the balancer, a second device. That process finds the reply in the
database, still streaming and written by another process, and follows it there. It
asks the writer to save the reply often ("watch"), and reads the reply's row again
whenever the writer says it changed, or every `poll` seconds: that is also how it learns that the
writer died, once the heartbeat has marked the reply failed. Stop, and the answer to a
question the reply asks before a tool runs, travel the same way.
"""

from __future__ import annotations

import asyncio
import threading
from typing import AsyncIterator, Callable

from ..storage.records import Conversation, Message
from ..storage.repository import Store
from ..storage.signals import RunSignals, SignalKind
from .approvals import ANSWERS, Choice


class RemoteRuns:
    """`watch`, `stop` and `answer` act on this process's own replies when another process
    asks."""

    def __init__(self, store: Store, signals: RunSignals, replica: str, *,
                 watch: Callable[[int], None], stop: Callable[[int], None],
                 answer: Callable[[int, Choice], None] = lambda message_id, choice: None,
                 poll: float = 1.0, renew: float = 2.0) -> None:
        self.store = store
        self.signals = signals
        self.replica = replica
        self._watch = watch
        self._stop = stop
        self._answer = answer
        self.poll = poll  # seconds between reads when no signal comes
        self.renew = renew  # seconds between "watch" signals while following
        self._lock = threading.Lock()
        self._waiting: dict[int, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        signals.listen(self._heard)

    def streaming_elsewhere(self, conversation: Conversation | None) -> Message | None:
        """The reply at the end of the chat's path, if another process is writing it."""
        path = conversation.path() if conversation is not None else ()
        last = path[-1] if path else None
        if last is None or last.role != "assistant" or last.status != "streaming":
            return None
        return last if last.replica and last.replica != self.replica else None

    def find(self, owner: str, conversation_id: str) -> Message | None:
        """Blocks on the database; only the owner's chat is read."""
        return self.streaming_elsewhere(self.store.get_conversation(owner, conversation_id))

    async def follow(self, owner: str, message_id: int) -> AsyncIterator[Message]:
        """The owner's reply each time it changes, until it is no longer streaming."""
        changed = asyncio.Event()
        waiter = (asyncio.get_running_loop(), changed)
        with self._lock:
            self._waiting.setdefault(message_id, set()).add(waiter)
        try:
            shown: tuple[object, ...] | None = None
            renew_at = 0.0
            while True:
                now = asyncio.get_running_loop().time()
                if now >= renew_at:
                    renew_at = now + self.renew
                    await asyncio.to_thread(self.signals.publish, "watch", message_id)
                changed.clear()
                reply = await asyncio.to_thread(self.store.get_message, owner, message_id)
                if reply is None:
                    return  # deleted meanwhile
                seen = (reply.content, reply.status, reply.reason, reply.steps, reply.sources)
                if seen != shown:
                    shown = seen
                    yield reply
                if reply.status != "streaming":
                    return
                try:
                    await asyncio.wait_for(changed.wait(), self.poll)
                except asyncio.TimeoutError:
                    pass
        finally:
            with self._lock:
                waiting = self._waiting.get(message_id, set())
                waiting.discard(waiter)
                if not waiting:
                    self._waiting.pop(message_id, None)

    async def stop(self, owner: str, conversation_id: str) -> bool:
        """Stops the owner's reply in that chat if another process is writing it."""
        reply = await asyncio.to_thread(self.find, owner, conversation_id)
        if reply is None:
            return False
        await asyncio.to_thread(self.signals.publish, "stop", reply.id)
        return True

    def answer(self, owner: str, conversation_id: str, choice: Choice) -> bool:
        """Blocks: answers the question of the owner's reply in that chat if another process
        is writing it."""
        reply = self.find(owner, conversation_id)
        if reply is None:
            return False
        self.signals.publish(choice, reply.id)
        return True

    def _heard(self, kind: SignalKind, message_id: int) -> None:
        """On the signals' thread."""
        if kind == "watch":
            self._watch(message_id)
        elif kind == "stop":
            self._stop(message_id)
        elif kind in ANSWERS:
            self._answer(message_id, kind)
        else:
            with self._lock:
                waiting = list(self._waiting.get(message_id, ()))
            for loop, changed in waiting:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(changed.set)
