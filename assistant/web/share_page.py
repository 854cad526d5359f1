"""The page a share link opens: a read-only snapshot of a chat, drawn from the stored
snapshot (storage/snapshots.py) as plain HTML on the app's own server.

The same output safety as the chat: raw HTML in a message shows as text, outside
images as links, and the app's Content-Security-Policy applies. A link that was never
made, was revoked, expired, or whose chat was deleted gives 404, all alike.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import quote

from markdown_it import MarkdownIt
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from ..storage.records import Share
from ..storage.repository import Store
from .callers import hf_owner
from .image_policy import ImagePolicy
from .safe_markdown import safe_markdown

PATH = "share"
CONTINUE_PARAMETER = "continue"  # the page's "?continue=<token>" copies a snapshot
SHOWN_IMAGES = ("image/png", "image/jpeg", "image/gif", "image/webp")
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])
_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex"}
_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · shared chat</title><style>
body {{ font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
  line-height: 1.5; color: #1f2328; }}
header p {{ color: #57606a; }} .message {{ border-top: 1px solid #d0d7de; padding: 0.5rem 0; }}
.role {{ font-weight: 600; }} pre {{ background: #f6f8fa; padding: 0.5rem; overflow-x: auto; }}
.continue {{ display: inline-block; background: #0b5cad; color: #fff; padding: 0.4rem 0.8rem;
  border-radius: 6px; text-decoration: none; }} img {{ max-width: 100%; }}
details {{ margin: 0.3rem 0; }} .sources {{ font-size: 0.9rem; color: #57606a; }}
</style></head><body><header><h1>{title}</h1>
<p>A read-only snapshot, shared on {created}. It does not change when the chat goes on.</p>
<p><a class="continue" href="/?{parameter}={token}">Continue this chat</a></p></header>
<main>{body}</main></body></html>"""
NOT_FOUND = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found"
             "</title></head><body><h1>No such shared chat</h1><p>The link is wrong, or its "
             "owner revoked it or deleted the chat.</p></body></html>")
SIGN_IN = ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Sign in"
           "</title></head><body><h1>Sign in to see this shared chat</h1><p>Its owner shared "
           "it with signed-in users only. <a href=\"/\">Sign in</a>, then open the link "
           "again.</p></body></html>")


def signed_in_user(request: Request) -> str | None:
    """The user signed in to this app with a password or with Hugging Face, if any."""
    app: Any = request.app
    tokens, cookie_id = getattr(app, "tokens", None), getattr(app, "cookie_id", "")
    cookie = request.cookies.get(f"access-token-{cookie_id}") or \
        request.cookies.get(f"access-token-unsecure-{cookie_id}")
    user = tokens.get(cookie) if isinstance(tokens, dict) and cookie else None
    return user if isinstance(user, str) and user else hf_owner(request)


# (owner, document id) -> the document's name and stored file, while the owner keeps it
DocumentFiles = Callable[[str, str], tuple[str, Path] | None]


def share_routes(store: Store, sharing: bool, files: DocumentFiles | None = None,
                 who: Callable[[Request], str | None] = signed_in_user) -> list[Route]:
    def opened(request: Request) -> Share | Response:
        """The share the request names (with its snapshot), or the page that says why not."""
        token = str(request.path_params.get("token", ""))
        shared = store.open_share(token) if sharing and 20 <= len(token) <= 64 else None
        if shared is None or shared.snapshot is None:
            return HTMLResponse(NOT_FOUND, status_code=404, headers=_HEADERS)
        if shared.audience == "signed_in" and who(request) is None:
            return HTMLResponse(SIGN_IN, status_code=403, headers=_HEADERS)
        return shared

    def show(request: Request) -> Response:
        shared = opened(request)
        if isinstance(shared, Response) or shared.snapshot is None:
            return shared if isinstance(shared, Response) else HTMLResponse(NOT_FOUND, 404)
        return HTMLResponse(_PAGE.format(
            title=html.escape(shared.title or "Shared chat"),
            body=snapshot_html(shared.snapshot, shared.token if files else None),
            created=html.escape(str(shared.snapshot.get("chat", {}).get("exported", ""))[:10]),
            parameter=CONTINUE_PARAMETER, token=html.escape(shared.token)), headers=_HEADERS)

    def document(request: Request) -> Response:
        """A file the snapshot's sources cite (shared with "documents" ticked), as a
        download: never drawn in the page, whatever it holds."""
        shared = opened(request)
        if isinstance(shared, Response) or shared.snapshot is None:
            return shared if isinstance(shared, Response) else HTMLResponse(NOT_FOUND, 404)
        wanted = str(request.path_params.get("document", ""))
        found = files(shared.owner, wanted) if files and wanted in cited_documents(
            shared.snapshot) else None
        if found is None:
            return HTMLResponse(NOT_FOUND, status_code=404, headers=_HEADERS)
        name, path = found
        return FileResponse(path, media_type="application/octet-stream", headers={
            **_HEADERS, "X-Content-Type-Options": "nosniff",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    return [Route(f"/{PATH}/{{token}}", show),
            Route(f"/{PATH}/{{token}}/files/{{document}}", document)]


def cited_documents(snapshot: Mapping[str, Any]) -> set[str]:
    """The ids of the documents whose passages the snapshot's replies cite."""
    return {str(source.get("document_id")) for message in (snapshot.get("chat") or {}).get(
        "messages") or [] for source in message.get("sources") or [] if source.get("document_id")}


def snapshot_html(snapshot: Mapping[str, Any], token: str | None = None) -> str:
    """The page's body; with `token`, each cited document's name links to its file."""
    chat = snapshot.get("chat") or {}
    parts = []
    prompt = (chat.get("settings") or {}).get("system_prompt")
    facts = snapshot.get("facts") or []
    if prompt or facts:
        shown = "".join(f"<li>{html.escape(str(f))}</li>" for f in facts)
        parts.append("<section class=\"message\"><p class=\"role\">System prompt</p>"
                     f"<pre>{html.escape(str(prompt or ''))}</pre>"
                     + (f"<p>Saved facts</p><ul>{shown}</ul>" if shown else "") + "</section>")
    for message in chat.get("messages") or []:
        parts.append(_message_html(message, token))
    return "".join(parts) or "<p>This chat had no messages yet.</p>"


def _message_html(message: Mapping[str, Any], token: str | None = None) -> str:
    role = "You" if message.get("role") == "user" else "Assistant"
    steps = "".join(_step_html(s) for s in message.get("steps") or []
                    if s.get("type") in ("tool", "reasoning"))
    images = "".join(_image_html(i) for i in message.get("images") or [])
    sources = "".join(
        f"<li>[{int(s.get('number', 0))}] {_document_link(s, token)}"
        f"{', ' + html.escape(str(s.get('heading'))) if s.get('heading') else ''}: "
        f"{html.escape(str(s.get('text', '')))}</li>" for s in message.get("sources") or [])
    text = _MARKDOWN.render(safe_markdown(str(message.get("content", "")), ImagePolicy()))
    return (f'<section class="message"><p class="role">{role}</p>{steps}{images}{text}'
            + (f'<ul class="sources">{sources}</ul>' if sources else "") + "</section>")


def _document_link(source: Mapping[str, Any], token: str | None) -> str:
    name = html.escape(str(source.get("name", "")))
    if not token or not source.get("document_id"):
        return name
    href = f"/{PATH}/{quote(token)}/files/{quote(str(source['document_id']), safe='')}"
    return f'<a href="{html.escape(href)}" download>{name}</a>'


def _image_html(image: Mapping[str, Any]) -> str:
    data = str(image.get("data", ""))
    if image.get("media_type") not in SHOWN_IMAGES or not _BASE64.fullmatch(data):
        return ""
    return (f'<img alt="{html.escape(str(image.get("name") or "image"))}" '
            f'src="data:{image["media_type"]};base64,{data}">')


def _step_html(step: Mapping[str, Any]) -> str:
    title = f"🔧 {html.escape(str(step.get('name', '')))}" if step.get("type") == "tool" \
        else "💭 Reasoning"
    body = "\n".join(html.escape(str(step.get(k) or "")) for k in ("arguments", "text"))
    return f"<details><summary>{title}</summary><pre>{body.strip()}</pre></details>"
