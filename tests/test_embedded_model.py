"""The embedded SmolLM2 model, for real, through the same path as every backend."""

from __future__ import annotations

import pytest

from tests.conftest import start_app


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory):
    app = start_app({"ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("data"))})  # no key, no URL
    yield app
    app.close()


def test_with_no_key_the_embedded_model_is_used_and_named(offline_app):
    backend = offline_app.app.backend
    assert backend.kind == "local"
    assert backend.label == "Local: SmolLM2-135M (offline)"
    assert backend.client.base_url.host == "127.0.0.1"


def test_the_embedded_model_streams_a_short_reply(offline_app):
    updates, final = offline_app.chat(offline_app.client(), "Say hello.", "smollm2", 0.0, "", 0, 16)

    # 16 tokens may cut the reply short: then the text comes first, then a notice
    text = final if isinstance(final, str) else final[0]
    assert isinstance(text, str) and text.strip(), f"expected text, got {final!r}"
    texts = [u for u in updates if isinstance(u, str)]
    assert texts[-1] == text
    assert offline_app.app.backend.local_server.ready
