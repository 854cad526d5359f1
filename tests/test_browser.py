"""The app in a real browser: Debian's chromium driven by Playwright (tests/browser.py)."""

from __future__ import annotations

import asyncio
import threading

from playwright.sync_api import Page, expect

from fakes.fake_openai import Scenario
from tests.browser import bot_message, bot_messages, open_app, send, unfold
from tests.conftest import app_on_fake, model_posts, start_app

fake_app = app_on_fake("browser-data")


def test_with_no_key_the_embedded_model_streams_a_reply_in_the_browser(page, tmp_path):
    """The issue's acceptance check: no key, no internet, a streamed reply in the browser."""
    app = start_app({"ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        open_app(page, app.url)
        expect(page.get_by_text("Local: SmolLM2-135M (offline)")).to_be_visible(timeout=20_000)
        send(page, "What is the capital of France? Answer in one sentence.")
        expect(bot_messages(page).first).not_to_be_empty(timeout=60_000)
        expect(page.locator("button.stop-button")).to_have_count(0, timeout=60_000)
        assert bot_messages(page).first.inner_text().strip()
    finally:
        app.close()


def test_markdown_renders_and_html_in_a_reply_never_executes(page, fake_app, fake):
    fake.enqueue(Scenario(text="**bold** and `code` and $$x^2$$\n\n<script>window.__pwned = 1</script>"
                               "<img src=x onerror=\"window.__pwned = 2\">"))
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_app(page, fake_app.url)
    send(page, "<script>window.__pwned = 3</script><b>hi</b>")

    expect(bot_messages(page).first.locator("strong")).to_have_text("bold", timeout=20_000)
    expect(bot_messages(page).first.locator("code")).to_have_text("code")
    expect(bot_messages(page).first.locator(".katex").first).to_be_visible()  # math rendered
    expect(page.get_by_text("to first token")).to_be_visible()  # the stats line under the reply
    assert page.evaluate("window.__pwned") is None
    assert dialogs == []


def stop_a_slow_reply(page: Page, url: str, fake, next_reply: str) -> None:
    """Starts a slow reply, presses Stop after a few tokens; the fake must see the hang-up."""
    fake.enqueue(Scenario(n_tokens=400, rate=20), Scenario(text=next_reply))
    open_app(page, url)
    send(page, "Count slowly")
    expect(bot_messages(page).first).to_contain_text("w3", timeout=20_000)
    page.locator("button.stop-button").click()
    assert fake.wait_for_disconnect(timeout=2)


def test_stop_in_the_browser_closes_the_upstream_and_keeps_the_partial_reply(page, fake_app, fake):
    stop_a_slow_reply(page, fake_app.url, fake, next_reply="Next reply works.")

    expect(page.get_by_text("Reply incomplete: You stopped this reply.")).to_be_visible()
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
    kept = bot_messages(page).first.inner_text()
    assert "w3" in kept and "w399" not in kept
    send(page, "Again")
    expect(bot_message(page, "Next reply works.")).to_be_visible(timeout=20_000)


def test_a_reload_brings_the_conversation_back(page, fake_app, fake):
    fake.enqueue(Scenario(text="Remembered reply."))
    open_app(page, fake_app.url)
    send(page, "Please keep this chat")
    expect(bot_messages(page).first).to_contain_text("Remembered reply.", timeout=20_000)
    expect(page.locator("#conversation-list")).to_contain_text("Please keep this chat")

    page.reload(wait_until="domcontentloaded")
    page.wait_for_function("() => localStorage.getItem('assistant-owner') !== null")
    expect(bot_messages(page).first).to_contain_text("Remembered reply.", timeout=20_000)
    expect(page.locator("#conversation-list")).to_contain_text("Please keep this chat")
    expect(page.get_by_text("to first token")).to_be_visible()  # its stats line too

    fake.enqueue(Scenario(text="And it goes on."))
    send(page, "One more")
    expect(bot_message(page, "And it goes on.")).to_be_visible(timeout=20_000)


def event_calls(page: Page) -> list[str]:
    """The server events the page sends from now on (load events, clicks, messages)."""
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/gradio_api/run/" in r.url
            or "/gradio_api/queue/join" in r.url else None)
    return calls


def test_a_new_visitor_opens_the_page_with_no_server_event_and_is_kept_from_the_first_word(
        page, fake_app, fake):
    calls = event_calls(page)
    open_app(page, fake_app.url)
    with page.expect_response(lambda r: "/gradio_api/run/predict" in r.url):
        page.locator("button.label-wrap", has_text="Tools").click()
    assert len(calls) == 1, calls  # the accordion's: opening the page sent none
    assert page.evaluate("localStorage.getItem('assistant-owner')") is None

    fake.enqueue(Scenario(text="First words kept."))
    send(page, "My very first message")
    expect(page.locator("#conversation-list")).to_contain_text("My very first", timeout=20_000)
    page.wait_for_function("() => localStorage.getItem('assistant-owner') !== null")

    again = page.context.new_page()  # the same browser comes back, in a new tab
    calls = event_calls(again)
    again.goto(fake_app.url, wait_until="domcontentloaded")
    expect(again.locator("#conversation-list")).to_contain_text("My very first", timeout=20_000)
    expect(bot_messages(again).first).to_contain_text("First words kept.")
    assert len(calls) == 1, calls  # a returning page: one event restores it


def test_continue_after_stop_sends_the_partial_reply_and_asks_to_carry_on(page, fake_app, fake):
    from assistant.conversation.history import CONTINUE_INSTRUCTION

    stop_a_slow_reply(page, fake_app.url, fake, next_reply="...carried on.")
    page.get_by_role("button", name="Continue").click()

    expect(bot_message(page, "...carried on.")).to_be_visible(timeout=20_000)
    messages = fake.requests[-1].body["messages"]
    assert messages[-1] == {"role": "user", "content": CONTINUE_INSTRUCTION}
    assert messages[-2]["role"] == "assistant" and messages[-2]["content"].startswith("w0 w1 w2 w3")


def test_retry_undo_and_edit_work_on_a_streamed_reply(page, fake_app, fake):
    fake.enqueue(Scenario(text="First answer."), Scenario(text="Second answer."),
                 Scenario(text="Answer to the edit."))
    open_app(page, fake_app.url)
    send(page, "Original question")
    expect(bot_messages(page).first).to_contain_text("First answer.", timeout=20_000)

    page.get_by_role("button", name="Retry").click()
    expect(bot_messages(page).first).to_contain_text("Second answer.", timeout=20_000)
    posts = [r for r in fake.requests if r.path.endswith("/chat/completions")]
    assert posts[-1].body["messages"][-1] == {"role": "user", "content": "Original question"}
    assert len(posts[-1].body["messages"]) == 2  # system + the question: the old reply is gone

    page.get_by_role("button", name="Edit").click()
    editor = page.locator("textarea.edit-textarea")
    editor.fill("Edited question")
    page.get_by_role("button", name="Submit").first.click()  # the edit's, above the message box's
    expect(bot_message(page, "Answer to the edit.")).to_be_visible(timeout=20_000)
    assert fake.requests[-1].body["messages"][-1] == {"role": "user", "content": "Edited question"}
    assert len(fake.requests[-1].body["messages"]) == 2  # a new version: the old turn is not sent

    page.get_by_role("button", name="Undo").click()
    expect(bot_messages(page)).to_have_count(0, timeout=20_000)  # the reply and its stats line
    expect(page.locator('[data-testid="user"]')).to_have_count(0)


def test_the_sidebar_searches_opens_renames_exports_imports_and_deletes_chats(page, fake_app, fake,
                                                                             tmp_path):
    import json

    fake.enqueue(Scenario(text="About lighthouses."), Scenario(text="About storms."))
    open_app(page, fake_app.url)
    chats = page.locator("#conversation-list .chat-open")
    send(page, "Tell me about lighthouses")
    expect(bot_message(page, "About lighthouses.")).to_be_visible(timeout=20_000)
    expect(chats).to_have_count(1)
    page.get_by_role("button", name="+ New chat").click()
    expect(bot_messages(page)).to_have_count(0)
    send(page, "Tell me about storms")
    expect(bot_message(page, "About storms.")).to_be_visible(timeout=20_000)
    expect(chats).to_have_count(2)

    search = page.get_by_placeholder("Search all messages…")
    search.fill("lighthouse")
    hits = page.locator("#conversation-list .chat-hit")
    expect(hits).to_have_count(2)  # the question and the reply
    page.get_by_text("This chat").click()
    title = page.get_by_label("Title")
    expect(title).to_be_visible()
    hits.first.click()
    expect(bot_message(page, "About lighthouses.")).to_be_visible()

    expect(title).to_have_value("Tell me about lighthouses")
    title.fill("Lighthouses")
    page.get_by_role("button", name="Rename", exact=True).click()
    expect(hits.first.locator(".hit-title")).to_have_text("Lighthouses")
    search.fill("")
    expect(chats.filter(has_text="Lighthouses")).to_have_count(1)

    page.get_by_role("button", name="Export JSON").click()
    with page.expect_download() as download:
        page.locator("a[download]").first.click()
    saved = tmp_path / download.value.suggested_filename  # as a browser saves it: Lighthouses.json
    download.value.save_as(saved)
    exported = json.loads(saved.read_text())
    assert exported["title"] == "Lighthouses"
    assert [m["content"] for m in exported["messages"]] == ["Tell me about lighthouses",
                                                            "About lighthouses."]

    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Import JSON").click()
    chooser.value.set_files(saved)
    expect(chats).to_have_count(3)  # the import is a new chat of this owner's

    page.get_by_role("button", name="Delete", exact=True).click()
    expect(chats).to_have_count(2)
    expect(bot_messages(page)).to_have_count(0)


def test_memory_is_saved_shown_sent_only_when_on_and_deleted(page, fake_app, fake):
    fake.enqueue(Scenario(text="Without memory."), Scenario(text="With memory."))
    open_app(page, fake_app.url)
    page.get_by_text("Memory", exact=True).click()
    page.get_by_placeholder("e.g. I prefer metric units").fill("I live in Lyon")
    page.get_by_role("button", name="Remember").click()
    expect(page.get_by_label("I live in Lyon")).to_be_visible()

    send(page, "Where do I live?")
    expect(bot_message(page, "Without memory.")).to_be_visible(timeout=20_000)
    assert "Lyon" not in fake.requests[-1].body["messages"][0]["content"]

    page.get_by_label("Send my saved facts with every message").check()
    send(page, "Where do I live now?")
    expect(bot_message(page, "With memory.")).to_be_visible(timeout=20_000)
    assert "- I live in Lyon" in fake.requests[-1].body["messages"][0]["content"]

    page.get_by_label("I live in Lyon").check()
    page.get_by_role("button", name="Delete ticked").click()
    expect(page.get_by_label("I live in Lyon")).to_have_count(0)


def test_a_thinking_step_shows_above_the_answer_on_the_responses_api(page, fake_app, fake):
    fake.enqueue(Scenario(reasoning="Six sevens make forty-two.", text="The answer is 42.", rate=8))
    open_app(page, fake_app.url)
    page.get_by_role("radio", name="Responses").check()
    send(page, "What is 6 x 7?")

    expect(page.get_by_text("💭 Thinking…")).to_be_visible(timeout=20_000)
    step = page.get_by_text("💭 Thought for")
    expect(step).to_be_visible(timeout=20_000)
    answer = bot_message(page, "The answer is 42.").last
    expect(answer).to_be_visible(timeout=20_000)
    assert step.bounding_box()["y"] < answer.bounding_box()["y"]
    assert fake.requests[-1].path.endswith("/responses")
    assert "Six sevens" not in answer.inner_text()


def test_a_tool_step_grows_from_pending_to_done_with_its_result(page, fake_app, fake):
    release = threading.Event()

    async def wait_for_test(query: str) -> str:
        await asyncio.to_thread(release.wait, 20)
        return f"found {query}"

    toolbox = fake_app.app.service.rounds.toolbox
    toolbox.function(wait_for_test, description="Waits until the test lets it finish.")
    try:
        fake.enqueue(Scenario(tool_calls=[{"name": "wait_for_test", "arguments": '{"query": "owls"}'}]),
                     Scenario(text="Owls were found."))
        open_app(page, fake_app.url)
        page.get_by_text("Tools", exact=True).click()
        page.get_by_label("wait_for_test (built-in)").check()
        send(page, "Find owls")

        step = page.get_by_text("🔧 wait_for_test")
        expect(step).to_be_visible(timeout=20_000)  # pending: the tool is still running
        assert page.get_by_text("found owls").count() == 0
        assert bot_message(page, "Owls were found.").count() == 0
        release.set()
        expect(bot_message(page, "Owls were found.").last).to_be_visible(timeout=20_000)
        unfold(step, page.get_by_text("found owls"))
    finally:
        release.set()
        toolbox.remove("wait_for_test")


def test_a_file_attached_in_the_chat_is_cited_and_its_source_opens(page, fake_app, fake, tmp_path):
    notes = tmp_path / "velmora.md"
    notes.write_text("# Harbour\n\nThe harbour of Velmora exports dried kelp.\n")
    search = {"name": "search_documents", "arguments": '{"query": "Velmora exports"}'}
    fake.enqueue(Scenario(tool_calls=[search]), Scenario(text="Dried kelp [1]."))
    open_app(page, fake_app.url)
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("upload-button").click()
    chooser.value.set_files(str(notes))
    expect(page.locator(".thumbnail-item").first).to_be_visible(timeout=20_000)  # uploaded
    send(page, "What does Velmora export?")

    expect(bot_message(page, "Dried kelp [1].").last).to_be_visible(timeout=20_000)
    sent = str(model_posts(fake)[-1].body["messages"])
    assert "exports dried kelp" in sent  # the passage reached the model through the tool
    sources = page.get_by_text("📚 Sources (1)")
    expect(sources).to_be_visible(timeout=5_000)
    link = page.get_by_role("link", name="velmora.md, Harbour")
    unfold(sources, link)
    href = link.get_attribute("href") or ""
    source = page.context.new_page()
    source.goto(href if href.startswith("http") else fake_app.url + href)
    expect(source.locator("mark")).to_have_text("The harbour of Velmora exports dried kelp.")
