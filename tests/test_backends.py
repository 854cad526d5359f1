"""Which backend is chosen, what the page says about it, and its model list."""

from __future__ import annotations

import asyncio

from assistant.app.settings import load_settings
from assistant.providers.backends import host_of, select_backend
from tests.conftest import FAKE_MODEL


def test_custom_base_url_wins_and_its_label_shows_the_host_only():
    settings = load_settings([], environ={
        "OPENAI_BASE_URL": "http://user:s3cret@models.internal:8000/v1",
        "OPENAI_API_KEY": "sk-live-abcdefghijklmnop"})
    backend = select_backend(settings.connection())

    assert backend.kind == "custom"
    assert backend.label == "Custom: models.internal:8000"
    assert "s3cret" not in backend.label and "sk-" not in backend.label


def test_an_api_key_alone_selects_openai_with_gpt_4_1_mini():
    backend = select_backend(load_settings([], environ={"OPENAI_API_KEY": "sk-test-1234567890"}).connection())

    assert backend.kind == "openai"
    assert backend.label == "OpenAI"
    assert backend.default_model == "gpt-4.1-mini"
    assert backend.context_window_for("gpt-4.1-mini") > 1_000_000


def test_host_of_never_returns_credentials():
    assert host_of("https://key:secret@api.example.com/v1") == "api.example.com"


def ask_backend(settings, method: str):
    """Calls one of a fresh backend's async methods in its own event loop, then closes it."""
    async def call():
        backend = select_backend(settings.connection())
        try:
            return await getattr(backend, method)()
        finally:
            await backend.aclose()

    return asyncio.run(call())


def test_model_choices_merge_configured_defaults_with_the_endpoint_list(fake):
    fake.models = [FAKE_MODEL, "other-model"]
    settings = load_settings([], environ={"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": "mine"})

    assert ask_backend(settings, "model_choices") == ["mine", FAKE_MODEL, "other-model"]
    assert any(r.path == "/v1/models" for r in fake.requests)


def test_an_unreachable_model_list_gives_an_empty_list_not_an_error():
    settings = load_settings([], environ={"OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
                                         "ASSISTANT_CONNECT_TIMEOUT": "0.5"})

    assert ask_backend(settings, "list_models") == []


def test_a_custom_server_without_a_configured_model_answers_the_first_message(fake, tmp_path):
    from fakes.fake_openai import Scenario
    from tests.conftest import start_app

    fake.models = ["first-model", "second-model"]
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        fake.enqueue(Scenario(text="First reply."))
        _, final = app.chat(app.client(), "Hello")
        assert final == "First reply."
        assert fake.requests[-1].body["model"] == "first-model"
    finally:
        app.close()
