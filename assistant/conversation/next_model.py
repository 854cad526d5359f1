"""Auto's fallback: when a route's model fails before its first token (after its own
retries), the route's next model is asked, and the reply says so."""

from __future__ import annotations

from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import AsyncGenerator, Awaitable, Callable, Sequence

from ..domain.events import Event, Failed, ReasoningDelta, RefusalDelta, Routed, TextDelta, ToolCalls
from ..domain.failures import Failure
from ..domain.messages import ModelRequest
from ..providers.backends import BackendUnavailable
from ..providers.base import Adapter

_STARTED = (TextDelta, ReasoningDelta, RefusalDelta, ToolCalls)
_ANSWERS = {"length", "content_filter"}  # the model answered: another would not do better


@dataclass(frozen=True)
class Candidate:
    adapter: Adapter
    backend: str
    model: str
    ready: Callable[[], Awaitable[None]] | None = None  # the embedded model may still load


class NextModelOnFailure:
    """An adapter over a route's models, in order. Once one has answered, the later
    requests of the reply (tool rounds) stay with it."""

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.candidates = list(candidates)
        self.current = 0

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        while True:
            now = self.candidates[self.current]
            failed: Failure | None = None
            started = False
            try:
                if now.ready is not None and self.current:
                    await now.ready()
            except BackendUnavailable as exc:
                failed = Failure("unavailable", f"{exc}.")
            if failed is None:
                async with aclosing(now.adapter.stream(replace(request, model=now.model))) \
                        as events:
                    async for event in events:
                        if isinstance(event, Failed) and not started and \
                                self._next_may_answer(event.failure):
                            failed = event.failure
                            break
                        started = started or isinstance(event, _STARTED)
                        yield event
            if failed is None:
                return
            if self.current + 1 >= len(self.candidates):
                yield Failed(failed)
                return
            self.current += 1
            after = self.candidates[self.current]
            yield Routed(after.backend, after.model,
                         f"{now.backend}/{now.model} failed ({failed.message.rstrip('.')}); "
                         "the route's next model answers")

    def _next_may_answer(self, failure: Failure) -> bool:
        """A model that is down or refused: another may answer. Not a reply cut short, nor
        a request the server found wrong (400, 422: the tool rounds handle those)."""
        return self.current + 1 < len(self.candidates) and failure.kind not in _ANSWERS \
            and failure.status not in (400, 422)

    def complete(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        now = self.candidates[self.current]
        return now.adapter.complete(replace(request, model=now.model))
