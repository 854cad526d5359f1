"""Links under a reply that open a cited passage, highlighted in its context.

A link carries its owner and an HMAC over owner and passage, so it opens only the
passage it was made for: nobody can edit it to reach another owner's documents.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from ..documents.library import Library
from ..identity.owners import same_signature

PATH = "source"


class SourceLinks:
    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(("source-link:" + secret).encode()).digest()

    def _sign(self, owner: str, passage_id: int) -> str:
        return hmac.new(self._key, f"{owner}\n{passage_id}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, owner: str, passage_id: int) -> str:
        who = base64.urlsafe_b64encode(owner.encode()).decode().rstrip("=")
        return f"{PATH}/{passage_id}?o={who}&s={self._sign(owner, passage_id)}"

    def owner(self, passage_id: int, who: str, signature: str) -> str | None:
        try:
            owner = base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()
        except ValueError:
            return None
        return owner if same_signature(signature, self._sign(owner, passage_id)) else None


_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}}
mark{{background:#fde68a;padding:.1rem 0}} p{{white-space:pre-wrap}} .where{{color:#555}}</style>
</head><body><h1>{title}</h1><p class="where">{where}</p>{body}
<script>document.querySelector("mark")?.scrollIntoView({{block:"center"}})</script></body></html>"""


def source_routes(library: Library, links: SourceLinks) -> list[Route]:
    def show(request: Request) -> HTMLResponse:
        missing = HTMLResponse("<!doctype html><p>No such passage.</p>", status_code=404)
        try:
            passage_id = int(request.path_params["passage_id"])
        except ValueError:
            return missing
        owner = links.owner(passage_id, request.query_params.get("o", ""),
                            request.query_params.get("s", ""))
        found = library.passage(owner, passage_id) if owner else None
        if found is None:
            return missing
        passage, around = found
        body = "".join(f"<p><mark>{html.escape(p.text)}</mark></p>" if p.id == passage.id
                       else f"<p>{html.escape(p.text)}</p>" for p in around)
        where = ", ".join(x for x in (f"page {passage.page}" if passage.page else "",
                                       passage.heading) if x)
        return HTMLResponse(_PAGE.format(title=html.escape(passage.document_name),
                                         where=html.escape(where), body=body),
                            headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"})

    return [Route(f"/{PATH}/{{passage_id}}", show)]
