"""Gradio's routes that fetch an outside address on the server's side, closed.

`/gradio_api/file=<url>` streams any public address to whoever asks, and `/proxy=<url>`
relays to Spaces. The app needs neither, and an image pointed at them would let a reply
send data away through the server, where the page's Content-Security-Policy cannot see.
"""

from __future__ import annotations

import re
from typing import Any, Awaitable, Callable

OUTSIDE_FETCH = re.compile(r"/(?:file=https?:|proxy=)", re.IGNORECASE)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class NoOutsideFetches:
    """ASGI middleware answering 403 to a request that asks the server to fetch elsewhere."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and OUTSIDE_FETCH.search(scope.get("path", "")):
            await answer(send, 403, b"This app does not fetch other sites' files.\n",
                         b"text/plain; charset=utf-8")
            return
        await self.app(scope, receive, send)


async def answer(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    """A whole response from an ASGI middleware that answers instead of the app."""
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
