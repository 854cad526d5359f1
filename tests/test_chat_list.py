"""The chat list in a real browser: pins, folders, search in every message, the keyboard
alone, and a phone-sized screen."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from assistant.storage.records import ConversationSummary, Folder
from assistant.web.chat_list import chat_list_html
from fakes.fake_openai import Scenario
from tests.browser import bot_message, bot_messages, message_box, open_app, send
from tests.conftest import FAKE_MODEL, app_on_fake, start_app

fake_app = app_on_fake("chat-list-data")


def test_the_list_puts_pins_first_then_folders_then_chats_by_day():
    today = dt.date(2026, 12, 6)

    def at(days_ago: int, hour: int = 12) -> float:
        return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(hour)).timestamp()
    chats = [ConversationSummary("a", "This morning", at(0, 1), at(0, 1)),
             ConversationSummary("b", "Last night", at(1, 23), at(1, 23)),
             ConversationSummary("c", "Two days ago", at(2), at(2)),
             ConversationSummary("d", "A week ago", at(7), at(7)),
             ConversationSummary("e", "Eight days ago", at(8), at(8)),
             ConversationSummary("f", "Pinned and old", at(90), at(90), pinned=True),
             ConversationSummary("g", "Filed", at(0), at(0), folder_id="trips")]
    shown = chat_list_html(chats, [Folder("trips", "Trips", at(3))], None, today)
    text = re.sub(r"<[^>]+>", "\n", shown)
    lines = [line.strip().removeprefix("📁 ") for line in text.splitlines()]
    order = [line for line in lines if line in {
        "Pinned", "Trips", "Today", "Yesterday", "Previous 7 days", "Older", *(
            c.title for c in chats)}]
    assert order == ["Pinned", "Pinned and old", "Trips", "Filed", "Today", "This morning",
                     "Yesterday", "Last night", "Previous 7 days", "Two days ago", "A week ago",
                     "Older", "Eight days ago"]


def answer_dialogs(page, *answers: str) -> list[str]:
    """Answers the browser's prompts and confirmations in turn; returns what they asked."""
    asked: list[str] = []
    queue = list(answers)

    def on_dialog(dialog):
        asked.append(dialog.message)
        dialog.accept(queue.pop(0) if queue else "")
    page.on("dialog", on_dialog)
    return asked


def chat_row(page, title: str):
    return page.locator("#conversation-list li.chat").filter(
        has=page.locator(".chat-open", has_text=title))


def test_chats_are_pinned_moved_into_folders_renamed_and_deleted_from_the_list(page, fake_app,
                                                                              fake):
    fake.enqueue(Scenario(text="Tulips like sun."), Scenario(text="Invoices are due."))
    open_app(page, fake_app.url)
    send(page, "Garden tulips")
    expect(bot_message(page, "Tulips like sun.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="+ New chat").click()
    send(page, "Work invoices")
    expect(bot_message(page, "Invoices are due.")).to_be_visible(timeout=20_000)
    chats = page.locator("#conversation-list")
    expect(chats.get_by_role("heading", name="Today")).to_be_visible()
    expect(chats.locator(".chat-open")).to_have_text(["Work invoices", "Garden tulips"])

    page.get_by_role("button", name="Pin Garden tulips").click()
    expect(chats.get_by_role("heading", name="Pinned")).to_be_visible(timeout=10_000)
    expect(chats.locator(".chat-open")).to_have_text(["Garden tulips", "Work invoices"])

    asked = answer_dialogs(page, "Accounts", "Office", "Quarterly invoices", "")
    page.get_by_role("button", name="Move Work invoices to a folder").click()
    folder = chats.locator("details.chat-folder")
    expect(folder.locator("summary")).to_contain_text("Accounts", timeout=10_000)
    expect(folder.locator(".chat-open")).to_have_text(["Work invoices"])
    page.get_by_role("button", name="Rename folder Accounts").click()
    expect(folder.locator("summary")).to_contain_text("Office", timeout=10_000)
    page.get_by_role("button", name="Rename Work invoices").click()
    expect(folder.locator(".chat-open")).to_have_text(["Quarterly invoices"], timeout=10_000)
    page.get_by_role("button", name="Delete folder Office").click()  # its chat stays
    expect(folder).to_have_count(0, timeout=10_000)
    expect(chats.locator(".chat-open")).to_have_text(["Garden tulips", "Quarterly invoices"])
    assert "folder" in asked[0] and "name" in asked[1].lower() and "Delete" in asked[3]

    page.get_by_role("button", name="Unpin Garden tulips").click()
    expect(chats.get_by_role("heading", name="Pinned")).to_have_count(0, timeout=10_000)
    answer_dialogs(page)
    page.get_by_role("button", name="Delete Garden tulips").click()
    expect(chats.locator(".chat-open")).to_have_text(["Quarterly invoices"], timeout=10_000)


def test_search_finds_a_word_in_a_reply_and_opens_the_chat_there(page, fake_app, fake):
    fake.enqueue(Scenario(text="The quokka smiles on Rottnest."))
    open_app(page, fake_app.url)
    send(page, "Name a happy animal")
    expect(bot_message(page, "The quokka smiles")).to_be_visible(timeout=20_000)
    for turn in range(2):  # long replies below it, so that it is far up the chat
        fake.enqueue(Scenario(text=" ".join(f"filler{turn}x{i}" for i in range(300))))
        send(page, f"More {turn}")
        expect(bot_message(page, f"filler{turn}x299")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="+ New chat").click()
    expect(bot_messages(page)).to_have_count(0)  # the new chat is shown, with its list
    page.get_by_placeholder("Search all messages…").fill("quok")  # as it is typed
    hit = page.locator("#conversation-list .chat-hit")
    expect(hit).to_have_count(1, timeout=10_000)
    expect(hit.locator("mark")).to_have_text("quokka")
    expect(hit.locator(".hit-title")).to_have_text("Name a happy animal")
    hit.click()
    expect(bot_message(page, "The quokka smiles")).to_be_in_viewport(timeout=10_000)
    expect(bot_message(page, "filler1x299")).not_to_be_in_viewport()
    page.get_by_placeholder("Search all messages…").fill("<b>nothing</b>")
    expect(page.locator("#conversation-list")).to_contain_text("No message matches “<b>nothing</b>”")


def test_the_keyboard_alone_sends_two_messages_in_a_row(page, fake_app, fake):
    fake.enqueue(Scenario(text="First answer."), Scenario(text="Second answer."))
    open_app(page, fake_app.url)
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    expect(message_box(page)).to_be_focused()
    page.keyboard.type("One")
    page.keyboard.press("Enter")
    expect(bot_message(page, "First answer.")).to_be_visible(timeout=20_000)
    expect(message_box(page)).to_be_focused(timeout=10_000)  # focus stayed in the box
    page.keyboard.type("Two")
    page.keyboard.press("Enter")
    expect(bot_message(page, "Second answer.")).to_be_visible(timeout=20_000)
    expect(message_box(page)).to_be_focused(timeout=10_000)


def test_a_phone_opens_on_the_chat_and_sends_a_message(browser, fake_app, fake):
    fake.enqueue(Scenario(text="Hello from a phone."))
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True)
    try:
        phone = context.new_page()
        open_app(phone, fake_app.url)
        box = message_box(phone)
        expect(phone.locator("#conversation-list")).not_to_be_in_viewport(timeout=10_000)
        box.tap()
        expect(box).to_be_focused()
        box.fill("Hi")
        box.press("Enter")
        expect(bot_message(phone, "Hello from a phone.")).to_be_in_viewport(timeout=20_000)
        phone.get_by_role("button", name="Toggle Sidebar").tap()  # the list is one tap away
        expect(phone.locator("#conversation-list .chat-open")).to_have_text(["Hi"], timeout=10_000)
    finally:
        context.close()


def test_an_empty_list_says_so(page, fake_app):
    open_app(page, fake_app.url)
    expect(page.locator("#conversation-list")).to_contain_text("No chats yet")
    expect(page.get_by_role("heading", level=1)).to_have_text("Streaming Assistant")


def test_a_chat_is_shared_opened_continued_and_revoked(page, fake_app, fake, browser):
    fake.enqueue(Scenario(text="Bees dance to point at flowers."))
    open_app(page, fake_app.url)
    send(page, "Why do bees dance?")
    expect(bot_message(page, "Bees dance")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Share Why do bees dance?").click()  # opens the Share box
    page.get_by_role("button", name="Create share link").click()
    link = page.locator("#share-link textarea, #share-link input").first
    expect(link).not_to_have_value("", timeout=10_000)
    url = link.input_value()
    assert "/share/" in url

    stranger = browser.new_context()
    try:
        viewer = stranger.new_page()
        viewer.goto(url)
        expect(viewer.get_by_text("Bees dance to point at flowers.")).to_be_visible()
        viewer.get_by_role("link", name="Continue this chat").click()
        expect(message_box(viewer)).to_be_editable(timeout=20_000)
        expect(bot_message(viewer, "Bees dance")).to_be_visible(timeout=20_000)  # their copy
        expect(viewer.locator("#conversation-list .chat-open")).to_have_text(
            ["Why do bees dance?"], timeout=10_000)
        assert "continue=" not in viewer.url  # a reload does not copy it again
    finally:
        stranger.close()

    page.locator("#share-links input").click()
    page.get_by_role("option", name="Why do bees dance?").first.click()
    page.get_by_role("button", name="Revoke").click()
    gone = page.context.new_page()
    assert gone.goto(url).status == 404


@pytest.fixture(scope="module")
def signed_in_app(fake_server, tmp_path_factory):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("signed-in-data"))})
    yield app
    app.close()


def signed_in_page(browser, url: str, name: str):
    """A browser of its own, signed in as `name` through the app's login form."""
    context = browser.new_context()
    page = context.new_page()
    assert page.request.post(f"{url}login",
                             form={"username": name, "password": f"{name}-pw"}).ok
    open_app(page, url)
    return page


def test_signed_in_users_pin_file_search_and_share_only_their_own_chats(browser, signed_in_app,
                                                                       fake):
    url = signed_in_app.url
    ann = signed_in_page(browser, url, "ann")
    bob = signed_in_page(browser, url, "bob")
    try:
        fake.enqueue(Scenario(text="Axolotls regrow their limbs."))
        send(ann, "Tell me about axolotls")
        expect(bot_message(ann, "Axolotls regrow")).to_be_visible(timeout=20_000)
        chats = ann.locator("#conversation-list")
        ann.get_by_role("button", name="Pin Tell me about axolotls").click()
        expect(chats.get_by_role("heading", name="Pinned")).to_be_visible(timeout=10_000)
        answer_dialogs(ann, "Biology")
        ann.get_by_role("button", name="Move Tell me about axolotls to a folder").click()
        expect(chats.locator("details.chat-folder summary")).to_contain_text("Biology",
                                                                             timeout=10_000)
        ann.get_by_placeholder("Search all messages…").fill("limbs")
        expect(chats.locator(".chat-hit mark")).to_have_text("limbs", timeout=10_000)
        ann.get_by_placeholder("Search all messages…").fill("")

        ann.get_by_role("button", name="Share Tell me about axolotls").click()
        ann.get_by_label("Signed-in users only").check()
        ann.get_by_role("button", name="Create share link").click()
        link = ann.locator("#share-link textarea, #share-link input").first
        expect(link).not_to_have_value("", timeout=10_000)
        shared = link.input_value()

        bob.get_by_placeholder("Search all messages…").fill("limbs")  # Ann's words are hers
        expect(bob.locator("#conversation-list")).to_contain_text("No message matches",
                                                                  timeout=10_000)
        bob.goto(shared)
        expect(bob.get_by_text("Axolotls regrow their limbs.")).to_be_visible()
        stranger = browser.new_context()
        try:
            refused = stranger.new_page()
            assert refused.goto(shared).status == 403
            expect(refused.get_by_text("Axolotls")).to_have_count(0)
        finally:
            stranger.close()
    finally:
        ann.context.close()
        bob.context.close()
