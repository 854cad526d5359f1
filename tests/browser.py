"""The real browser the page tests drive: Debian's chromium through Playwright.

The `browser` and `page` fixtures (tests/conftest.py) launch it. Without chromium
their tests are skipped on a developer's machine, but fail in CI (CI=true), where
.ci/run installs it. The helpers below act on the page as a visitor does.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from fakes.chromium import CHROMIUM, launch


def launch_chromium(playwright: Any, *extra: str) -> Any:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            raise RuntimeError("chromium is missing: .ci/run should have installed it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return launch(playwright, *extra)


def open_app(page: Page, url: str) -> None:
    """Opens the page and waits until a message can be typed."""
    page.goto(url, wait_until="domcontentloaded")
    expect(message_box(page)).to_be_editable(timeout=20_000)


def message_box(page: Page) -> Any:
    return page.locator(".multimodal-textbox textarea")


def send(page: Page, text: str) -> None:
    box = message_box(page)
    expect(box).to_be_editable(timeout=20_000)
    box.fill(text)
    box.press("Enter")


def bot_messages(page: Page):
    return page.locator('[data-testid="bot"]')


def bot_message(page: Page, text: str):
    """The bot message that contains `text` (a reply is followed by its stats line)."""
    return bot_messages(page).filter(has_text=text)


def unfold(header: Any, content: Any) -> None:
    """Opens a folded step or sources box until `content` shows.

    A reply's last render can replace a box that was just opened, so a click
    that lands during it is tried again."""
    for _ in range(4):
        if content.is_visible():
            return
        header.click()
        try:
            expect(content).to_be_visible(timeout=2_500)
            return
        except AssertionError:
            continue
    expect(content).to_be_visible(timeout=1)
