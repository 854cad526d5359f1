"""The protocols the app speaks, each adapter wrapped in the layers every request gets."""

from __future__ import annotations

from typing import Callable, Literal, TypeGuard, get_args

from .base import Adapter, Upstream
from .chat_completions import ChatCompletions
from .fallback import WithFallback
from .responses import Responses
from .retrying import RetryPolicy, WithRetries

ApiName = Literal["chat_completions", "responses"]  # the protocols, by the names settings and /chat use
API_NAMES: tuple[ApiName, ...] = get_args(ApiName)
PROTOCOLS: dict[ApiName, Callable[[Upstream], Adapter]] = {"chat_completions": ChatCompletions,
                                                           "responses": Responses}
LABELS: dict[ApiName, str] = {"chat_completions": "Chat Completions", "responses": "Responses"}


def is_api_name(value: object) -> TypeGuard[ApiName]:
    """Whether a value from outside (a request, a setting) names one of our protocols."""
    return value in API_NAMES


def build_adapters(upstream: Upstream, retry: RetryPolicy) -> dict[str, Adapter]:
    """Retries before the first token, around the non-streaming fallback, around each protocol."""
    return {name: WithRetries(WithFallback(protocol(upstream)), retry)
            for name, protocol in PROTOCOLS.items()}
