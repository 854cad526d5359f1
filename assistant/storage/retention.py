"""Deletes conversations nobody has touched for `days`: at startup, then once a day."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from .repository import Store

log = logging.getLogger(__name__)
DAY = 86_400.0


class Retention:
    def __init__(self, store: Store, days: float, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.days = days
        self.clock = clock
        self._stop = threading.Event()
        self.swept = threading.Event()  # set after the first sweep
        self._thread: threading.Thread | None = None

    def sweep(self) -> int:
        """Deletes what is due now; how many conversations went."""
        deleted = self.store.delete_untouched(self.clock() - self.days * DAY)
        if deleted:
            log.info("retention: deleted %d conversations untouched for %g days", deleted,
                     self.days)
        return deleted

    def start(self) -> None:
        if self.days <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                self.sweep()
            except Exception:  # a closed store at shutdown, a locked file: try again tomorrow
                log.exception("retention sweep failed")
            self.swept.set()
            if self._stop.wait(DAY):
                return

    def stop(self) -> None:
        self._stop.set()
