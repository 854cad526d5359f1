"""The headers every response of the app carries, so a page's content cannot reach out.

The Content-Security-Policy lets the page load images, fonts and media only from the
app itself (plus `data:`, `blob:` and the allowed image hosts), connect only to the
app, post forms only to the app, and show no frames. Gradio's page needs inline
scripts and styles, and `eval` for the JavaScript of its events; its sanitizer
removes scripts from replies, and web/safe_markdown.py shows their HTML as text.
"""

from __future__ import annotations

from typing import Any, Awaitable, Callable, Sequence

from .server_fetches import Receive, Scope, Send


def content_security_policy(images: Sequence[str] = (),
                            ancestors: Sequence[str] = ("'self'",)) -> str:
    directives = {
        "default-src": "'self'",
        "script-src": "'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src": "'self' 'unsafe-inline'",
        "img-src": " ".join(("'self'", "data:", "blob:", *images)),
        "media-src": "'self' data: blob:",
        "font-src": "'self' data:",
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "frame-src": "'none'",
        "object-src": "'none'",
        "base-uri": "'self'",
        "form-action": "'self'",
        "frame-ancestors": " ".join(ancestors) or "'self'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(images: Sequence[str] = (),
                     ancestors: Sequence[str] = ("'self'",)) -> list[tuple[bytes, bytes]]:
    return [(name.encode(), value.encode()) for name, value in (
        ("content-security-policy", content_security_policy(images, ancestors)),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),  # a link's click does not tell the site our address
        ("x-dns-prefetch-control", "off"),  # nor does a DNS look-up of a link in a reply
    )]


class SecurityHeaders:
    """ASGI middleware adding `headers` to every HTTP response that lacks them."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]],
                 headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                message["headers"] = [*message.get("headers", ()),
                                      *(h for h in self.headers if h[0] not in present)]
            await send(message)

        await self.app(scope, receive, with_headers)
