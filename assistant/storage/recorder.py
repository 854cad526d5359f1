"""Saves each chat turn as it happens: a ReplyObserver that writes through the store.

It runs on the event loop, so it only defers writes; the store does them in order,
off the loop. A streaming reply is saved when it starts, at most every `flush_interval`
seconds while text arrives, and when it ends: a killed process loses at most the
last `flush_interval` seconds of a reply. While a page in another process follows a
reply through the database (`watch`), it is saved every `watched_interval` instead.

Where it writes is the reply's `place`: with no owner nothing is saved; with no
conversation it creates one and puts the id there at once. Once the reply's row exists,
its id goes in `place.message_id`. A reply that `asks` follows a new user message
written after `place.parent_id`; any other follows `parent_id` itself (a new version of a
reply, or a continuation).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Future
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..domain.reply import Place
from ..domain.reply_figures import ReplyFigures
from ..domain.sources import shown_sources
from .records import SETTINGS_KEYS, NotFound, Status, StoreClosed, StoredImage, new_conversation_id
from .repository import Store

if TYPE_CHECKING:
    from ..domain.reply import Reply

log = logging.getLogger(__name__)

FINAL_STATUSES: tuple[Status, ...] = ("complete", "refused", "stopped", "failed", "truncated")
# A message moderation flagged is kept as refused, with the reason: the model's own
# refusals have none.
STORED_AS = {"flagged": "refused"}


@dataclass(eq=False)
class _Turn:
    owner: str
    conversation_id: str
    place: Place
    loop: asyncio.AbstractEventLoop | None
    last_flush: float
    flushed: tuple[int, ...] = ()  # the progress last saved (_progress)
    message_id: int | None = None  # set by the deferred start; read only by later writes
    timer: asyncio.TimerHandle | None = None


WATCH_SECONDS = 5.0  # how long a `watch` lasts; a follower renews it sooner


class ConversationRecorder:
    def __init__(self, store: Store, flush_interval: float = 2.0,
                 watched_interval: float = 0.25) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.watched_interval = watched_interval
        self._saving: set[int] = set()  # the message ids of the replies streaming here
        self._watched: dict[int, float] = {}  # message id -> until when, on time.monotonic
        self._turns: dict[int, _Turn] = {}  # by id(reply), from reply_started to reply_finished
        self._last_write: dict[str, Future[Any]] = {}  # by conversation, until it is done

    def written(self, conversation_id: str) -> Future[Any] | None:
        """The latest write of the conversation still pending, to wait on before reading it."""
        return self._last_write.get(conversation_id)

    def reply_started(self, reply: Reply) -> None:
        try:
            self._start(reply)
        except Exception:
            log.exception("could not save the start of a reply")

    def watch(self, message_id: int) -> None:
        """From any thread: a page elsewhere follows this reply, if it streams here."""
        if message_id in self._saving:
            self._watched[message_id] = time.monotonic() + WATCH_SECONDS

    def reply_progress(self, reply: Reply) -> None:
        """O(1) unless a flush is due: at most one write per `flush_interval` per reply."""
        turn = self._turns.get(id(reply))
        if turn is None or turn.timer is not None:  # a flush is already scheduled
            return
        try:
            now = time.monotonic()
            watched = turn.message_id is not None and \
                self._watched.get(turn.message_id, 0.0) > now
            interval = self.watched_interval if watched else self.flush_interval
            wait = turn.last_flush + interval - now
            if wait <= 0:
                self._flush(reply, turn)
            elif turn.loop is not None:  # so text that stops arriving is still saved in time
                turn.timer = turn.loop.call_later(wait, self._flush, reply, turn)
        except Exception:
            log.exception("could not schedule saving a streaming reply")

    def reply_finished(self, reply: Reply) -> None:
        turn = self._turns.pop(id(reply), None)
        if turn is None:
            return
        try:
            if turn.timer is not None:
                turn.timer.cancel()
            outcome = STORED_AS.get(reply.outcome, reply.outcome)
            status = final_status(outcome)
            reason = reply.failure.message if reply.failure is not None else None
            sources = [s.to_record() for s in shown_sources(reply.text, reply.sources)]
            self._submit(self._save_text, turn, reply.text, status, reason, _steps(reply),
                         sources, ReplyFigures.of(reply).to_record())
        except Exception:
            log.exception("could not save the end of a reply")

    def _start(self, reply: Reply) -> None:
        place = reply.place
        owner = place.owner
        if not owner or not place.kept:
            log.debug("reply not kept: not saved")
            return
        conversation_id = place.conversation_id or ""
        create = not conversation_id
        if create:
            conversation_id = place.conversation_id = new_conversation_id()
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        turn = _Turn(owner, conversation_id, place, loop, time.monotonic())
        self._turns[id(reply)] = turn
        options = {**asdict(reply.options), "api": reply.api}
        settings = {k: v for k, v in options.items() if k in SETTINGS_KEYS}
        images = [StoredImage(i.media_type, i.data, i.name) for i in reply.images]
        self._submit(self._save_start, turn, create, reply.user_message, settings,
                     {**options, "model": reply.model}, images)  # the model that answered

    def _flush(self, reply: Reply, turn: _Turn) -> None:
        turn.timer = None
        turn.last_flush = time.monotonic()
        progress = _progress(reply)
        if progress != turn.flushed:
            turn.flushed = progress
            try:
                self._submit(self._save_text, turn, reply.text, "streaming", None, _steps(reply))
            except Exception:
                log.exception("could not save a streaming reply")

    def _submit(self, fn: Callable[..., Any], *args: Any) -> None:
        try:
            future = self.store.defer(fn, *args)
        except StoreClosed:  # shutting down while a reply streams
            log.warning("the store is closed: part of a turn was not saved")
            return
        future.add_done_callback(log_write_failure)
        turn = args[0]
        self._last_write[turn.conversation_id] = future
        future.add_done_callback(lambda done: self._forget(turn.conversation_id, done))

    def _forget(self, conversation_id: str, done: Future[Any]) -> None:
        if self._last_write.get(conversation_id) is done:
            del self._last_write[conversation_id]

    # Deferred: run by the store, in order

    def _save_start(self, turn: _Turn, create: bool, user_text: str,
                    settings: dict[str, Any], reply_settings: dict[str, Any],
                    images: list[StoredImage]) -> None:
        store, owner, cid = self.store, turn.owner, turn.conversation_id
        if create:
            store.create_conversation(owner, None, settings, conversation_id=cid)
        else:
            store.update_settings(owner, cid, settings)  # the conversation keeps its last settings
        parent = turn.place.parent_id
        if turn.place.asks:
            parent = store.add_message(owner, cid, "user", user_text, images=images,
                                       parent_id=parent)
        turn.message_id = store.add_message(owner, cid, "assistant", "", "streaming",
                                            settings=reply_settings, parent_id=parent)
        self._saving.add(turn.message_id)
        _publish(turn, turn.message_id)

    def _save_text(self, turn: _Turn, text: str, status: Status, reason: str | None,
                   steps: list[dict[str, Any]],
                   sources: Sequence[dict[str, Any]] = (),
                   figures: dict[str, Any] | None = None) -> None:
        if turn.message_id is None:  # the start was not saved, and that was logged
            return
        if status != "streaming":
            self._saving.discard(turn.message_id)
            self._watched.pop(turn.message_id, None)
        self.store.update_message(turn.owner, turn.message_id, text, status, reason, steps,
                                  sources, figures)


def _progress(reply: Reply) -> tuple[int, ...]:
    """What changes as a reply goes on: its text, its steps', and how many have ended or
    been answered (a tool waiting for the user writes no text, yet the page must know)."""
    steps = reply.steps
    return (len(reply.text), len(steps), sum(len(step.text) for step in steps),
            sum(step.done for step in steps), sum(step.approval is not None for step in steps),
            sum(step.approval == "pending" for step in steps))


def _steps(reply: Reply) -> list[dict[str, Any]]:
    return [step.to_record() for step in reply.steps]


def _publish(turn: _Turn, message_id: int) -> None:
    """Sets `place.message_id` on the event loop, where the UI reads it."""
    if turn.loop is None:
        turn.place.message_id = message_id
        return
    try:
        turn.loop.call_soon_threadsafe(setattr, turn.place, "message_id", message_id)
    except RuntimeError:  # the loop has closed; nobody is left to read it
        pass


def final_status(outcome: str) -> Status:
    """How a reply that ended with `outcome` is stored: its own status if final, else failed."""
    return next((s for s in FINAL_STATUSES if s == outcome), "failed")


def log_write_failure(future: Future[Any]) -> None:
    """For a write submitted in the background: nobody waits on it, so its error is logged."""
    exc = future.exception()
    if isinstance(exc, NotFound):
        log.warning("conversation %s is gone or not this user's: the turn was not saved", exc)
    elif exc is not None:
        log.error("saving a turn failed", exc_info=exc)
