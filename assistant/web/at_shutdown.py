"""Work that must run on the server's own event loop as it shuts down: the model
servers' connections (an aiohttp session can only be closed on the loop that made it)."""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable

from .server_fetches import Receive, Scope, Send

log = logging.getLogger(__name__)


class AtShutdown:
    """ASGI middleware running `close` when the server tells the app it is shutting down."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 close: Callable[[], Awaitable[None]]) -> None:
        self.app = app
        self.close = close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return

        async def receiving() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                try:
                    await self.close()
                except Exception:  # shutting down regardless
                    log.exception("closing the model servers' connections failed")
            return message
        await self.app(scope, receiving, send)
