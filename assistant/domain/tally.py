"""What one finished reply adds to the day's figures, for the operators' dashboard.

Tallies are summed per UTC day into a few small tables (storage/sql_figures.py), so the
dashboard reads a few hundred rows however many messages are stored. Time to first token
is kept as a histogram of log-spaced buckets, each 10% wider than the one before: a
percentile read from it is within 5% of the true one, up to ~92 s (the last bucket).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .reply_figures import ReplyFigures

if TYPE_CHECKING:
    from .reply import Reply

DAY = 86_400
TTFT_FLOOR = 0.001  # seconds: the lower edge of bucket 0
TTFT_GROWTH = 1.1
TTFT_LAST = 120  # the last bucket holds everything from ~92 s up


def ttft_bucket(seconds: float) -> int:
    if seconds <= TTFT_FLOOR:
        return 0
    return min(TTFT_LAST, int(math.log(seconds / TTFT_FLOOR) / math.log(TTFT_GROWTH)))


def bucket_seconds(bucket: int) -> float:
    """The middle of a bucket, on the log scale."""
    return float(TTFT_FLOOR * TTFT_GROWTH ** (bucket + 0.5))


def day_of(epoch: float) -> int:
    return int(epoch // DAY)


@dataclass(frozen=True)
class ToolTally:
    tool: str
    failed: bool
    seconds: float


@dataclass(frozen=True)
class ReplyTally:
    day: int  # UTC days since 1970
    owner: str  # "" for nobody's
    backend: str
    model: str
    # complete, stopped, refused, flagged (moderation), truncated, failed:<kind>, or
    # limit:<requests|streams|tokens> for a message a limit turned away
    outcome: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    ttft_bucket: int | None = None
    tools: tuple[ToolTally, ...] = ()

    @classmethod
    def of(cls, reply: Reply, now: float) -> ReplyTally:
        outcome: str = reply.outcome
        if outcome == "failed":
            outcome = f"failed:{reply.failure.kind if reply.failure else 'error'}"
        first = ReplyFigures.of(reply).first_token
        # A failure the server reported no usage for used nothing there (a refused request)
        counted = 0 if reply.outcome == "failed" and reply.usage_estimated else 1
        return cls(day_of(now), reply.place.owner or "", reply.backend, reply.model, outcome,
                   counted * (reply.prompt_tokens or 0), counted * (reply.completion_tokens or 0),
                   None if first is None else ttft_bucket(first),
                   tuple(ToolTally(s.name, s.failed, s.duration()) for s in reply.steps
                         if s.kind == "tool"))

    @classmethod
    def limit_hit(cls, owner: str | None, limit: str, now: float) -> ReplyTally:
        return cls(day_of(now), owner or "", "", "", f"limit:{limit}")
