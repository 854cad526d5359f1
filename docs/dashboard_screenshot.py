"""Makes docs/dashboard.png: the dashboard over 30 days of made-up traffic, in chromium.

Run from the repository root: PYTHONPATH=. python docs/dashboard_screenshot.py
"""

import os
import random
import tempfile
import time

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from bench.dashboard import fill  # noqa: E402
from fakes.chromium import launch  # noqa: E402
from tests.conftest import start_app  # noqa: E402


QUESTIONS = [
    "How do I export my chats to PDF?", "Can I export a chat as Markdown?",
    "Export all chats at once?", "Why does exporting a long chat fail?",
    "Summarise this invoice for me", "What is the total on invoice 1043?",
    "Which invoices are overdue?", "Translate this email into French",
    "Translate the contract summary to German", "Translate my cover letter to Spanish",
    "Write a Python function that parses dates", "Fix this Python error: KeyError 'id'",
    "Explain Python decorators with an example", "What's the weather in Paris tomorrow?",
    "Plan a three-day trip to Lisbon", "Write a haiku about autumn",
]


def main() -> None:
    app = start_app({"OPENAI_API_KEY": "sk-not-used", "ASSISTANT_MODEL": "gpt-4.1-mini",
                     "ASSISTANT_AUTH": "admin:screenshot", "ASSISTANT_ADMINS": "admin",
                     "ASSISTANT_TOKENS_PER_DAY": "200000",
                     "ASSISTANT_DATA_DIR": tempfile.mkdtemp()})
    try:
        store = app.app.store
        fill(store, 60_000, time.time(), random.Random(5), consenting_share=0)
        for n, question in enumerate(QUESTIONS):  # what a few users agreed to share
            owner = f"user:u{n % 7}"
            store.set_consent(owner, True, time.time())
            store.add_message(owner, store.create_conversation(owner), "user", question)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.request.post(app.url + "login", form={"username": "admin",
                                                       "password": "screenshot"})
            page.goto(app.url + "admin")
            page.get_by_label("30 days").check()
            expect(page.locator("#dashboard-summary")).to_contain_text("messages", timeout=30_000)
            page.wait_for_timeout(3000)  # the charts draw
            page.screenshot(path="docs/dashboard.png", full_page=True)
            browser.close()
    finally:
        app.close()


if __name__ == "__main__":
    main()
