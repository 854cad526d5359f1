"""The SDK's HTTP transport over aiohttp, whose C parser halves the CPU each streamed
chunk costs (httpx's pure-Python stack was half the app's event loop under load).

This is the SDK's own `openai[aiohttp]` option, written out here for three things the
SDK's adapter gets wrong for us: a refused connection is a connection error, not a
timeout; bytes that arrived before a connection broke are read before the error (the
reply keeps every word); and each event loop gets its own session, since an aiohttp
session belongs to the loop that made it. With a proxy set in the environment
(HTTPS_PROXY and the like) the SDK keeps httpx's own transport, which reads it.
"""

from __future__ import annotations

import asyncio
import urllib.request
import weakref
from typing import AsyncIterator, Iterator

import aiohttp
import httpx2
from openai import DefaultAsyncHttpx2Client

MAX_CONNECTIONS = 1000  # the SDK's default pool
KEEPALIVE_SECONDS = 5.0


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
    yield from getattr(content, "_buffer", ())


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


class AiohttpTransport(httpx2.AsyncBaseTransport):
    def __init__(self) -> None:
        self._ssl = httpx2.create_ssl_context()
        self._sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] \
            = weakref.WeakKeyDictionary()

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=MAX_CONNECTIONS, ssl=self._ssl,
                                             keepalive_timeout=KEEPALIVE_SECONDS)
            session = self._sessions[loop] = aiohttp.ClientSession(connector=connector,
                                                                   auto_decompress=False)
        return session

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeout = request.extensions.get("timeout", {})
        data: bytes | httpx2.AsyncByteStream | None
        try:
            data = request.content or None
        except httpx2.RequestNotRead:  # a streamed upload (multipart audio)
            data = request.stream  # type: ignore[assignment]
            request.headers.pop("transfer-encoding", None)  # aiohttp frames it
        try:
            response = await self._session().request(
                request.method, str(request.url), headers=request.headers.multi_items(),
                data=data, allow_redirects=False, compress=None,
                server_hostname=request.extensions.get("sni_hostname"),
                timeout=aiohttp.ClientTimeout(sock_connect=timeout.get("connect"),
                                              sock_read=timeout.get("read"),
                                              connect=timeout.get("pool")))
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise transport_error(exc, started=False) from exc
        return httpx2.Response(response.status, headers=response.raw_headers,
                               stream=_Body(response), request=request,
                               extensions={"http_version": b"HTTP/1.1",
                                           "reason_phrase": (response.reason or "").encode()})

    async def aclose(self) -> None:
        """Closes this loop's session; another loop's goes with its loop."""
        session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await session.close()


def sdk_http_client() -> httpx2.AsyncClient:
    """The SDK's HTTP client with its own defaults, over aiohttp unless a proxy is set."""
    if any(scheme != "no" for scheme in urllib.request.getproxies()):  # "no": NO_PROXY
        return DefaultAsyncHttpx2Client()
    return DefaultAsyncHttpx2Client(transport=AiohttpTransport())
