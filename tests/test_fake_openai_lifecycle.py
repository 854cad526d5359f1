"""Self-test of fakes/fake_openai.py: pacing, disconnects and the server's lifecycle,
seen through the real openai SDK."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import openai
import pytest

from fakes.fake_openai import FakeOpenAI, Scenario
from tests.fake_openai_sdk import MESSAGES, joined_text, sdk_client


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def test_closing_the_stream_early_is_seen_as_a_disconnect(fake):
    fake.default = Scenario(n_tokens=1000, rate=200)

    async def run() -> int:
        seen = 0
        async with sdk_client(fake) as client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            async with stream:
                async for _chunk in stream:
                    seen += 1
                    if seen == 3:
                        break
        return seen

    assert asyncio.run(run()) == 3
    assert fake.wait_for_disconnect(2)
    assert fake.disconnects == 1


def test_rate_pacing(fake):
    fake.default = Scenario(n_tokens=20, rate=200)

    async def run() -> tuple[float, int]:
        async with sdk_client(fake) as client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            start = None
            n = 0
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    start = start or time.monotonic()
                    n += 1
            return time.monotonic() - start, n

    elapsed, n = asyncio.run(run())
    assert n == 20
    assert elapsed >= 0.09  # 19 gaps of 5 ms, paced against the start time


def test_first_token_delay(fake):
    fake.default = Scenario(text="late", first_token_delay=0.15)

    async def run() -> float:
        async with sdk_client(fake) as client:
            start = time.monotonic()
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    return time.monotonic() - start
        raise AssertionError("no content")

    assert asyncio.run(run()) >= 0.15


def test_fifty_paced_streams_are_served_at_once(fake):
    fake.default = Scenario(n_tokens=1000, rate=100)  # 10 s a stream
    users = 50

    async def run() -> list[str]:
        all_started = asyncio.Event()
        started = 0

        async def one(client: openai.AsyncOpenAI) -> str:
            nonlocal started
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            async with stream:
                first = [await anext(stream), await anext(stream)]  # the role, then "w0 "
                started += 1
                if started == users:
                    all_started.set()
                await all_started.wait()  # one stream at a time would never get every user here
                return joined_text(first)

        async with sdk_client(fake) as client, asyncio.timeout(30):
            return await asyncio.gather(*(one(client) for _ in range(users)))

    assert asyncio.run(run()) == ["w0 "] * users
    assert fake.wait_for_disconnect(count=users)  # each closed mid-stream


def test_stop_is_prompt_with_a_stalled_stream():
    fake = FakeOpenAI().start()
    fake.default = Scenario(text="a b", fault="stall", fault_after=1, stall_seconds=30)
    stalled = threading.Event()  # the client has the chunk before the stall
    result: dict[str, Any] = {}

    async def read() -> None:
        async with sdk_client(fake, 60) as client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            try:
                async with stream:
                    async for _chunk in stream:
                        stalled.set()
            except Exception as exc:
                result["err"] = exc

    thread = threading.Thread(target=lambda: asyncio.run(read()), daemon=True)
    thread.start()
    assert stalled.wait(5)
    fake.stop()
    thread.join(5)
    assert not thread.is_alive()  # the stall would have lasted 30 s
    assert isinstance(result.get("err"), openai.APIConnectionError)  # stop() cut the stream
    assert fake.disconnects == 0  # a server stop is not a client disconnect


def test_cli_serves_a_default_scenario_until_sigterm():
    root = Path(__file__).resolve().parent.parent
    with subprocess.Popen(
        [sys.executable, "-m", "fakes.fake_openai", "--port", "0", "--tokens", "5", "--rate", "1000"],
        cwd=root, stdout=subprocess.PIPE, text=True,
    ) as proc:
        try:
            base_url = proc.stdout.readline().strip()
            assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
            with openai.OpenAI(base_url=base_url, api_key="test", max_retries=0) as client:
                stream = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
                with stream:
                    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
            assert text == "w0 w1 w2 w3 w4 "
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=2) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
