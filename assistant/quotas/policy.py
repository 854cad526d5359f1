"""What the limits are, and what a user reads when one is hit."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Literal

DAY = 86_400


@dataclass(frozen=True)
class LimitSettings:
    """Per owner (and per address for anonymous visitors); 0 switches a limit off."""
    requests_per_minute: int = 0
    concurrent_streams: int = 0
    tokens_per_day: int = 0

    @property
    def active(self) -> bool:
        return any((self.requests_per_minute, self.concurrent_streams, self.tokens_per_day))


@dataclass(frozen=True)
class Exceeded:
    limit: Literal["requests", "streams", "tokens"]
    allowed: int
    retry_at: float | None  # epoch seconds; None: when a running reply ends

    def message(self, now: float) -> str:
        if self.limit == "streams":
            return (f"⏳ You already have {self.allowed} repl{'y' if self.allowed == 1 else 'ies'} "
                    "being written, the most at once. Try again when one has finished.")
        wait = _duration(max(1.0, (self.retry_at or now) - now))
        if self.limit == "requests":
            return (f"⏳ You have sent {self.allowed} messages in the last minute, the most "
                    f"allowed. Try again in {wait}.")
        at = datetime.datetime.fromtimestamp(self.retry_at or now, datetime.timezone.utc)
        return (f"⏳ You have used today's {self.allowed:,} tokens. Try again after "
                f"{at:%H:%M} UTC (in {wait}).")


def _duration(span: float) -> str:
    seconds = round(span)
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def tokens_left_line(left: int | None, per_day: int) -> str:
    return "" if left is None else f"{left:,} of {per_day:,} tokens left today"
