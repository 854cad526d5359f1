"""Which app processes are alive, so that only a dead one's replies are marked cut off.

Every process (replica) sharing a database beats a heartbeat into it each `interval`,
and marks the replies left "streaming" by any process whose heartbeat is older than
`dead_after`: a crashed replica's replies, never the live ones of the others.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
from typing import Callable

from .repository import Store

log = logging.getLogger(__name__)
INTERVAL = 1.0  # seconds between heartbeats
DEAD_AFTER = 3.0  # seconds without one before a process counts as dead


def new_replica_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class Heartbeat:
    def __init__(self, store: Store, replica: str, reason: str,
                 clock: Callable[[], float] = time.time, interval: float = INTERVAL,
                 dead_after: float = DEAD_AFTER) -> None:
        self.store = store
        self.replica = replica
        self.reason = reason
        self.clock = clock
        self.interval = interval
        self.dead_after = dead_after
        self.marked = threading.Event()  # set once a sweep has marked a dead process's replies
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Beats, then marks the dead processes' replies; how many were marked."""
        now = self.clock()
        self.store.beat(self.replica, now)
        marked = self.store.mark_interrupted(self.reason, alive_since=now - self.dead_after)
        if marked:
            log.warning("%d replies were cut off by a stopped process; marked incomplete", marked)
            self.marked.set()
        return marked

    def start(self) -> None:
        self.sweep()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sweep()
            except Exception:  # the database is away for a moment: beat again next time
                log.warning("heartbeat failed; retrying in %.0f s", self.interval, exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
