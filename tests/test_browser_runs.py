"""Replies the server owns, in a real browser: they go on through a reload, a lost
connection and a second tab, and Stop from any tab stops them; every word shows once."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from fakes.fake_openai import Scenario
from tests.browser import bot_message, bot_messages, open_app, send
from tests.conftest import app_on_fake

fake_app = app_on_fake("runs-data")


def start_a_long_reply(page: Page, url: str, fake, n_tokens: int, message: str) -> None:
    """A reply of w0 … w{n-1} at 20 words a second, seen starting, in a chat that is kept."""
    fake.enqueue(Scenario(n_tokens=n_tokens, rate=20))
    open_app(page, url)
    send(page, message)
    expect(bot_messages(page).first).to_contain_text("w3", timeout=20_000)
    page.wait_for_function("() => localStorage.getItem('assistant-owner') !== null")


def test_a_reply_goes_on_through_a_reload_and_the_page_follows_it_to_the_end(
        page, fake_app, fake):
    start_a_long_reply(page, fake_app.url, fake, 80, "Count through a reload")

    page.reload(wait_until="domcontentloaded")
    expect(page.locator("button.stop-button")).to_be_visible(timeout=20_000)  # still running
    expect(bot_message(page, "w79")).to_be_visible(timeout=20_000)
    words = [w for w in bot_messages(page).first.inner_text().split() if w.startswith("w")]
    assert words == [f"w{i}" for i in range(80)]  # every word once, in order
    assert fake.disconnects == 0  # the model's stream was never cut
    expect(page.get_by_text("Reply incomplete")).to_have_count(0)
    expect(page.get_by_text("to first token")).to_be_visible()  # the stats line it ended with
    assert "Count through a reload" in page.locator('[data-testid="user"]').first.inner_text()

    fake.enqueue(Scenario(text="After the reload."))
    send(page, "And then?")
    expect(bot_message(page, "After the reload.")).to_be_visible(timeout=20_000)


def test_a_connection_lost_for_two_seconds_comes_back_to_the_live_reply(page, fake_app, fake):
    start_a_long_reply(page, fake_app.url, fake, 120, "Count while offline")

    page.context.set_offline(True)
    page.wait_for_timeout(2_000)  # the outage itself, not a wait for the app
    page.context.set_offline(False)
    expect(bot_message(page, "w119")).to_be_visible(timeout=20_000)
    text = bot_messages(page).first.inner_text()
    words = [w for w in text.split() if w.startswith("w")]
    assert words == [f"w{i}" for i in range(120)]  # every word once, in order
    assert fake.disconnects == 0
    expect(page.get_by_text("Reply incomplete")).to_have_count(0)


def test_stop_after_a_reload_stops_the_reply_the_page_follows(page, fake_app, fake):
    start_a_long_reply(page, fake_app.url, fake, 400, "Count slowly through a reload")

    page.reload(wait_until="domcontentloaded")
    expect(bot_messages(page).first).to_contain_text("w20", timeout=20_000)
    page.locator("button.stop-button").click()
    assert fake.wait_for_disconnect(timeout=2)
    expect(page.locator("button.stop-button")).to_be_hidden(timeout=5_000)


def test_a_second_tab_follows_the_reply_and_its_stop_stops_it_for_both(page, fake_app, fake):
    start_a_long_reply(page, fake_app.url, fake, 400, "Count in two tabs")

    other = page.context.new_page()  # the same browser: the same owner
    open_app(other, fake_app.url)
    expect(bot_messages(other).first).to_contain_text("w30", timeout=20_000)  # live there too
    other.locator("button.stop-button").click()
    assert fake.wait_for_disconnect(timeout=2)
    kept = bot_messages(other).first.inner_text()
    expect(bot_messages(page).first).not_to_contain_text("w399")
    assert "w399" not in kept
    other.close()


def test_a_reload_reopens_the_chat_the_page_showed_not_the_newest(page, fake_app, fake):
    fake.enqueue(Scenario(text="About tea."), Scenario(text="About coffee."))
    open_app(page, fake_app.url)
    send(page, "Tell me about tea")
    expect(bot_message(page, "About tea.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="+ New chat").click()
    send(page, "Tell me about coffee")
    expect(bot_message(page, "About coffee.")).to_be_visible(timeout=20_000)
    page.locator("#conversation-list .chat-open", has_text="Tell me about tea").click()
    expect(bot_message(page, "About tea.")).to_be_visible(timeout=10_000)

    page.reload(wait_until="domcontentloaded")
    expect(bot_message(page, "About tea.")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("About coffee.")).to_have_count(0)


def a_tea_chat_then_a_new_one(page: Page, url: str, fake) -> None:
    fake.enqueue(Scenario(text="About tea."))
    open_app(page, url)
    send(page, "Tell me about tea")
    expect(bot_message(page, "About tea.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="+ New chat").click()


def test_opening_another_chat_while_a_reply_streams_shows_that_chat_and_the_reply_goes_on(
        page, fake_app, fake):
    a_tea_chat_then_a_new_one(page, fake_app.url, fake)
    fake.enqueue(Scenario(n_tokens=60, rate=20))
    send(page, "Count while I look at tea")
    expect(bot_messages(page).first).to_contain_text("w3", timeout=20_000)

    page.locator("#conversation-list .chat-open", has_text="Tell me about tea").click()
    expect(bot_message(page, "About tea.")).to_be_visible(timeout=10_000)
    page.wait_for_timeout(1_500)  # the other reply keeps streaming meanwhile
    expect(bot_message(page, "About tea.")).to_be_visible()
    expect(page.get_by_text("w20")).to_have_count(0)  # none of its words drawn here

    page.locator("#conversation-list .chat-open", has_text="Count while I look").click()
    expect(bot_message(page, "w59")).to_be_visible(timeout=20_000)  # it went on, and is followed


def test_opening_another_chat_while_a_reply_waits_frees_the_message_box_at_once(
        page, fake_app, fake):
    a_tea_chat_then_a_new_one(page, fake_app.url, fake)
    fake.enqueue(Scenario(text="Late but whole.", first_token_delay=6))
    send(page, "Answer slowly")
    expect(page.locator("button.stop-button")).to_be_visible(timeout=10_000)
    expect(page.locator("#conversation-list .chat-open", has_text="Answer slowly")).to_be_visible(
        timeout=10_000)  # listed: the list is not loading any more

    page.locator("#conversation-list .chat-open", has_text="Tell me about tea").click()
    expect(bot_message(page, "About tea.")).to_be_visible(timeout=10_000)
    # Long before the first word comes: Stop would otherwise act on this chat.
    expect(page.locator("button.stop-button")).to_be_hidden(timeout=3_000)

    page.locator("#conversation-list .chat-open", has_text="Answer slowly").click()
    expect(bot_message(page, "Late but whole.")).to_be_visible(timeout=20_000)
