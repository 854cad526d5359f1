"""Adds each finished reply, and each message a limit turned away, to the day's figures.

A ReplyObserver (see domain/reply.py): at the end of a reply it hands one small write to
the store, which runs it after the writes before it, off the event loop.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from typing import Callable

from ..domain.reply import Reply
from ..domain.tally import ReplyTally
from ..storage.records import StoreClosed
from ..storage.repository import Store

log = logging.getLogger(__name__)


class FiguresRecorder:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def reply_started(self, reply: Reply) -> None:
        pass

    def reply_progress(self, reply: Reply) -> None:
        pass

    def reply_finished(self, reply: Reply) -> None:
        self._count(ReplyTally.of(reply, self.clock()))

    def limit_hit(self, owner: str | None, limit: str) -> None:
        self._count(ReplyTally.limit_hit(owner, limit, self.clock()))

    def _count(self, tally: ReplyTally) -> None:
        try:
            self.store.defer(self.store.count_reply, tally).add_done_callback(_log_failure)
        except StoreClosed:
            log.warning("the store is closed: a reply was not counted")


def _log_failure(future: Future[None]) -> None:
    exc = future.exception()
    if exc is not None:
        log.error("counting a reply in the day's figures failed", exc_info=exc)
