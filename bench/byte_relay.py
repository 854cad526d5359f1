"""The least any proxy in Python can cost: bytes copied socket to socket, nothing parsed.

    python -m bench.byte_relay UPSTREAM_PORT PORT

Each connection made to PORT gets one to UPSTREAM_PORT on 127.0.0.1, and whatever
either side sends is written to the other as it comes, on asyncio's own protocols. It
reads no HTTP, no JSON and no key, so it is no proxy anyone could use: it is the ceiling
for one Python process on this machine, which bench/api_capacity.py measures beside the
SDK's floor and the app.
"""

from __future__ import annotations

import asyncio
import sys

HOST = "127.0.0.1"


class _Upstream(asyncio.Protocol):
    def __init__(self, client: asyncio.Transport) -> None:
        self.client = client

    def data_received(self, data: bytes) -> None:
        self.client.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.client.close()


class _Client(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.upstream: asyncio.Transport | None = None
        self.early: list[bytes] = []  # what the client sent before the upstream answered

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        try:
            upstream, _ = await asyncio.get_running_loop().create_connection(
                lambda: _Upstream(self.transport), HOST, self.upstream_port)
        except OSError:
            self.transport.close()
            return
        assert isinstance(upstream, asyncio.Transport)
        if self.transport.is_closing():  # the client left meanwhile
            upstream.close()
            return
        self.upstream = upstream
        for data in self.early:
            upstream.write(data)

    def data_received(self, data: bytes) -> None:
        if self.upstream is not None:
            self.upstream.write(data)
        else:
            self.early.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None:
            self.upstream.close()


async def relay(upstream_port: int, port: int) -> None:
    server = await asyncio.get_running_loop().create_server(
        lambda: _Client(upstream_port), HOST, port)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(relay(int(sys.argv[1]), int(sys.argv[2])))
