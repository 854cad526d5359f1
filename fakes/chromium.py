"""Debian's chromium, headless, as the browser tests and the benchmarks launch it."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def launch(playwright: Any) -> Any:
    """Playwright's sync API, with Debian's chromium (apt-get install chromium)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
