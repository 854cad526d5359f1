"""Batching a fast event stream into a few updates a second.

Each update costs Gradio a full render of the conversation, so a fast stream
is delivered in batches: the first event at once, then at most one batch per
interval. A slow stream still gets every event the moment it arrives.

Reading is paced too. Once the reader has caught up with the network it rests
until just before the next batch is due, so the events that arrive meanwhile
wait in the socket and are read in one go: one wake-up per batch instead of
one per event, which is most of the cost of a stream.
"""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import AsyncGenerator, Callable, Generic, TypeVar

T = TypeVar("T")

CAUGHT_UP = 0.001  # an event that took longer than this to come had to wait for the network
READ_AHEAD = 0.2  # of an interval: the reader wakes this early, to read what came before a batch


class Batches(Generic[T]):
    """`async for batch in Batches(events, interval)` yields non-empty lists.

    The source is read by a task of its own; closing the iterator (or
    cancelling the task consuming it) cancels that task, which closes the source.
    """

    def __init__(self, source: AsyncGenerator[T, None], interval: Callable[[], float]) -> None:
        self._source = source
        self._interval = interval
        self._buffer: list[T] = []
        self._wake = asyncio.Event()
        self._last = float("-inf")  # when the last batch went out
        self._done = False
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    async def _pump(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with aclosing(self._source) as source:
                while True:
                    started = loop.time()
                    try:
                        item = await anext(source)
                    except StopAsyncIteration:
                        break
                    self._buffer.append(item)
                    self._wake.set()
                    if loop.time() - started > CAUGHT_UP:
                        await self._rest(loop)
        except Exception as exc:  # handed to the consumer
            self._error = exc
        finally:
            self._done = True
            self._wake.set()

    async def _rest(self, loop: asyncio.AbstractEventLoop) -> None:
        """Sleeps until just before the batch that the next event would join is due."""
        interval = self._interval()
        lead = interval * READ_AHEAD
        due = self._last + interval
        if loop.time() > due - lead:  # that batch is closing: what comes now goes in the next
            due += interval
        if due - lead > loop.time():
            await asyncio.sleep(due - lead - loop.time())

    async def __aiter__(self) -> AsyncGenerator[list[T], None]:
        loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._pump())
        try:
            while True:
                await self._wake.wait()
                wait = self._last + self._interval() - loop.time()
                if wait > 0 and not self._done:
                    await asyncio.sleep(wait)
                self._wake.clear()
                batch, self._buffer = self._buffer, []
                if batch:
                    self._last = loop.time()
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
