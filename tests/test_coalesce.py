"""Batches: the first event at once, then one batch per interval, read in few wake-ups."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncGenerator

from assistant.conversation.coalesce import Batches


class Network:
    """Items arrive every `every` seconds into a buffer, like bytes into a socket.

    `waits` counts the reads that found nothing and had to wait for the next item.
    """

    def __init__(self, count: int, every: float) -> None:
        self.count, self.every = count, every
        self.buffer: asyncio.Queue[int | None] = asyncio.Queue()
        self.waits = 0
        self.closed = asyncio.Event()

    async def send(self) -> None:
        for i in range(self.count):
            await asyncio.sleep(self.every)  # the pace of the upstream server
            self.buffer.put_nowait(i)
        self.buffer.put_nowait(None)

    async def read(self) -> AsyncGenerator[int, None]:
        try:
            while True:
                if self.buffer.empty():
                    self.waits += 1
                item = await self.buffer.get()
                if item is None:
                    return
                yield item
        finally:
            self.closed.set()


async def collect(batches: Batches[Any]) -> list[tuple[float, list[Any]]]:
    loop = asyncio.get_running_loop()
    return [(loop.time(), batch) async for batch in batches]


def test_a_slow_stream_gets_every_event_as_it_comes():
    async def main() -> list[tuple[float, list[Any]]]:
        network = Network(count=5, every=0.05)
        sender = asyncio.create_task(network.send())
        got = await collect(Batches(network.read(), lambda: 0.01))
        await sender
        return got

    got = asyncio.run(main())
    assert [batch for _, batch in got] == [[0], [1], [2], [3], [4]]


def test_a_fast_stream_is_batched_and_read_in_few_wake_ups():
    interval, count = 0.1, 60

    async def main() -> tuple[list[tuple[float, list[Any]]], Network]:
        network = Network(count=count, every=0.01)  # 10 items per interval
        sender = asyncio.create_task(network.send())
        got = await collect(Batches(network.read(), lambda: interval))
        await sender
        return got, network

    got, network = asyncio.run(main())
    assert [item for _, batch in got for item in batch] == list(range(count))
    assert got[0][1] == [0], "the first item goes out at once"
    gaps = [b - a for (a, _), (b, _) in zip(got, got[1:-1])]  # the end goes out at once
    assert min(gaps) >= interval * 0.95, f"batches closer than the interval: {gaps}"
    # Reading each item as it arrives would wait ~60 times; a paced reader waits
    # about twice per batch (once caught up, once after resting).
    assert network.waits <= 2 * len(got) + 2, (network.waits, len(got))
    assert network.waits < count / 2


def test_closing_while_the_reader_rests_closes_the_source():
    async def main() -> bool:
        network = Network(count=1000, every=0.005)
        sender = asyncio.create_task(network.send())
        batches = Batches(network.read(), lambda: 10.0)  # the reader soon rests for 8 s
        iterator = batches.__aiter__()
        assert await anext(iterator) == [0]
        while network.waits < 2:  # caught up at least once: now resting
            await asyncio.sleep(0.005)
        await iterator.aclose()
        sender.cancel()
        return network.closed.is_set()

    assert asyncio.run(main()), "the source was left open"


def test_an_error_in_the_source_reaches_the_consumer_after_the_items_before_it():
    async def failing() -> AsyncGenerator[int, None]:
        yield 1
        yield 2
        raise ValueError("upstream broke")

    async def main() -> tuple[list[int], str]:
        items: list[int] = []
        try:
            async for batch in Batches(failing(), lambda: 0.01):
                items.extend(batch)
        except ValueError as exc:
            return items, str(exc)
        return items, ""

    assert asyncio.run(main()) == ([1, 2], "upstream broke")
