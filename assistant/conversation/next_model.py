"""Auto's fallback: when a route's model fails before its first token (after its own
retries), the route's next model is asked, and the reply says so."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import AsyncGenerator, Sequence

from ..domain.events import Event, Failed, ReasoningDelta, RefusalDelta, Routed, TextDelta, ToolCalls
from ..domain.messages import ModelRequest
from ..providers.base import Adapter

_STARTED = (TextDelta, ReasoningDelta, RefusalDelta, ToolCalls)
_ANSWERS = {"length", "content_filter"}  # the model answered: another would not do better


@dataclass(frozen=True)
class Candidate:
    adapter: Adapter
    backend: str
    model: str


class NextModelOnFailure:
    """An adapter over a route's models, in order. Once one has answered, the later
    requests of the reply (tool rounds) stay with it."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)
        self.current = 0

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        while True:
            now = self.candidates[self.current]
            failed: Failed | None = None
            started = False
            async with aclosing(now.adapter.stream(replace(request, model=now.model))) as events:
                async for event in events:
                    if isinstance(event, Failed) and not started and \
                            event.failure.kind not in _ANSWERS and \
                            self.current + 1 < len(self.candidates):
                        failed = event
                        break
                    started = started or isinstance(event, _STARTED)
                    yield event
            if failed is None:
                return
            self.current += 1
            after = self.candidates[self.current]
            yield Routed(after.backend, after.model,
                         f"{now.backend}/{now.model} failed ({failed.failure.message.rstrip('.')}); "
                         "the route's next model answers")

    def complete(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        now = self.candidates[self.current]
        return now.adapter.complete(replace(request, model=now.model))
