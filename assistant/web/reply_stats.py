"""A one-line summary shown under a reply: speed, tokens and, for known models, cost.

    format_stats(reply) -> "0.42 s to first token · 38 tokens/s · 1,200 → 350 tokens · $0.0011"

Counts that we estimated (the server sent no usage) are marked "~" and "(est.)".
Parts that cannot be known are left out; a reply with nothing to say gives "".
"""

from __future__ import annotations

from ..domain.reply import Reply
from ..providers.models import cost_usd

SEPARATOR = " · "
MIN_RATE_SECONDS = 0.05  # shorter than this, a tokens/s figure means nothing


def format_stats(reply: Reply) -> str:
    parts = [part for part in (_route(reply), _first_token(reply), _rate(reply), _tokens(reply),
                               _tools(reply), _cost(reply)) if part]
    return SEPARATOR.join(parts)


def _route(reply: Reply) -> str:
    return f"↪ {reply.route}" if reply.route else ""


def _first_token(reply: Reply) -> str:
    if reply.first_token is None:
        return ""
    return f"{_seconds(max(0.0, reply.first_token - reply.started))} to first token"


def _rate(reply: Reply) -> str:
    if reply.first_token is None or reply.ended is None or not reply.completion_tokens:
        return ""
    elapsed = reply.ended - reply.first_token
    if elapsed < MIN_RATE_SECONDS or reply.completion_tokens < 2:
        return ""
    rate = reply.completion_tokens / elapsed
    prefix = "~" if reply.usage_estimated else ""
    return f"{prefix}{rate:,.0f} tokens/s" if rate >= 10 else f"{prefix}{rate:.1f} tokens/s"


def _tokens(reply: Reply) -> str:
    if reply.prompt_tokens is None or reply.completion_tokens is None:
        return ""
    if reply.usage_estimated:
        return f"~{reply.prompt_tokens:,} → ~{reply.completion_tokens:,} tokens (est.)"
    return f"{reply.prompt_tokens:,} → {reply.completion_tokens:,} tokens"


def _tools(reply: Reply) -> str:
    calls = [step for step in reply.steps if step.kind == "tool"]
    if not calls:
        return ""
    took = sum(step.duration() for step in calls)
    time_text = f"{took * 1000:.0f} ms" if took < 1 else _seconds(took)
    return f"{len(calls)} tool call{'s' if len(calls) > 1 else ''} · {time_text}"


def _cost(reply: Reply) -> str:
    if reply.prompt_tokens is None or reply.completion_tokens is None:
        return ""
    cost = cost_usd(reply.model, reply.prompt_tokens, reply.completion_tokens)
    if cost is None:
        return ""
    text = _dollars(cost)
    return "~" + text if reply.usage_estimated and text[0] == "$" else text


def _seconds(value: float) -> str:
    if value < 10:
        return f"{value:.2f} s"
    return f"{value:.0f} s" if value >= 100 else f"{value:.1f} s"


def _dollars(cost: float) -> str:
    if cost == 0:
        return "$0"
    if cost < 0.0001:
        return "<$0.0001"
    if cost < 1:
        return f"${cost:.4f}"
    return f"${cost:,.2f}"
