"""For servers that cannot stream: the same request once more, without streaming."""

from __future__ import annotations

from contextlib import aclosing
from typing import AsyncGenerator

from ..domain.events import Event, Failed
from ..domain.failures import STREAM_UNSUPPORTED
from ..domain.messages import ModelRequest
from .base import Adapter


class WithFallback:
    """An adapter that answers `Failed(STREAM_UNSUPPORTED)` with its `complete` instead."""

    def __init__(self, inner: Adapter) -> None:
        self.inner = inner

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        async with aclosing(self.inner.stream(request)) as events:
            async for event in events:
                if isinstance(event, Failed) and event.failure is STREAM_UNSUPPORTED:
                    break
                yield event
            else:
                return
        async for event in self.inner.complete(request):
            yield event

    def complete(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        return self.inner.complete(request)
