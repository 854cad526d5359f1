"""404 for the dashboard's page, and its page config, to anyone who is not an admin.

(Gradio's whole-app `/config` still lists the page's empty components; its figures come
only from its event, which checks the caller itself.)

Gradio serves every multipage route to anyone who may see the app; this middleware
answers first. It reads the user as Gradio does: its login cookie, or the session of
"Sign in with Hugging Face" (whose middleware runs before this one).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Awaitable, Callable
from urllib.parse import parse_qs

from starlette.requests import Request

from .server_fetches import Receive, Scope, Send, answer


class AdminGate:
    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], *,
                 path: str, is_admin: Callable[[Any], bool]) -> None:
        self.app = app
        self.path = "/" + path.strip("/")
        self.is_admin = is_admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._asks_for_page(scope) \
                and not self.is_admin(_caller(scope)):
            await answer(send, 404, b'{"detail":"Not Found"}', b"application/json")
            return
        await self.app(scope, receive, send)

    def _asks_for_page(self, scope: Scope) -> bool:
        """The page's path, or any path asking for it by name (/?page=, /config?page=…)."""
        if (scope.get("path", "").rstrip("/") or "/") == self.path:
            return True
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return any(page.strip("/") == self.path.strip("/") for page in query.get("page", []))


def _caller(scope: Scope) -> Any:
    """What Identity reads from a Gradio request: the user name, and the HTTP request."""
    request = Request(scope)
    app = scope.get("app")
    cookie_id = getattr(app, "cookie_id", "")
    token = request.cookies.get(f"access-token-{cookie_id}") \
        or request.cookies.get(f"access-token-unsecure-{cookie_id}")
    tokens = getattr(app, "tokens", None) or {}
    return SimpleNamespace(username=tokens.get(token) if token else None, request=request)
