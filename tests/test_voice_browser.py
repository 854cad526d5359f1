"""Voice in a real browser: Chromium's fake microphone speaks a question, which is heard
offline, sent, answered, and the answer read aloud while it is still being written."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from playwright.sync_api import expect, sync_playwright

from assistant.voice.sound import pcm_of_wav, resampled
from fakes.chromium import fake_microphone
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.browser import bot_message, launch_chromium, message_box, open_app
from tests.conftest import RunningApp, start_app

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None,
                                reason="espeak-ng is not installed (apt)")
QUESTION = "What is the capital of France?"
REPLY = ("Paris is the capital of France. It stands on the Seine. Millions visit it each year. "
         "Its museums are famous. THE END.")
AUDIO_HAS_DATA = """() => { const a = document.getElementById('voice-out');
  return !!a && a.buffered.length > 0 && a.buffered.end(0) > 0; }"""


def microphone_file(folder: Path) -> str:
    """The question spoken by espeak-ng, as the 48 kHz WAV Chromium's fake microphone plays,
    between short silences."""
    raw = folder / "question-22k.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(raw), "--", QUESTION],
                   check=True, capture_output=True, timeout=30)
    spoken = pcm_of_wav(raw.read_bytes())
    speech = np.frombuffer(resampled(spoken.pcm, spoken.sample_rate, 48_000), "<i2")
    padded = np.concatenate([np.zeros(14_400, "<i2"), speech, np.zeros(48_000, "<i2")])
    path = folder / "question.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(padded.tobytes())
    return str(path)


@pytest.fixture(scope="module")
def voice_page_app(fake_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[RunningApp]:
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": "fake-model",
                     "ASSISTANT_VOICE": "offline",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("voice-page"))})
    yield app
    app.close()


@pytest.fixture(scope="module")
def microphone_browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    wav = microphone_file(tmp_path_factory.mktemp("microphone"))
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright, *fake_microphone(wav))
        yield chromium
        chromium.close()


def record(page: Any, seconds: int) -> None:
    page.get_by_label("Record audio").click()
    page.get_by_label("Start recording").click()  # Chromium's fake has several microphones
    page.wait_for_function(  # at least that long: polling for one exact second can miss it
        """(seconds) => {
          const shown = document.querySelector('.minimal-audio-recorder .timestamp');
          const [minutes, secs] = (shown?.textContent || '').trim().split(':').map(Number);
          return minutes * 60 + secs >= seconds;
        }""", arg=seconds, timeout=15_000)
    page.get_by_label("Stop recording").click()


def test_speak_send_and_hear_the_reply_while_it_streams(
        voice_page_app: RunningApp, fake: FakeOpenAI, microphone_browser: Any) -> None:
    fake.default = Scenario(text=REPLY, rate=6)
    page = microphone_browser.new_page()
    open_app(page, voice_page_app.url)
    page.get_by_role("button", name="Voice").click()
    page.locator("#voice-send input").check()
    page.locator("#voice-read input").check()

    record(page, 4)
    expect(page.locator('[data-testid="user"]').filter(has_text="capital")).to_be_visible(
        timeout=30_000)  # heard offline, then sent without a click
    page.wait_for_function(AUDIO_HAS_DATA, timeout=30_000)
    assert not bot_message(page, "THE END").count()  # the reply is still being written
    expect(bot_message(page, "THE END")).to_be_visible(timeout=30_000)
    asked = next(r for r in reversed(fake.requests) if r.path.endswith("/chat/completions"))
    assert "capital" in str(asked.body["messages"][-1]["content"]).lower()

    page.evaluate("() => document.getElementById('voice-out').removeAttribute('src')")
    page.get_by_role("button", name=re.compile("Read aloud")).click()  # the stored reply, again
    page.wait_for_function(AUDIO_HAS_DATA, timeout=30_000)

    heard = page.evaluate("() => document.getElementById('voice-out').getAttribute('src')")
    page.get_by_label("Retry").last.click()  # a new version is read aloud too
    page.wait_for_function("(before) => { const a = document.getElementById('voice-out');"
                           " return a.getAttribute('src') !== before && a.buffered.length > 0; }",
                           arg=heard, timeout=30_000)
    page.close()


def test_a_recording_is_put_in_the_box_to_edit(voice_page_app: RunningApp,
                                               microphone_browser: Any) -> None:
    page = microphone_browser.new_page()
    open_app(page, voice_page_app.url)
    record(page, 4)
    expect(message_box(page)).to_have_value(re.compile("capital", re.I), timeout=30_000)
    assert not page.locator('[data-testid="user"]').count()  # not sent: nobody asked to
    page.close()


REFUSE_MICROPHONE = """
  navigator.mediaDevices.getUserMedia = async () => {
    throw new DOMException('Permission denied', 'NotAllowedError'); };"""
NO_IDS = """
  navigator.mediaDevices.enumerateDevices = async () =>
    [{kind: 'audioinput', deviceId: '', groupId: '', label: ''}];  // as before a grant"""


@pytest.mark.parametrize("microphones", ["one", "several"])
def test_a_refused_microphone_is_explained(voice_page_app: RunningApp, microphone_browser: Any,
                                           microphones: str) -> None:
    page = microphone_browser.new_page()  # refused as a browser does when the user says no
    page.add_init_script(REFUSE_MICROPHONE + (NO_IDS if microphones == "one" else ""))
    open_app(page, voice_page_app.url)
    page.get_by_label("Record audio").click()
    if microphones == "several":
        page.get_by_label("Start recording").click()
    expect(page.locator("#voice-status")).to_contain_text("microphone is not available",
                                                          timeout=15_000)
    page.close()


def test_reading_aloud_counts_against_the_limits(fake: FakeOpenAI, microphone_browser: Any,
                                                 tmp_path: Path) -> None:
    """One request a minute: the message takes it, so its speech is refused, in words."""
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": "fake-model",
                     "ASSISTANT_VOICE": "offline", "ASSISTANT_REQUESTS_PER_MINUTE": "1",
                     "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        page = microphone_browser.new_page()
        open_app(page, app.url)
        page.get_by_role("button", name="Voice").click()
        page.locator("#voice-read input").check()
        message_box(page).fill("Hello")
        message_box(page).press("Enter")
        expect(page.locator("#voice-status")).to_contain_text("the most allowed", timeout=15_000)
        assert page.evaluate("() => document.getElementById('voice-out').getAttribute('src')") \
            is None
        page.close()
    finally:
        app.close()
