"""Per-user limits kept in the database every replica shares (PostgreSQL), not in memory.

The same surface as UsageMeter. Admitting asks the database (call it off the event
loop: `blocking` says so); releasing a slot and counting tokens are queued writes.
"""

from __future__ import annotations

import time
from typing import Protocol, Sequence

from .meter import Admission, Clock, Usage
from .policy import Exceeded, LimitSettings


class UsageLedger(Protocol):
    def admit(self, keys: Sequence[str], now: float, limits: LimitSettings,
              replica: str) -> Exceeded | list[int]: ...

    def release(self, slots: Sequence[int]) -> None: ...

    def add_tokens(self, keys: Sequence[str], now: float, tokens: int) -> None: ...

    def tokens_used(self, key: str, now: float) -> int: ...


class SharedUsageMeter:
    blocking = True

    def __init__(self, settings: LimitSettings, ledger: UsageLedger, replica: str,
                 namespace: str, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._ledger = ledger
        self._replica = replica
        self._prefix = namespace + ":"  # the server-key and own-key meters count apart

    def admit(self, keys: Sequence[str]) -> Admission | Exceeded:
        if not self.settings.active:
            return Admission(self, tuple(keys))
        taken = self._ledger.admit([self._prefix + k for k in keys], self.clock(),
                                   self.settings, self._replica)
        return taken if isinstance(taken, Exceeded) else Admission(self, tuple(keys), taken)

    def record_tokens(self, keys: Sequence[str], tokens: int) -> None:
        if self.settings.tokens_per_day > 0 and tokens > 0:
            self._ledger.add_tokens([self._prefix + k for k in keys], self.clock(), tokens)

    def usage(self, key: str) -> Usage:
        per_day = self.settings.tokens_per_day
        if per_day <= 0:
            return Usage(None, 0)
        used = self._ledger.tokens_used(self._prefix + key, self.clock())
        return Usage(max(0, per_day - used), per_day)

    def _release(self, keys: Sequence[str], slots: Sequence[int] = ()) -> None:
        self._ledger.release(slots)
