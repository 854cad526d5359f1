"""The dashboard at /admin, in the real app and a real browser: what an admin sees after
real traffic, 404 for everyone else, and questions that leave when consent does."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import httpx
import openai
import pytest
from playwright.sync_api import expect

from assistant.web.dashboard_page import NOT_FOUND
from fakes.fake_scenario import Scenario
from tests.browser import bot_message, open_app, send
from tests.conftest import FAKE_MODEL, Clock, RunningApp, start_app

PASSWORDS = {"ann": "ann-pw", "bob": "bob-pw", "cy": "cy-pw"}


@pytest.fixture(scope="module")
def admin_app(fake_server, tmp_path_factory) -> Iterator[RunningApp]:
    """ann is an admin, bob and cy are not; three messages a minute each, on a clock that stands still."""
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": ",".join(f"{u}:{p}" for u, p in PASSWORDS.items()),
                     "ASSISTANT_ADMINS": "ann", "ASSISTANT_MAX_RETRIES": "0",
                     "ASSISTANT_REQUESTS_PER_MINUTE": "3",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("admin"))},
                    clock=Clock(time.time()))
    yield app
    app.close()


def signed_in(page: Any, url: str, name: str) -> None:
    assert page.request.post(url + "login", form={"username": name,
                                                  "password": PASSWORDS[name]}).ok


def client(app: RunningApp, name: str) -> openai.OpenAI:
    key = app.app.api_keys.create(f"user:{name}", "tests")[0]
    return openai.OpenAI(base_url=f"{app.url}v1", api_key=key, max_retries=0)


def test_only_admins_reach_the_page_its_config_and_its_figures(admin_app):
    for name, status in (("ann", 200), ("bob", 404)):
        with httpx.Client(base_url=admin_app.url) as web:
            web.post("/login", data={"username": name, "password": PASSWORDS[name]})
            assert web.get("/admin").status_code == status
            assert web.get("/admin/", follow_redirects=True).status_code == status
            assert web.get("/config", params={"page": "admin"}).status_code == status
            assert web.get("/gradio_api/info", params={"page": "admin"}).status_code == status
            assert web.get("/", params={"page": "admin"}).status_code == status
            assert web.get("/").status_code == 200
    with httpx.Client(base_url=admin_app.url) as web:
        assert web.get("/admin").status_code == 404  # not signed in

    show = next(i for i, fn in admin_app.app.demo.fns.items()
                if getattr(fn.fn, "__name__", "") == "show")
    with httpx.Client(base_url=admin_app.url, timeout=20) as web:  # bob calls it by hand
        web.post("/login", data={"username": "bob", "password": PASSWORDS["bob"]})
        joined = web.post("/gradio_api/queue/join", json={
            "data": ["7 days"], "fn_index": show, "session_hash": "bobs-session"})
        assert joined.status_code == 200
        with web.stream("GET", "/gradio_api/queue/data",
                        params={"session_hash": "bobs-session"}) as events:
            done = next(json.loads(line[5:]) for line in events.iter_lines()
                        if line.startswith("data:") and "process_completed" in line)
    assert done["success"] is False and done["output"]["error"] == NOT_FOUND


def test_an_admin_sees_every_chart_with_the_figures_that_were_sent(admin_app, fake, page):
    calculate = {"name": "calculator", "arguments": json.dumps({"expression": "6*7"})}
    fake.enqueue(Scenario(tool_calls=[calculate]), Scenario(echo_tool_results=True),
                 Scenario(text="Plain answer."), Scenario(status=500, error_message="boom"),
                 Scenario(text="Hello ann."))
    tokens = 0
    with client(admin_app, "bob") as bob, client(admin_app, "ann") as ann:
        for asked in ("6 times 7?", "Something plain"):
            usage = bob.chat.completions.create(
                model=FAKE_MODEL, messages=[{"role": "user", "content": asked}]).usage
            tokens += usage.total_tokens
        with pytest.raises(openai.APIStatusError):
            bob.chat.completions.create(model=FAKE_MODEL, messages=[{"role": "user", "content": "x"}])
        with pytest.raises(openai.RateLimitError):  # the fourth in a minute
            bob.chat.completions.create(model=FAKE_MODEL, messages=[{"role": "user", "content": "y"}])
        tokens += ann.chat.completions.create(
            model=FAKE_MODEL, messages=[{"role": "user", "content": "Hi"}]).usage.total_tokens
    with ThreadPoolExecutor(1) as aside:  # the browser's loop runs on this thread
        aside.submit(asyncio.run, admin_app.app.library.add(
            "user:ann", "notes.txt", b"Notes about exports.\n" * 50)).result()
    admin_app.app.store.flush()

    signed_in(page, admin_app.url, "ann")
    page.goto(admin_app.url + "admin")
    summary = page.locator("#dashboard-summary")
    expect(summary).to_contain_text("4 messages, up to 2 active users a day", timeout=20_000)
    expect(summary).to_contain_text(f"{tokens:,} tokens")
    expect(summary).to_contain_text("1 tool calls, 1 documents stored (1 added)")
    for chart in ("activity", "ttft", "tokens", "outcomes", "tools", "documents"):
        expect(page.locator(f"#chart-{chart} .vega-embed")).to_be_visible()
    expect(page.locator("#table-usage")).to_contain_text(FAKE_MODEL)
    users = page.locator("#table-users tbody tr")
    expect(users.first).to_contain_text("bob")  # bob used the most tokens
    expect(users.first.locator("td").nth(1)).to_have_text("3")  # messages, the failed one too
    expect(users.first.locator("td").nth(4)).to_have_text("1")  # the limit he hit
    expect(page.locator("#table-tools tbody tr").first).to_contain_text("calculator")
    expect(page.locator("#table-documents tbody tr").first).to_contain_text("1")

    outcomes = {row[3] for row in admin_app.app.store.figures(0, 10**6, 0).replies}
    assert outcomes == {"complete", "failed:overloaded", "limit:requests"}


def test_a_user_s_questions_leave_the_dashboard_when_consent_does(admin_app, fake, browser):
    cy_context = browser.new_context(viewport={"width": 1280, "height": 900})
    ann_context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        cy = cy_context.new_page()
        signed_in(cy, admin_app.url, "cy")
        assert cy.goto(admin_app.url + "admin").status == 404
        open_app(cy, admin_app.url)
        cy.get_by_role("button", name="Your data").click()
        consent = cy.locator("#consent input")
        expect(consent).not_to_be_checked()
        consent.check()
        expect(consent).to_be_checked()
        admin_app.app.store.flush()
        fake.enqueue(Scenario(text="First answer."), Scenario(text="Second answer."))
        for question, answer in (("How do I export my chats?", "First answer."),
                                 ("Can I export chats as PDF?", "Second answer.")):
            send(cy, question)
            expect(bot_message(cy, answer)).to_be_visible(timeout=20_000)

        ann = ann_context.new_page()
        signed_in(ann, admin_app.url, "ann")
        ann.goto(admin_app.url + "admin")
        topics = ann.locator("#dashboard-topics")
        expect(topics).to_contain_text("export chats: 2 questions", timeout=20_000)
        expect(topics).to_contain_text("Can I export chats as PDF?")

        consent.uncheck()
        expect(consent).not_to_be_checked()
        admin_app.app.store.flush()
        ann.get_by_role("button", name="Refresh").click()
        expect(topics).to_contain_text("No topics yet", timeout=20_000)
        expect(topics).not_to_contain_text("export")
    finally:
        cy_context.close()
        ann_context.close()
