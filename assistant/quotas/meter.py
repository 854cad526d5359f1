"""Per-user limits: requests per minute, replies streaming at once, tokens per day.

A turn is admitted only if every key it is counted under (the owner; for anonymous
visitors also their address) is within every limit; nothing is counted for a turn
that is refused. Requests per minute are a sliding window (pyrate-limiter's bucket),
tokens a quota per UTC day. The clock is injected, so tests move time themselves.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterator, Protocol, Sequence

from pyrate_limiter import Duration, InMemoryBucket, Rate, RateItem

from ..identity.owners import SIGNED_IN
from .policy import DAY, Exceeded, LimitSettings

if TYPE_CHECKING:
    from ..domain.reply import Reply

Clock = Callable[[], float]  # seconds since the epoch
MAX_KEYS = 100_000  # keys remembered; the least recently seen go first


@dataclass(frozen=True)
class Usage:
    """What is left for one key today (None: no daily limit)."""
    tokens_left: int | None
    tokens_per_day: int


class Meter(Protocol):
    """What the page asks of the limits: UsageMeter here, SharedUsageMeter in the database."""

    settings: LimitSettings
    clock: Clock
    blocking: bool  # admit() waits on a database: call it off the event loop

    def admit(self, keys: Sequence[str]) -> Admission | Exceeded: ...

    def record_tokens(self, keys: Sequence[str], tokens: int) -> None: ...

    def usage(self, key: str) -> Usage: ...

    def _release(self, keys: Sequence[str], slots: Sequence[int] = ()) -> None: ...


class UsageMeter:
    blocking = False

    def __init__(self, settings: LimitSettings, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self._lock = threading.Lock()
        self._minute: OrderedDict[str, InMemoryBucket] = OrderedDict()
        self._streams: dict[str, int] = {}
        self._tokens: OrderedDict[str, tuple[int, int]] = OrderedDict()  # key -> (day, tokens)
        rpm = settings.requests_per_minute
        self._rates = [Rate(rpm, Duration.MINUTE)] if rpm > 0 else []

    def admit(self, keys: Sequence[str]) -> Admission | Exceeded:
        """A slot for one reply, or the first limit that refuses it (then nothing is counted)."""
        now = self.clock()
        with self._lock:
            refused = self._refusal(keys, now) or self._count_request(keys, now)
            if refused is not None:
                return refused
            for key in keys:
                self._streams[key] = self._streams.get(key, 0) + 1
        return Admission(self, tuple(keys))

    def _refusal(self, keys: Sequence[str], now: float) -> Exceeded | None:
        s = self.settings
        for key in keys:
            if s.concurrent_streams > 0 and self._streams.get(key, 0) >= s.concurrent_streams:
                return Exceeded("streams", s.concurrent_streams, None)
            if s.tokens_per_day > 0 and self._used_today(key, now) >= s.tokens_per_day:
                return Exceeded("tokens", s.tokens_per_day, (int(now // DAY) + 1) * DAY)
        return None

    def _count_request(self, keys: Sequence[str], now: float) -> Exceeded | None:
        """Puts one request in each key's minute window, or none if any window is full."""
        if not self._rates:
            return None
        counted: list[tuple[InMemoryBucket, RateItem]] = []
        for key in keys:
            bucket, item = self._bucket(key, now), RateItem(key, int(now * 1000))
            if not bucket.put(item):
                for earlier, put in counted:
                    earlier.items.remove(put)
                waiting = bucket.waiting(item)  # an in-memory bucket answers at once
                wait_ms = max(1000, waiting if isinstance(waiting, int) else 60_000)
                return Exceeded("requests", self.settings.requests_per_minute,
                                now + wait_ms / 1000)
            counted.append((bucket, item))
        return None

    def _bucket(self, key: str, now: float) -> InMemoryBucket:
        bucket = self._minute.get(key)
        if bucket is None:
            bucket = self._minute[key] = InMemoryBucket(self._rates)
            if len(self._minute) > MAX_KEYS:
                self._minute.popitem(last=False)
        else:
            self._minute.move_to_end(key)
            bucket.leak(int(now * 1000))  # drops what left the window
        return bucket

    def _used_today(self, key: str, now: float) -> int:
        day, used = self._tokens.get(key, (int(now // DAY), 0))
        return used if day == int(now // DAY) else 0

    def record_tokens(self, keys: Sequence[str], tokens: int) -> None:
        """Counts a finished reply's prompt and completion tokens against each key."""
        if self.settings.tokens_per_day <= 0 or tokens <= 0:
            return
        now = self.clock()
        with self._lock:
            for key in keys:
                self._tokens[key] = (int(now // DAY), self._used_today(key, now) + tokens)
                self._tokens.move_to_end(key)
                if len(self._tokens) > MAX_KEYS:
                    self._tokens.popitem(last=False)

    def usage(self, key: str) -> Usage:
        per_day = self.settings.tokens_per_day
        if per_day <= 0:
            return Usage(None, 0)
        with self._lock:
            return Usage(max(0, per_day - self._used_today(key, self.clock())), per_day)

    def _release(self, keys: Sequence[str], slots: Sequence[int] = ()) -> None:
        with self._lock:
            for key in keys:
                left = self._streams.get(key, 0) - 1
                if left > 0:
                    self._streams[key] = left
                else:
                    self._streams.pop(key, None)


class Admission:
    """One admitted reply: its stream slot is held until `release` (or the `with` ends)."""

    def __init__(self, meter: Meter, keys: tuple[str, ...], slots: Sequence[int] = ()) -> None:
        self.meter = meter
        self.keys = keys
        self._slots = tuple(slots)  # a shared meter's stream slots in the database
        self._released = False
        self.handed_over = False

    def hand_over(self) -> Callable[[], None]:
        """The release, for whatever now holds the slot (a run that outlives its turn)."""
        self.handed_over = True
        return self.release

    def release(self) -> None:
        if not self._released:
            self._released = True
            self.meter._release(self.keys, self._slots)

    def __enter__(self) -> Admission:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def limit_keys(owner: str | None, address: str | None) -> Iterator[str]:
    """The keys a turn counts under: a signed-in user by name; anyone else by id and address."""
    if owner is not None:
        yield owner
    if address and (owner is None or not owner.startswith(SIGNED_IN)):
        yield f"ip:{address}"


class TokenCounter:
    """Counts each finished reply's tokens on the meter and keys it is charged to."""

    def reply_started(self, reply: Reply) -> None:
        pass

    def reply_progress(self, reply: Reply) -> None:
        pass

    def reply_finished(self, reply: Reply) -> None:
        if reply.charge is not None:
            reply.charge.meter.record_tokens(
                reply.charge.keys, (reply.prompt_tokens or 0) + (reply.completion_tokens or 0))
