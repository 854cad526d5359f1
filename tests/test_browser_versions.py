"""Versions and branches in a real browser: Retry, Edit, the arrows, Branch."""

from __future__ import annotations

from playwright.sync_api import expect

from fakes.fake_openai import Scenario
from tests.browser import bot_message, bot_messages, open_app, send
from tests.conftest import app_on_fake

fake_app = app_on_fake("versions-data")


def test_retry_keeps_the_earlier_version_and_the_versions_control_switches_between_them(
        page, fake_app, fake):
    fake.enqueue(Scenario(text="First answer."), Scenario(text="Second answer."),
                 Scenario(text="Follow-up answer."))
    open_app(page, fake_app.url)
    send(page, "Original question")
    expect(bot_messages(page).first).to_contain_text("First answer.", timeout=20_000)
    versions = page.locator("#versions")
    expect(versions).to_be_hidden()

    page.get_by_role("button", name="Retry").click()
    expect(bot_messages(page).first).to_contain_text("Second answer.", timeout=20_000)
    expect(versions).to_be_visible(timeout=10_000)
    expect(versions.get_by_label("2 / 2")).to_be_checked()

    versions.get_by_text("1 / 2").click()
    expect(bot_messages(page).first).to_contain_text("First answer.", timeout=10_000)
    expect(page.get_by_text("Second answer.")).to_have_count(0)
    send(page, "And then?")  # goes on from the version shown
    expect(bot_message(page, "Follow-up answer.")).to_be_visible(timeout=20_000)
    history = fake.requests[-1].body["messages"]
    assert [m["content"] for m in history[-3:]] == [
        "Original question", "First answer.", "And then?"]

    page.reload(wait_until="domcontentloaded")  # the version shown is kept
    expect(bot_message(page, "Follow-up answer.")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Second answer.")).to_have_count(0)
    expect(versions.get_by_label("1 / 2")).to_be_checked()

    page.get_by_role("button", name="This chat").click()
    page.get_by_role("button", name="Branch into a new chat", exact=True).click()
    expect(page.locator("#conversation-list .chat-open")).to_have_count(2, timeout=10_000)
    expect(page.locator("#conversation-list")).to_contain_text("(branch)")
    expect(bot_message(page, "Follow-up answer.")).to_be_visible()
    expect(versions).to_be_hidden()  # a branch holds only the path it was made from


def test_the_arrows_under_a_message_with_versions_switch_between_them(page, fake_app, fake):
    fake.enqueue(*(Scenario(text=t) for t in ("Reply one.", "Reply two.", "Edited reply.")))
    open_app(page, fake_app.url)
    send(page, "Question one")
    expect(bot_message(page, "Reply one.")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Reply: ")).to_have_count(0)  # one version: no arrows
    page.get_by_role("button", name="Retry").click()
    expect(bot_message(page, "Reply two.")).to_be_visible(timeout=20_000)
    switch = page.get_by_text("Reply: ◀ 2 / 2 ▶")
    expect(switch).to_be_visible(timeout=10_000)
    expect(page.locator("#conversation-list")).to_contain_text("2 branches", timeout=10_000)

    switch.get_by_role("link", name="◀").click()
    expect(bot_message(page, "Reply one.")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("Reply two.")).to_have_count(0)
    switch = page.get_by_text("Reply: ◀ 1 / 2 ▶")
    expect(switch.get_by_role("link")).to_have_count(1)  # no version before the first
    switch.get_by_role("link", name="▶").click()
    expect(bot_message(page, "Reply two.")).to_be_visible(timeout=10_000)
    assert page.url.find("#version-") < 0  # the click switched; the page went nowhere

    page.locator('[data-testid="user"]').first.hover()
    page.get_by_role("button", name="Edit").first.click()
    page.locator("textarea.edit-textarea").fill("Question edited")
    page.get_by_role("button", name="Submit").first.click()
    expect(bot_message(page, "Edited reply.")).to_be_visible(timeout=20_000)
    mine = page.get_by_text("Your message: ◀ 2 / 2 ▶")
    expect(mine).to_be_visible(timeout=10_000)
    mine.get_by_role("link", name="◀").click()
    expect(bot_message(page, "Reply two.")).to_be_visible(timeout=10_000)
    expect(page.get_by_test_id("user").get_by_text("Question one")).to_be_visible()
    expect(page.get_by_text("Reply: ◀ 2 / 2 ▶")).to_be_visible()  # its own versions kept
    expect(page.locator("#conversation-list")).to_contain_text("3 branches")


def test_a_message_clicked_shows_its_own_versions_and_branches_a_new_chat_up_to_it(
        page, fake_app, fake):
    fake.enqueue(*(Scenario(text=t) for t in ("Alpha one.", "Alpha two.", "Beta one.",
                                              "Beta two.")))
    open_app(page, fake_app.url)
    versions = page.locator("#versions")
    send(page, "First question")
    expect(bot_message(page, "Alpha one.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Retry").click()
    expect(bot_message(page, "Alpha two.")).to_be_visible(timeout=20_000)
    send(page, "Second question")
    expect(bot_message(page, "Beta one.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Retry").click()
    expect(bot_message(page, "Beta two.")).to_be_visible(timeout=20_000)
    expect(versions.get_by_label("2 / 2")).to_be_checked(timeout=10_000)  # Beta's

    bot_message(page, "Alpha two.").click()  # now the versions are Alpha's
    branch_here = page.locator("#branch-here")
    expect(branch_here).to_be_visible(timeout=10_000)
    branch_here.click()
    chats = page.locator("#conversation-list .chat-open")
    expect(chats).to_have_count(2, timeout=10_000)
    expect(bot_message(page, "Alpha two.")).to_be_visible()
    expect(page.get_by_text("Second question")).to_have_count(0)  # the path up to it only
    expect(branch_here).to_be_hidden()

    expect(chats.filter(has_text="(branch)")).to_have_count(1)
    chats.filter(has_not_text="(branch)").click()  # back to the first chat
    expect(bot_message(page, "Beta two.")).to_be_visible(timeout=10_000)
    bot_message(page, "Alpha two.").click()
    expect(versions.get_by_label("2 / 2")).to_be_checked(timeout=10_000)
    versions.get_by_text("1 / 2").click()
    expect(bot_message(page, "Alpha one.")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("Beta two.")).to_have_count(0)  # Alpha one was never followed up


def test_a_chat_found_by_a_word_of_a_version_not_shown_opens_on_that_version(
        page, fake_app, fake):
    fake.enqueue(Scenario(text="Lighthouses guide ships."), Scenario(text="Beacons warn."))
    open_app(page, fake_app.url)
    send(page, "What do lighthouses do?")
    expect(bot_message(page, "Lighthouses guide ships.")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="Retry").click()
    expect(bot_message(page, "Beacons warn.")).to_be_visible(timeout=20_000)

    page.get_by_role("button", name="+ New chat").click()
    expect(bot_messages(page)).to_have_count(0)
    page.get_by_placeholder("Search all messages…").fill("guide ships")
    hits = page.locator("#conversation-list .chat-hit")
    expect(hits).to_have_count(1, timeout=10_000)
    expect(hits.first.locator("mark")).to_have_text(["guide", "ships"])
    hits.first.click()
    expect(bot_message(page, "Lighthouses guide ships.")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("Beacons warn.")).to_have_count(0)
    expect(page.locator("#versions").get_by_label("1 / 2")).to_be_checked()
