"""A transcript of one reload mid-reply, in a real browser: what the page shows, every
quarter second, before and after the reload.

    python -m bench.reload_transcript

The fake server streams w0 … w79 at 10 tokens a second; the page reloads 3 s in.
Each line: seconds since the message was sent, the words shown (first … last, and how
many), whether Stop is offered. At the end: whether every word is there exactly once.
"""

from __future__ import annotations

import sys
import time
from contextlib import ExitStack

from playwright.sync_api import sync_playwright

from bench.bench import start_app, start_fake
from fakes.chromium import launch

TOKENS, RATE, RELOAD_AT = 80, 10.0, 3.0


def _words(page) -> list[str]:
    bots = page.locator('[data-testid="bot"]')
    if bots.count() == 0:
        return []
    return [w for w in bots.first.inner_text().split() if w.startswith("w") and w[1:].isdigit()]


def _line(t: float, page, note: str = "") -> str:
    words = _words(page)
    stop = page.locator("button.stop-button").is_visible()
    shown = f"{words[0]} … {words[-1]} ({len(words)} words)" if words else "(no reply yet)"
    return f"{t:5.2f} s  {shown:<28} {'Stop' if stop else '    '}  {note}".rstrip()


def main() -> int:
    with ExitStack() as stack:
        _, base_url = start_fake(stack, TOKENS, RATE)
        _, port = start_app(stack, "ours", base_url)  # before Playwright's own event loop
        pw = stack.enter_context(sync_playwright())
        browser = launch(pw)
        page = browser.new_page()
        page.goto(f"http://127.0.0.1:{port}/", wait_until="domcontentloaded")
        box = page.locator(".multimodal-textbox textarea")
        box.fill("Count to eighty")
        t0 = time.monotonic()
        box.press("Enter")
        reloaded, done = False, False
        while not done and time.monotonic() - t0 < 30:
            t = time.monotonic() - t0
            if not reloaded and t >= RELOAD_AT:
                print(_line(t, page, "← reload"))
                page.reload(wait_until="domcontentloaded")
                reloaded = True
                continue
            words = _words(page)
            done = reloaded and len(words) == TOKENS and \
                not page.locator("button.stop-button").is_visible()
            print(_line(t, page))
            page.wait_for_timeout(250)
        words = _words(page)
        once = words == [f"w{i}" for i in range(TOKENS)]
        print(f"every word once, in order: {'yes' if once else 'NO'}; "
              f"'Reply incomplete' shown: "
              f"{'yes' if page.get_by_text('Reply incomplete').count() else 'no'}")
        browser.close()
        return 0 if once else 1


if __name__ == "__main__":
    sys.exit(main())
