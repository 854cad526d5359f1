"""read_ahead: the embedded model's tokens computed ahead of the reader, one reply at a time."""

from __future__ import annotations

import asyncio
import inspect
import threading
from contextlib import aclosing
from typing import Iterator

import pytest

from assistant.providers.local.server import read_ahead


def collect(iterator) -> list:
    async def run() -> list:
        return [item async for item in read_ahead(iterator)]
    return asyncio.run(run())


def test_every_item_comes_in_order_then_the_end():
    assert collect(iter(range(100))) == list(range(100))


def test_an_error_reaches_the_reader_after_the_items_before_it():
    def tokens() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("the prompt does not fit")

    received = []

    async def run() -> None:
        async for item in read_ahead(tokens()):
            received.append(item)

    with pytest.raises(ValueError, match="does not fit"):
        asyncio.run(run())
    assert received == [1, 2]


def test_a_reader_that_leaves_frees_the_model_for_the_next_reply_only_after_its_thread_stops():
    may_go_on, closed, computed = threading.Event(), threading.Event(), []

    def first_reply() -> Iterator[int]:
        try:
            for i in range(1000):
                computed.append(i)
                yield i
                may_go_on.wait()
        finally:
            closed.set()

    async def run() -> list[str]:
        async with aclosing(read_ahead(first_reply())) as tokens:
            assert await anext(tokens) == 0
        # The reader has gone, but its thread is still inside the model.
        second = read_ahead(iter(["next", "reply"]))
        waiting = asyncio.ensure_future(anext(second))
        await asyncio.sleep(0)
        assert not waiting.done() and not closed.is_set()
        may_go_on.set()
        return [await waiting] + [item async for item in second]

    assert asyncio.run(run()) == ["next", "reply"]
    assert closed.is_set()
    assert computed == [0, 1]  # one token on, then it stopped


def test_llama_cpp_server_still_streams_through_the_function_we_replace():
    import llama_cpp.server.app as llama_server_app

    assert "iterate_in_threadpool(iterator)" in inspect.getsource(
        llama_server_app.get_event_publisher)
