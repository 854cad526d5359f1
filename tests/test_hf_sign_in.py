"""'Sign in with Hugging Face', tested as far as it goes off Spaces: Gradio's local mock.

Off Spaces, Gradio signs a visitor in as the account of the machine's Hugging Face
token, which it looks up at start. The token is a test value and the Hub is our fake
on loopback (tests/fake_hub.py), so nothing leaves the machine.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Iterator

import pytest
from huggingface_hub import hf_api
from playwright.sync_api import expect

from assistant.identity.api_keys import KEY_PREFIX
from assistant.quotas.meter import limit_keys
from assistant.web.api_keys_panel import SIGN_IN
from assistant.web.callers import hf_owner
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.browser import bot_message, open_app, send
from tests.conftest import FAKE_MODEL, RunningApp, start_app
from tests.fake_hub import FakeHub


def signed_in_request(session: dict) -> SimpleNamespace:
    """What a gr.Request carries after Gradio's OAuth callback: the signed session cookie."""
    return SimpleNamespace(request=SimpleNamespace(scope={"session": session}))


def test_the_owner_is_the_hugging_face_user_name_while_the_sign_in_is_valid():
    info = {"expires_at": 1_000, "userinfo": {"preferred_username": "ada", "name": "Ada"}}

    assert hf_owner(signed_in_request({"oauth_info": info}), now=lambda: 999) == "hf:ada"
    assert hf_owner(signed_in_request({"oauth_info": info}), now=lambda: 1_001) is None
    assert hf_owner(signed_in_request({})) is None
    assert hf_owner(SimpleNamespace()) is None  # no session middleware: no sign-in


def test_a_hugging_face_user_is_limited_by_name_not_by_address():
    assert list(limit_keys("hf:ada", "203.0.113.9")) == ["hf:ada"]
    assert list(limit_keys("anon:x1", "203.0.113.9")) == ["anon:x1", "ip:203.0.113.9"]


@pytest.fixture
def hf_app(fake_server: FakeOpenAI, tmp_path, monkeypatch: pytest.MonkeyPatch
           ) -> Iterator[RunningApp]:
    hub = FakeHub("ada", "Ada Lovelace")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")
    monkeypatch.setattr(hf_api.api, "endpoint", hub.url)  # whoami() asks our Hub
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_HF_LOGIN": "on", "ASSISTANT_DATA_DIR": str(tmp_path)})
    yield app
    app.close()
    hub.close()


@pytest.mark.filterwarnings("ignore:Gradio does not support OAuth features outside")
def test_signing_in_with_hugging_face_makes_the_hub_user_the_owner(page, browser, hf_app, fake):
    open_app(page, hf_app.url)
    page.get_by_role("button", name="Sign in with Hugging Face").click()
    expect(page.get_by_role("button", name="Logout (ada)")).to_be_visible(timeout=20_000)
    fake.enqueue(Scenario(text="Hello Ada."))
    send(page, "Hello")
    expect(bot_message(page, "Hello Ada.")).to_be_visible(timeout=20_000)
    hf_app.app.store.flush()
    assert [c.title for c in hf_app.app.store.list_conversations("hf:ada")] == ["Hello"]

    stranger = browser.new_context().new_page()  # not signed in: an anonymous visitor
    open_app(stranger, hf_app.url)
    expect(stranger.get_by_role("button", name="Sign in with Hugging Face")).to_be_visible()
    expect(stranger.locator("#conversation-list .chat-open")).to_have_count(0)
    stranger.context.close()

    page.get_by_role("button", name="Logout (ada)").click()
    expect(page.get_by_role("button", name="Sign in with Hugging Face")).to_be_visible(
        timeout=20_000)
    expect(page.locator("#conversation-list .chat-open")).to_have_count(0)


@pytest.mark.filterwarnings("ignore:Gradio does not support OAuth features outside")
def test_api_keys_wait_for_the_hugging_face_sign_in(page, hf_app):
    open_app(page, hf_app.url)
    page.get_by_role("button", name="API keys").click()
    expect(page.get_by_text(SIGN_IN)).to_be_visible(timeout=20_000)
    expect(page.locator("#api-key-create")).to_be_hidden()

    page.get_by_role("button", name="Sign in with Hugging Face").click()
    expect(page.get_by_role("button", name="Logout (ada)")).to_be_visible(timeout=20_000)
    page.get_by_role("button", name="API keys").click()
    page.locator("#api-key-create").click()
    shown = page.locator("#api-key-new input")
    expect(shown).to_have_value(re.compile("^" + re.escape(KEY_PREFIX)), timeout=20_000)
    assert hf_app.app.api_keys.owner_of(shown.input_value()) == "hf:ada"
