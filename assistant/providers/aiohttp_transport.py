"""The SDK's HTTP transport over aiohttp, whose C parser halves the CPU each streamed
chunk costs (httpx's pure-Python stack was half the app's event loop under load).

This is the SDK's own `openai[aiohttp]` option, written out for what the SDK's adapter
gets wrong for us: a refused connection is a connection error, not a timeout; bytes
that arrived before a connection broke are read before the error (the reply keeps
every word); each event loop gets its own session, since an aiohttp session belongs to
the loop that made it; closing it ends the replies still streaming with an error
rather than a hang; and an upload that stalls times out. With a proxy set in the
environment (HTTPS_PROXY and the like) the SDK keeps httpx's transport, which reads it.
"""

from __future__ import annotations

import asyncio
import ssl as ssl_module
import urllib.request
import weakref
from typing import AsyncIterator, Iterator

import aiohttp
import httpx2
from openai import DefaultAsyncHttpx2Client

MAX_CONNECTIONS = 1000  # the SDK's default pool
KEEPALIVE_SECONDS = 5.0
MAX_HEADER_BYTES = 100 * 1024  # a header line, as httpx allows


def transport_error(exc: BaseException, *, started: bool) -> httpx2.TransportError:
    """The httpx error the SDK turns into APITimeoutError or APIConnectionError."""
    message = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx2.ConnectTimeout(message)
    if isinstance(exc, (aiohttp.ServerTimeoutError, asyncio.TimeoutError)):
        return httpx2.ReadTimeout(message)
    if isinstance(exc, aiohttp.ClientConnectorError) or not started:
        return httpx2.ConnectError(message)
    if isinstance(exc, (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError)):
        return httpx2.RemoteProtocolError(message)
    return httpx2.ReadError(message)


def _unread(content: aiohttp.StreamReader) -> Iterator[bytes]:
    """What the reader holds that nobody read yet: aiohttp raises a broken connection's
    error before it, and this is the end of the reply."""
    for index, piece in enumerate(getattr(content, "_buffer", ())):
        yield piece[getattr(content, "_buffer_offset", 0):] if index == 0 else piece


class _Body(httpx2.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        content = self._response.content
        while True:
            try:
                chunk = await content.readany()
            except aiohttp.ClientPayloadError as exc:
                for piece in _unread(content):
                    yield piece
                raise transport_error(exc, started=True) from exc
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                raise transport_error(exc, started=True) from exc
            if not chunk:
                return
            yield chunk

    async def aclose(self) -> None:
        if self._response.content.is_eof():
            self._response.release()  # read to the end: the connection is reused
        else:
            self._response.close()  # the caller left: the server sees the request end


class _Session:
    """One event loop's connections, and the replies still being read over them."""

    def __init__(self, ssl: ssl_module.SSLContext) -> None:
        self.client = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=ssl,
                                           keepalive_timeout=KEEPALIVE_SECONDS),
            auto_decompress=False, max_line_size=MAX_HEADER_BYTES,
            max_field_size=MAX_HEADER_BYTES)
        self.open: weakref.WeakSet[aiohttp.ClientResponse] = weakref.WeakSet()

    async def close(self) -> None:
        for response in list(self.open):  # a reader waiting on one gets a connection error
            response.close()
        await self.client.close()


class AiohttpTransport(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self._ssl = httpx2.create_ssl_context()
        self._sessions: dict[asyncio.AbstractEventLoop, _Session] = {}

    def _session(self) -> _Session:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.client.closed:
            for gone in [other for other in self._sessions if other.is_closed()]:
                del self._sessions[gone]  # its sockets went with it
            session = self._sessions[loop] = _Session(self._ssl)
        return session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {})
        data: bytes | httpx2.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx2.RequestNotRead:  # a streamed upload (multipart audio)
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp frames it
        # aiohttp has no write timeout, and times reads only once the body is sent: the
        # whole exchange up to the response's headers is bounded instead.
        phases = [timeout.get(name) for name in ("pool", "connect", "write", "read")]
        bound = sum(phases) if None not in phases else None
        session = self._session()
        try:
            response = await asyncio.wait_for(session.client.request(
                request.method, str(request.url), headers=request.headers.multi_items(),
                data=data, allow_redirects=False, compress=None,
                server_hostname=request.extensions.get("sni_hostname"),
                timeout=aiohttp.ClientTimeout(sock_connect=timeout.get("connect"),
                                              sock_read=timeout.get("read"),
                                              connect=timeout.get("pool"))), bound)
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise transport_error(exc, started=False) from exc
        session.open.add(response)
        return httpx2.Response(response.status, headers=response.raw_headers,
                               stream=_Body(response), request=request,
                               extensions={"http_version": b"HTTP/1.1",
                                           "reason_phrase": (response.reason or "").encode()})

    async def aclose(self) -> None:
        """Closes this loop's session, ending the replies still read over it."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


def sdk_http_client() -> httpx2.AsyncClient:
    """The SDK's HTTP client with its own defaults, over aiohttp unless a proxy is set."""
    if any(scheme != "no" for scheme in urllib.request.getproxies()):  # "no": NO_PROXY
        return DefaultAsyncHttpx2Client()
    return DefaultAsyncHttpx2Client(transport=AiohttpTransport())
