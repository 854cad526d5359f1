"""Batching a fast event stream into a few updates a second.

Each update costs Gradio a full render of the conversation, so a fast stream
is delivered in batches: the first event at once, then at most one batch per
interval. A slow stream still gets every event the moment it arrives.
"""

from __future__ import annotations

import asyncio
from typing import AsyncIterator, Callable, Generic, TypeVar

T = TypeVar("T")


class Batches(Generic[T]):
    """`async for batch in Batches(events, interval)` yields non-empty lists.

    The source is read by a task of its own; closing the iterator (or
    cancelling the task consuming it) cancels that task, which closes the source.
    """

    def __init__(self, source: AsyncIterator[T], interval: Callable[[], float]) -> None:
        self._source = source
        self._interval = interval
        self._buffer: list[T] = []
        self._wake = asyncio.Event()
        self._done = False
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def _pump(self) -> None:
        try:
            async for item in self._source:
                self._buffer.append(item)
                self._wake.set()
        except Exception as exc:  # handed to the consumer
            self._error = exc
        finally:
            self._done = True
            self._wake.set()

    async def __aiter__(self) -> AsyncIterator[list[T]]:
        loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._pump())
        last = float("-inf")
        try:
            while True:
                await self._wake.wait()
                wait = last + self._interval() - loop.time()
                if wait > 0 and not self._done:
                    await asyncio.sleep(wait)
                self._wake.clear()
                batch, self._buffer = self._buffer, []
                if batch:
                    last = loop.time()
                    yield batch
                if self._done and not self._buffer:
                    break
            if self._error is not None:
                raise self._error
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
