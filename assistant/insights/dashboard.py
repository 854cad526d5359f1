"""The dashboard's figures for a period, from the store's daily summaries.

Everything here is plain data: web/dashboard_page.py draws it. A period is the last 1, 7
or 30 UTC days, today included.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..domain.tally import DAY, bucket_seconds, day_of
from ..providers.models import cost_usd
from ..quotas.policy import LimitSettings
from ..storage.records import FigureRows
from ..storage.repository import Store
from .topics import Topic, topics

PERIODS = {"Today": 1, "7 days": 7, "30 days": 30}
QUESTIONS_READ = 2000  # the newest questions that topics are drawn from (the page says so)
OUTCOME_WORDS = {"complete": "complete", "stopped": "stopped", "refused": "refused",
                 "flagged": "refused (moderation)", "truncated": "cut off (length)"}


@dataclass(frozen=True)
class UserRow:
    name: str
    replies: int
    tokens: int
    limit_hits: int
    today: str  # "12,000 of 200,000" tokens used today, or "12,000" with no daily limit


@dataclass(frozen=True)
class ToolRow:
    tool: str
    calls: int
    failures: int
    mean_seconds: float
    slowest_seconds: float


@dataclass(frozen=True)
class UsageRow:
    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: float | None  # dollars; None: this server's prices are unknown


@dataclass
class Dashboard:
    days: list[datetime.date]
    replies: list[int]  # per day
    active_users: list[int]  # per day
    tokens: list[dict[str, int]]  # per day: backend -> tokens
    ttft: list[tuple[float | None, float | None]]  # per day: p50, p95 in seconds
    usage: list[UsageRow]
    outcomes: dict[str, int]
    tools: list[ToolRow]
    documents: list[tuple[str, int, int]]  # kind, how many, bytes: all stored now
    documents_added: list[tuple[int, int]]  # per day: how many, bytes
    users: list[UserRow]
    topics: list[Topic] = field(default_factory=list)
    unsorted_questions: int = 0  # shared questions in no topic

    @property
    def total_cost(self) -> tuple[float | None, bool]:
        """The known costs' sum, and whether some model's cost is unknown."""
        known = [row.cost for row in self.usage if row.cost is not None]
        return (sum(known) if known else None), len(known) < len(self.usage)


def build_dashboard(store: Store, days: int, now: float, kinds: Mapping[str, str],
                    limits: LimitSettings, top_users: int = 10) -> Dashboard:
    """`kinds`: each backend's kind (openai, custom, local), for its prices."""
    last = day_of(now)
    first = last - days + 1
    rows = store.figures(first, last, last, top_users)
    dashboard = _assemble(rows, first, last, kinds, limits)
    questions = store.shared_questions(first * float(DAY), QUESTIONS_READ)
    dashboard.topics, dashboard.unsorted_questions = topics(questions)
    return dashboard


def _assemble(rows: FigureRows, first: int, last: int, kinds: Mapping[str, str],
              limits: LimitSettings) -> Dashboard:
    span = range(first, last + 1)
    at = {day: i for i, day in enumerate(span)}
    replies = [0] * len(span)
    tokens: list[dict[str, int]] = [defaultdict(int) for _ in span]
    usage: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    outcomes: dict[str, int] = defaultdict(int)
    for day, backend, model, outcome, count, prompt, completion in rows.replies:
        outcomes[outcome_word(outcome)] += count
        if outcome.startswith("limit:"):
            continue
        replies[at[day]] += count
        tokens[at[day]][backend] += prompt + completion
        pair = usage[(backend, model)]
        pair[0] += prompt
        pair[1] += completion
    users = [0] * len(span)
    for day, active in rows.users:
        users[at[day]] = active
    added = [(0, 0)] * len(span)
    for day, count, size in rows.documents_added:
        if day in at:
            added[at[day]] = (count, size or 0)
    return Dashboard(
        [datetime.datetime.fromtimestamp(day * DAY, datetime.timezone.utc).date()
         for day in span],
        replies, users, [dict(t) for t in tokens], _percentiles(rows.ttft, span),
        sorted((UsageRow(b, m, p, c, cost(kinds.get(b), m, p, c))
                for (b, m), (p, c) in usage.items()),
               key=lambda row: -(row.prompt_tokens + row.completion_tokens)),
        dict(sorted(outcomes.items(), key=lambda item: -item[1])),
        [ToolRow(tool, calls, failures, seconds / calls if calls else 0.0, slowest)
         for tool, calls, failures, seconds, slowest in rows.tools],
        [(kind, count, size or 0) for kind, count, size in rows.documents],
        added,
        [UserRow(owner_name(owner), replies_, tokens_, hits, _today(today, limits))
         for owner, replies_, tokens_, hits, today in rows.heaviest])


def cost(kind: str | None, model: str, prompt_tokens: int, completion_tokens: int
         ) -> float | None:
    """Dollars at OpenAI's list prices; the embedded model and visitors' own keys cost the
    operator nothing; other servers' prices are unknown."""
    if kind in ("local", "visitor"):
        return 0.0
    return cost_usd(model, prompt_tokens, completion_tokens) if kind == "openai" else None


def outcome_word(outcome: str) -> str:
    if outcome.startswith("failed:"):
        return f"failed: {outcome.removeprefix('failed:')}"
    if outcome.startswith("limit:"):
        return f"limit hit: {outcome.removeprefix('limit:')}"
    return OUTCOME_WORDS.get(outcome, outcome)


def owner_name(owner: str) -> str:
    """A signed-in user's name; an anonymous visitor's id, shortened."""
    kind, _, name = owner.partition(":")
    if kind == "user":
        return name
    if kind == "hf":
        return f"{name} (Hugging Face)"
    return f"anonymous {name[:8] or owner[:8]}"


def _today(tokens: int, limits: LimitSettings) -> str:
    if limits.tokens_per_day:
        return f"{tokens:,} of {limits.tokens_per_day:,}"
    return f"{tokens:,}"


def _percentiles(ttft: Sequence[tuple[int, int, int]], span: range
                 ) -> list[tuple[float | None, float | None]]:
    by_day: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for day, bucket, count in ttft:
        by_day[day].append((bucket, count))
    return [(percentile(by_day[day], 0.5), percentile(by_day[day], 0.95)) for day in span]


def percentile(histogram: Sequence[tuple[int, int]], fraction: float) -> float | None:
    """The value below which `fraction` of the counts fall, from (bucket, count) pairs."""
    total = sum(count for _, count in histogram)
    if not total:
        return None
    rank, seen = fraction * total, 0
    for bucket, count in sorted(histogram):
        seen += count
        if seen >= rank:
            return bucket_seconds(bucket)
    return bucket_seconds(max(bucket for bucket, _ in histogram))

