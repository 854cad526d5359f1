"""The signals of ../signals.py between processes sharing a PostgreSQL database, by
LISTEN/NOTIFY: no other service to run, and a "changed" signal goes out with the write
that it announces, when it commits.

Every process hears every signal and acts on its own replies only. A signal names no
owner: the process that sends "watch" or "stop" has read the reply as its owner's.
"""

from __future__ import annotations

import logging
import threading
from typing import cast

import psycopg

from ..signals import KINDS, Listener, SignalKind
from .database import Database

log = logging.getLogger(__name__)
CHANNEL = "assistant_replies"


class PostgresSignals:
    """Listens on its own connection, on a thread started by the first `listen`; its
    listeners run on that thread. `close()` stops it."""

    def __init__(self, db: Database, retry: float = 1.0) -> None:
        self._db = db
        self.retry = retry  # seconds before listening again after the connection broke
        self._listeners: list[Listener] = []
        self._closed = threading.Event()
        self.listening = threading.Event()  # set while LISTEN is in force
        self._thread: threading.Thread | None = None

    def publish(self, kind: SignalKind, message_id: int) -> None:
        """Blocks for one round trip: call it off the event loop."""
        self._db.notify(CHANNEL, f"{kind} {message_id}")

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="signals", daemon=True)
            self._thread.start()

    def close(self) -> None:
        self._closed.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._closed.is_set():
            try:
                with psycopg.connect(self._db.url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    while not self._closed.is_set():
                        for note in conn.notifies(timeout=0.5):
                            self._dispatch(note.payload)
            except psycopg.Error:  # the database went away: followers poll meanwhile
                log.warning("lost the signals connection; listening again in %.0f s",
                            self.retry, exc_info=True)
            self.listening.clear()
            self._closed.wait(self.retry)

    def _dispatch(self, payload: str) -> None:
        kind, _, number = payload.partition(" ")
        if kind not in KINDS or not number.isdigit():
            return
        for listener in self._listeners:
            try:
                listener(cast(SignalKind, kind), int(number))
            except Exception:
                log.exception("a signal's listener failed")
