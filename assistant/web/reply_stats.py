"""A one-line summary shown under a reply: speed, tokens and, for known models, cost.

    format_stats(reply) -> "0.42 s to first token · 38 tokens/s · 1,200 → 350 tokens · $0.0011"

Counts that we estimated (the server sent no usage) are marked "~" and "(est.)".
Parts that cannot be known are left out; a reply with nothing to say gives "".
"""

from __future__ import annotations

from typing import Sequence

from ..domain.reply import Reply, Step
from ..domain.reply_figures import ReplyFigures
from ..providers.models import cost_usd

SEPARATOR = " · "
MIN_RATE_SECONDS = 0.05  # shorter than this, a tokens/s figure means nothing


def format_stats(reply: Reply) -> str:
    return format_figures(ReplyFigures.of(reply), reply.steps)


def format_figures(figures: ReplyFigures, steps: Sequence[Step]) -> str:
    """The line for a reply's figures and steps, live or stored."""
    parts = [part for part in (_route(figures), _first_token(figures), _rate(figures),
                               _tokens(figures), _tools(steps), _cost(figures)) if part]
    return SEPARATOR.join(parts)


def _route(figures: ReplyFigures) -> str:
    return f"↪ {figures.route}" if figures.route else ""


def _first_token(figures: ReplyFigures) -> str:
    return "" if figures.first_token is None else f"{_seconds(figures.first_token)} to first token"


def _rate(figures: ReplyFigures) -> str:
    elapsed, tokens = figures.streamed, figures.completion_tokens
    if elapsed is None or not tokens or elapsed < MIN_RATE_SECONDS or tokens < 2:
        return ""
    rate = tokens / elapsed
    prefix = "~" if figures.estimated else ""
    return f"{prefix}{rate:,.0f} tokens/s" if rate >= 10 else f"{prefix}{rate:.1f} tokens/s"


def _tokens(figures: ReplyFigures) -> str:
    if figures.prompt_tokens is None or figures.completion_tokens is None:
        return ""
    if figures.estimated:
        return f"~{figures.prompt_tokens:,} → ~{figures.completion_tokens:,} tokens (est.)"
    return f"{figures.prompt_tokens:,} → {figures.completion_tokens:,} tokens"


def _tools(steps: Sequence[Step]) -> str:
    calls = [step for step in steps if step.kind == "tool"]
    if not calls:
        return ""
    took = sum(step.duration() for step in calls)
    time_text = f"{took * 1000:.0f} ms" if took < 1 else _seconds(took)
    return f"{len(calls)} tool call{'s' if len(calls) > 1 else ''} · {time_text}"


def _cost(figures: ReplyFigures) -> str:
    if figures.prompt_tokens is None or figures.completion_tokens is None:
        return ""
    cost = cost_usd(figures.model, figures.prompt_tokens, figures.completion_tokens)
    if cost is None:
        return ""
    text = dollars(cost)
    return "~" + text if figures.estimated and text[0] == "$" else text


def _seconds(value: float) -> str:
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.0f} s" if value >= 100 else f"{value:.1f} s"


def dollars(cost: float) -> str:
    if cost == 0:
        return "$0"
    if cost < 0.0001:
        return "<$0.0001"
    if cost < 1:
        return f"${cost:.4f}"
    return f"${cost:,.2f}"
