"""A lean OpenAI stream for capacity benchmarks: asyncio, one timer for every stream.

fakes/fake_openai.py is the full fake (every fault and quirk), a thread per stream;
it tops out near 100 streams at 50 tokens/s on 2 cores, below what the API path can
carry. This one only answers streamed chat completions (and GET /v1/models): each
stream gets its role chunk at once, then one token per tick, all streams on one
ticker, then a finish chunk, usage and [DONE].

    python -m fakes.fast_fake --tokens 300 --rate 50     # prints its base URL
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from fakes.fake_wire import http_chunk

HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n")
SLOTS = 10
MODELS = json.dumps({"object": "list", "data": [
    {"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}]}).encode()


def event(payload: dict) -> bytes:
    return http_chunk(b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n")


def chunk(delta: dict, finish: str | None = None) -> dict:
    return {"id": "chatcmpl-fast", "object": "chat.completion.chunk", "created": 0,
            "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


class FastFake:
    def __init__(self, tokens: int, rate: float) -> None:
        self.first = event(chunk({"role": "assistant", "content": ""}))
        self.tokens = [event(chunk({"content": f"w{i} "})) for i in range(tokens)]
        self.last = (event(chunk({}, "stop"))
                     + event({**chunk({}), "choices": [], "usage": {
                         "prompt_tokens": 8, "completion_tokens": tokens, "total_tokens": 8 + tokens}})
                     + http_chunk(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        self.interval = 1 / rate
        # Streams in SLOTS groups by arrival, one group served per tick: each stream
        # gets a token every interval, and the streams' tokens do not all come at once.
        self.slots: list[dict[asyncio.StreamWriter, list[Any]]] = [{} for _ in range(SLOTS)]
        self.ticks = 0

    def add(self, writer: asyncio.StreamWriter) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.slots[(self.ticks + 1) % SLOTS][writer] = [0, done]
        return done

    async def tick(self) -> None:
        loop = asyncio.get_running_loop()
        step, due = self.interval / SLOTS, loop.time()
        while True:
            due += step
            await asyncio.sleep(max(0.0, due - loop.time()))
            self.ticks += 1
            slot = self.slots[self.ticks % SLOTS]
            for writer, stream in list(slot.items()):
                sent, done = stream
                if writer.is_closing() or sent >= len(self.tokens):
                    if not writer.is_closing():
                        writer.write(self.last)
                    del slot[writer]
                    done.set_result(None)
                else:
                    writer.write(self.tokens[sent])
                    stream[0] = sent + 1

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in request.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                if request.startswith(b"GET"):
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % len(MODELS) + MODELS)
                    continue
                writer.write(HEAD + self.first)
                await self.add(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def main(tokens: int, rate: float, port: int) -> None:
    fake = FastFake(tokens, rate)
    server = await asyncio.start_server(fake.serve, "127.0.0.1", port, backlog=2048)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", flush=True)
    ticker = asyncio.create_task(fake.tick())
    async with server:
        await server.serve_forever()
    ticker.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--port", type=int, default=0)
    options = parser.parse_args()
    asyncio.run(main(options.tokens, options.rate, options.port))
