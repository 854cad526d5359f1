"""Debian's chromium, headless, as the browser tests and the benchmarks launch it."""

from __future__ import annotations

import shutil
from typing import Any

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def launch(playwright: Any, *extra: str) -> Any:
    """Playwright's sync API, with Debian's chromium (apt-get install chromium); `extra`
    flags, such as a fake microphone's."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*ARGS, *extra])


def fake_microphone(wav: str) -> tuple[str, ...]:
    """Flags for a microphone that plays `wav` (16-bit PCM), allowed without asking, and
    audio that may play before anyone clicks."""
    return ("--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-audio-capture={wav}",
            "--autoplay-policy=no-user-gesture-required")
