"""A visitor on a public app, end to end: in a real browser and over the API.

Each session does what a visitor can do: brings their own key, chats, meets every
failure the upstream can cause, stops and continues a reply, goes back to the
server's key, attaches a document, exports, downloads and deletes their data. Then
every HTTP response the session received, the server log and every byte in the data
directory are scanned for the server's key and the visitor's: neither may appear.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from gradio_client import handle_file
from playwright.sync_api import Page, expect

from assistant.quotas.policy import DAY
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.browser import bot_messages, open_app, send
from tests.conftest import FAKE_MODEL, Clock, RunningApp, model_posts, start_app

SERVER_KEY = "sk-server-key-5f1e0c2a9b7d4e61"
VISITOR_KEY = "sk-visitor-key-8c3d2b1a0f9e8d77"
KEYS = (SERVER_KEY, VISITOR_KEY)

# Every failure of issue 3, as the fake injects it, and the words the visitor reads.
FAILURES: list[tuple[dict[str, Any], str]] = [
    (dict(status=401, error_code="invalid_api_key",
          error_message=f"Incorrect API key provided: {VISITOR_KEY}"), "rejected your API key"),
    (dict(status=403, error_message="Project does not have access"), "has no access to"),
    (dict(status=404, error_code="model_not_found", error_message="no such model"),
     "was not found (404)"),
    (dict(status=400, error_code="invalid_value", error_message="messages is malformed"),
     "refused the request: messages is malformed"),
    (dict(status=400, error_code="content_filter", error_message="filtered"),
     "blocked by the model server's content filter"),
    (dict(status=429, error_code="insufficient_quota", error_type="insufficient_quota",
          error_message="You exceeded your current quota."), "out of credit"),
    (dict(status=429, error_message="Slow down"), "rate limiting requests (429)"),
    (dict(status=503, error_message="busy"), "overloaded or failing (503)"),
    (dict(n_tokens=10, fault_after=3, fault="drop"), "connection to the model server dropped"),
    (dict(n_tokens=10, fault_after=3, fault="stall", stall_seconds=4), "The reply stalled"),
    (dict(n_tokens=10, fault_after=3, fault="error_event", error_message="upstream exploded"),
     "reported an error: upstream exploded"),
    (dict(n_tokens=10, fault_after=3, fault="malformed"), "sent a malformed reply"),
    (dict(n_tokens=10, fault_after=3, fault="no_finish"),
     "ended without the server saying it was finished"),
    (dict(text="Half a sentence", finish_reason="length"), "maximum output length"),
    (dict(text="Half a sentence", finish_reason="content_filter"),
     "content filter stopped the reply"),
]


def public_app(fake_server: FakeOpenAI, data_dir: Path, clock: Clock | None = None,
               **env: str) -> RunningApp:
    return start_app({"OPENAI_BASE_URL": fake_server.base_url, "OPENAI_API_KEY": SERVER_KEY,
                      "ASSISTANT_MODEL": FAKE_MODEL, "ASSISTANT_VISITOR_KEYS": "allowed",
                      "ASSISTANT_MAX_RETRIES": "0", "ASSISTANT_READ_TIMEOUT": "1",
                      "ASSISTANT_DATA_DIR": str(data_dir), **env}, clock=clock)


@pytest.fixture
def visitor_app(fake_server: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
                ) -> Iterator[RunningApp]:
    """Anyone with the link, as on a share link or a Space."""
    caplog.set_level(logging.DEBUG)
    app = public_app(fake_server, tmp_path / "data")
    yield app
    app.close()


@pytest.fixture
def member_app(fake_server: FakeOpenAI, tmp_path: Path, caplog: pytest.LogCaptureFixture
               ) -> Iterator[RunningApp]:
    """With sign-in: an API caller's chats are kept under their name."""
    caplog.set_level(logging.DEBUG)
    app = public_app(fake_server, tmp_path / "data", ASSISTANT_AUTH="ann:ann-pw")
    yield app
    app.close()


def bearer(post: Any) -> str:
    return post.headers.get("authorization", "")


def assert_no_key_in(texts: list[str], caplog: pytest.LogCaptureFixture, data_dir: Path) -> None:
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())
    for key in KEYS:
        assert not [t[:200] for t in texts if key in t], key
        assert key not in caplog.text, key
        assert key.encode() not in stored, key


# --- in the browser ------------------------------------------------------------------

def received(page: Page) -> list[Any]:
    """Every request whose response has fully arrived, the event streams included."""
    finished: list[Any] = []
    page.on("requestfinished", lambda request: finished.append(request))
    return finished


def bodies(requests: list[Any]) -> list[str]:
    texts = []
    for request in requests:
        response = request.response()
        try:
            texts.append(response.text() if response is not None else "")
        except Exception:  # a redirect has no body to read
            continue
        texts.append(json.dumps(dict(response.headers)) if response is not None else "")
    return texts


def reply_with(page: Page, words: str) -> None:
    expect(page.get_by_text(words).last).to_be_visible(timeout=20_000)
    expect(page.locator("button.stop-button")).to_have_count(0, timeout=20_000)


def test_a_browser_visitor_does_everything_and_no_key_leaks(page, visitor_app, fake, caplog,
                                                            tmp_path):
    finished = received(page)
    open_app(page, visitor_app.url)
    page.get_by_text("Your API key").first.click()
    key_box = page.get_by_label("Your API key")
    expect(key_box).to_be_editable()  # the panel has opened, so what is typed stays
    key_box.fill(VISITOR_KEY)
    expect(key_box).to_have_value(VISITOR_KEY)
    page.get_by_role("button", name="Use my key").click()
    expect(page.locator("#own-key-status")).to_contain_text("Your own key is in use")
    expect(page.get_by_label("Your API key")).to_have_value("")  # never echoed back

    fake.enqueue(Scenario(text="Hello visitor."))
    send(page, "Hello")
    reply_with(page, "Hello visitor.")
    assert bearer(model_posts(fake)[-1]) == f"Bearer {VISITOR_KEY}"

    for scenario, words in FAILURES:
        fake.enqueue(Scenario(**scenario))
        send(page, "Once more")
        reply_with(page, words)

    fake.enqueue(Scenario(n_tokens=400, rate=20), Scenario(text=" and the rest."))
    send(page, "Count slowly")
    expect(bot_messages(page).last).to_contain_text("w3", timeout=20_000)
    page.locator("button.stop-button").click()
    reply_with(page, "You stopped this reply.")
    page.get_by_role("button", name="Continue").last.click()
    reply_with(page, "and the rest.")

    page.locator("#own-key-clear").click()
    expect(page.locator("#own-key-status")).not_to_contain_text("Your own key is in use")
    notes = tmp_path / "harbour.md"
    notes.write_text("# Harbour\n\nThe harbour of Velmora exports dried kelp.\n")
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("upload-button").click()
    chooser.value.set_files(str(notes))
    expect(page.locator(".thumbnail-item").first).to_be_visible(timeout=20_000)
    fake.enqueue(Scenario(text="Dried kelp."))
    send(page, "What does Velmora export?")
    reply_with(page, "Dried kelp.")
    assert bearer(model_posts(fake)[-1]) == f"Bearer {SERVER_KEY}"

    page.get_by_text("This chat").click()
    page.get_by_role("button", name="Export JSON").click()
    with page.expect_download():
        page.locator("a[download]").first.click()
    page.get_by_text("Your data").click()
    page.get_by_role("button", name="Download all my data").click()
    with page.expect_download():
        page.locator("a[download]").last.click()
    page.get_by_role("button", name="Delete all my data").click()
    page.get_by_role("button", name="Yes, delete everything").click()
    expect(page.locator("#conversation-list .chat-open")).to_have_count(0)
    visitor_app.app.store.flush()

    texts = bodies(finished)
    assert any("Hello visitor." in t for t in texts), "the streamed replies were scanned"
    assert len(texts) > 50
    assert_no_key_in(texts, caplog, tmp_path / "data")


# --- over the API --------------------------------------------------------------------

def chat_outputs(client: Any, text: Any) -> list[str]:
    job = client.submit(text, FAKE_MODEL, 0.7, "", 10, 1024, False, "chat_completions", [],
                        True, api_name="/chat")
    list(job)
    return [json.dumps(o, ensure_ascii=False) for o in [*job.outputs(), job.result()]]


def test_an_api_visitor_does_everything_and_no_key_leaks(member_app, fake, caplog, tmp_path):
    client = member_app.client(auth=("ann", "ann-pw"))
    seen = [json.dumps(client.predict(VISITOR_KEY, "", api_name="/set_api_key"))]
    fake.enqueue(Scenario(text="Hello visitor."))
    seen += chat_outputs(client, "Hello")
    assert "Hello visitor." in seen[-1]
    assert bearer(model_posts(fake)[-1]) == f"Bearer {VISITOR_KEY}"

    for scenario, words in FAILURES:
        fake.enqueue(Scenario(**scenario))
        seen += chat_outputs(client, "Once more")
        assert words in seen[-1], words

    seen.append(json.dumps(client.predict(api_name="/clear_api_key")))
    notes = tmp_path / "harbour.md"
    notes.write_text("# Harbour\n\nThe harbour of Velmora exports dried kelp.\n")
    fake.enqueue(Scenario(text="Dried kelp."))
    seen += chat_outputs(client, {"text": "What does Velmora export?",
                                  "files": [handle_file(str(notes))]})
    assert "Dried kelp." in seen[-1]
    assert bearer(model_posts(fake)[-1]) == f"Bearer {SERVER_KEY}"

    [chat] = client.predict("", api_name="/list_conversations")
    seen += [json.dumps(client.predict(chat["id"], api_name=name))
             for name in ("/export_conversation", "/export_markdown")]
    archive = client.predict("", api_name="/download_my_data")
    seen.append(Path(archive).read_bytes().decode("latin-1"))
    seen.append(json.dumps(client.predict("delete everything", api_name="/delete_my_data")))
    assert client.predict("", api_name="/list_conversations") == []
    with httpx.Client(base_url=member_app.url) as web:
        web.post("/login", data={"username": "ann", "password": "ann-pw"})
        seen += [web.get(path).text for path in ("/", "/config", "/gradio_api/info",
                                                  "/metrics")]
    member_app.app.store.flush()
    assert_no_key_in(seen, caplog, tmp_path / "data")


# --- limits, met in the browser ------------------------------------------------------

def test_a_browser_visitor_meets_each_limit_and_a_new_browser_id_does_not_reset_it(
        browser, fake_server, fake, tmp_path):
    clock = Clock(DAY * 20_000 + 12 * 3600)  # noon UTC
    app = public_app(fake_server, tmp_path / "data", ASSISTANT_REQUESTS_PER_MINUTE="2",
                     ASSISTANT_CONCURRENT_STREAMS="1", ASSISTANT_TOKENS_PER_DAY="60",
                     clock=clock)
    first = browser.new_context().new_page()
    second = browser.new_context().new_page()  # cookies cleared: a new id, the same address
    try:
        open_app(first, app.url)
        fake.enqueue(Scenario(text="One."), Scenario(text="Two."))
        for words in ("One.", "Two."):
            send(first, "Hello")
            reply_with(first, words)
        sent = len(model_posts(fake))
        send(first, "Hello again")
        reply_with(first, "2 messages in the last minute")
        open_app(second, app.url)
        send(second, "Hello from a fresh browser")
        reply_with(second, "2 messages in the last minute")
        assert len(model_posts(fake)) == sent  # nothing reached the upstream

        clock.now += 61
        fake.enqueue(Scenario(n_tokens=80, rate=40))
        send(second, "Talk a lot")
        expect(bot_messages(second).last).to_contain_text("w3", timeout=20_000)
        send(first, "Meanwhile")
        reply_with(first, "1 reply being written")
        reply_with(second, "w79")
        send(first, "And now?")
        reply_with(first, "today's 60 tokens")
        first.reload()
        expect(first.locator("#usage-left")).to_contain_text("0 of 60 tokens left today")
        assert len(model_posts(fake)) == sent + 1

        clock.now += DAY
        fake.enqueue(Scenario(text="A new day."))
        send(first, "Good morning")
        reply_with(first, "A new day.")
    finally:
        first.context.close()
        second.context.close()
        app.close()
