"""Retries before the first token, around any adapter; never once the reply has started."""

from __future__ import annotations

import asyncio
import random
from contextlib import aclosing
from dataclasses import dataclass
from typing import AsyncGenerator, Awaitable, Callable

from ..domain.events import Event, Failed, Retrying
from ..domain.failures import Failure
from ..domain.messages import ModelRequest
from .base import Adapter


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    budget: float = 30.0  # total seconds all waits together may take
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, failure: Failure, attempt: int, waited: float) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up."""
        if not failure.retryable or attempt >= self.max_retries:
            return None
        if failure.retry_after is not None:
            delay = failure.retry_after
        else:
            backoff = min(self.base_delay * 2**attempt, self.max_delay)
            delay = backoff * (1 - 0.25 * random.random())
        return delay if waited + delay <= self.budget else None


class WithRetries:
    """An adapter whose opening failures are tried again, with a `Retrying` event each time."""

    def __init__(self, inner: Adapter, policy: RetryPolicy,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.inner = inner
        self.policy = policy
        self._sleep = sleep

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        attempt, waited = 0, 0.0
        while True:
            async with aclosing(self.inner.stream(request)) as events:
                first = await anext(events, None)
                if isinstance(first, Failed):
                    delay = self.policy.delay(first.failure, attempt, waited)
                    if delay is not None:
                        attempt += 1
                        yield Retrying(attempt + 1, self.policy.max_retries + 1, delay,
                                       first.failure)
                        await self._sleep(delay)
                        waited += delay
                        continue
                if first is not None:
                    yield first
                async for event in events:
                    yield event
            return

    def complete(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        return self.inner.complete(request)
