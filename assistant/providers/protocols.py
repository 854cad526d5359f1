"""The protocols the app speaks, each adapter wrapped in the layers every request gets."""

from __future__ import annotations

from typing import Callable

from .base import Adapter, Upstream
from .chat_completions import ChatCompletions
from .fallback import WithFallback
from .responses import Responses
from .retrying import RetryPolicy, WithRetries

PROTOCOLS: dict[str, Callable[[Upstream], Adapter]] = {"chat_completions": ChatCompletions,
                                                       "responses": Responses}
LABELS = {"chat_completions": "Chat Completions", "responses": "Responses"}


def build_adapters(upstream: Upstream, retry: RetryPolicy) -> dict[str, Adapter]:
    """Retries before the first token, around the non-streaming fallback, around each protocol."""
    return {name: WithRetries(WithFallback(protocol(upstream)), retry)
            for name, protocol in PROTOCOLS.items()}
