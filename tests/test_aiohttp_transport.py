"""The SDK's transport over aiohttp, against small servers of our own on loopback."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

import httpx2
import pytest

from assistant.providers.aiohttp_transport import AiohttpTransport
from assistant.providers.backends import Connection, make_client
from fakes.loopback import free_port

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def serving(handler: Handler) -> tuple[asyncio.Server, str]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/chat/completions"


def request(url: str, read: float = 5.0) -> httpx2.Request:
    return httpx2.Request("POST", url, content=b'{"stream": true}', extensions={
        "timeout": {"connect": 5.0, "read": read, "write": 5.0, "pool": 5.0}})


def test_bytes_that_came_before_the_connection_broke_are_read_before_the_error():
    async def scenario() -> tuple[list[bytes], BaseException | None]:
        closed = asyncio.Event()

        async def cut_after_two_events(reader: asyncio.StreamReader,
                                       writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(HEAD + chunk(b"data: w0\n\n") + chunk(b"data: w1\n\n"))
            await writer.drain()
            writer.close()  # no last chunk: the body is cut short
            closed.set()
        server, url = await serving(cut_after_two_events)
        transport = AiohttpTransport()
        response = await transport.handle_async_request(request(url))
        await closed.wait()
        await asyncio.sleep(0.2)  # the close has reached the client before anything is read
        pieces: list[bytes] = []
        error = None
        try:
            async for piece in response.stream:  # type: ignore[union-attr]
                pieces.append(piece)
        except httpx2.TransportError as exc:
            error = exc
        await transport.aclose()
        server.close()
        return pieces, error
    pieces, error = asyncio.run(scenario())
    assert b"".join(pieces) == b"data: w0\n\ndata: w1\n\n"
    assert isinstance(error, httpx2.RemoteProtocolError)


def test_a_refused_connection_is_a_connection_error_and_silence_a_read_timeout():
    async def scenario() -> tuple[BaseException, BaseException]:
        transport = AiohttpTransport()
        with pytest.raises(httpx2.TransportError) as refused:
            await transport.handle_async_request(
                request(f"http://127.0.0.1:{free_port()}/v1/chat/completions"))

        async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1)
            await asyncio.sleep(5)
        server, url = await serving(never_answer)
        with pytest.raises(httpx2.TransportError) as silent:
            await transport.handle_async_request(request(url, read=0.3))
        await transport.aclose()
        server.close()
        return refused.value, silent.value
    refused, silent = asyncio.run(scenario())
    assert type(refused) is httpx2.ConnectError  # not a timeout: "Could not reach …"
    assert type(silent) is httpx2.ReadTimeout


def test_each_event_loop_gets_its_own_session_and_a_stream_left_early_is_closed():
    ends: list[bytes] = []
    transport = AiohttpTransport()  # made outside any loop, as the app makes its clients

    async def scenario(close: bool) -> bytes:
        left = asyncio.Event()

        async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(HEAD)
            try:
                for i in range(1000):
                    writer.write(chunk(b"data: w%d\n\n" % i))
                    await writer.drain()
                    if await _closed_by_peer(reader):
                        break
            except ConnectionError:
                pass
            ends.append(b"closed")
            left.set()
        server, url = await serving(endless)
        response = await transport.handle_async_request(request(url))
        first = b""
        async for piece in response.stream:  # type: ignore[union-attr]
            first = piece
            break
        await response.aclose()
        await asyncio.wait_for(left.wait(), 5)
        if close:
            await transport.aclose()
        server.close()
        return first
    assert asyncio.run(scenario(close=False)).startswith(b"data: w0")
    assert asyncio.run(scenario(close=True)).startswith(b"data: w0")  # another loop
    assert ends == [b"closed", b"closed"]


async def _closed_by_peer(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(1), 0.01) == b""
    except asyncio.TimeoutError:
        return False


def test_with_a_proxy_in_the_environment_the_requests_go_through_it(monkeypatch):
    asked: list[bytes] = []

    async def scenario() -> None:
        async def forward_proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            asked.append((await reader.readuntil(b"\r\n\r\n")).split(b"\r\n")[0])
            body = b'{"object": "list", "data": []}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            writer.close()
        server, _ = await serving(forward_proxy)
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        client = make_client("http://models.example/v1", "sk-test", Connection())
        await client.models.list()
        await client.close()
        server.close()
    asyncio.run(scenario())
    assert asked == [b"GET http://models.example/v1/models HTTP/1.1"]


def test_closing_the_client_ends_a_reply_still_streaming_with_a_connection_error():
    async def scenario() -> BaseException:
        async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(HEAD + chunk(b"data: w0\n\n"))
            await writer.drain()
            await reader.read()  # then nothing more, until the client goes
        server, url = await serving(endless)
        transport = AiohttpTransport()
        response = await transport.handle_async_request(request(url))
        first = asyncio.Event()

        async def read_all() -> None:
            async for _ in response.stream:  # type: ignore[union-attr]
                first.set()
        reading = asyncio.create_task(read_all())
        await first.wait()
        await transport.aclose()  # as the app does at shutdown, or a visitor's route evicted
        with pytest.raises(httpx2.TransportError) as ended:
            await asyncio.wait_for(reading, 10)  # not a hang
        server.close()
        return ended.value
    assert type(asyncio.run(scenario())) is httpx2.ReadError


def test_an_upload_the_server_never_reads_times_out():
    async def scenario() -> None:
        async def deaf(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(30)
        server, url = await serving(deaf)
        transport = AiohttpTransport()
        stalled = httpx2.Request("POST", url, content=b"x" * 64_000_000, extensions={
            "timeout": {"connect": 0.2, "read": 0.2, "write": 0.2, "pool": 0.2}})
        with pytest.raises(httpx2.TimeoutException):
            await transport.handle_async_request(stalled)
        await transport.aclose()
        server.close()
    asyncio.run(scenario())
