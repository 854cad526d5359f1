"""Launching: a share link that cannot be made, and an owner secret that outlives restarts
and stays on the server."""

from __future__ import annotations

import logging

import httpx

from assistant.identity.owners import OwnerTokens, load_secret
from fakes.fake_openai import Scenario
from tests.conftest import FAKE_MODEL, start_app


def test_a_share_link_that_cannot_be_created_is_reported_and_the_app_keeps_running(
        fake, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="assistant")
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_SHARE": "true", "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        assert app.app.demo.share_url is None  # no tunnel server is reachable from here
        assert "public share link could not be created" in caplog.text
        assert app.url.rstrip("/") in caplog.text
        assert "/metrics is open to anyone" in caplog.text  # no ASSISTANT_METRICS_TOKEN
        fake.enqueue(Scenario(text="Still here."))
        assert app.chat(app.client(), "Hello")[1] == "Still here."
    finally:
        app.close()


def test_the_owner_secret_is_kept_in_the_data_directory_across_restarts(tmp_path):
    first = load_secret(None, tmp_path)
    token = OwnerTokens(first).new()

    second = load_secret(None, tmp_path)  # a restart reads the same file
    assert second == first
    assert OwnerTokens(second).owner(token) is not None
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0  # readable by the owner only
    assert OwnerTokens("another secret").owner(token) is None
    for forged in (token.split(".")[0] + ".é", token.split(".")[0] + ".\ud800", "\ud800.x"):
        assert OwnerTokens(first).owner(forged) is None  # not a 500
    assert load_secret("configured", tmp_path) == "configured"


def test_the_owner_secret_never_reaches_a_page_and_still_signs_the_tokens(fake, tmp_path):
    secret = "configured-owner-secret-4711"
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_SECRET": secret, "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        with httpx.Client(base_url=app.url) as web:
            pages = [web.get(path).text for path in ("/", "/config", "/gradio_api/info")]
        assert all(page for page in pages)
        assert not [page[:100] for page in pages if secret in page]
        token = app.app.panel.identity.tokens.new()
        assert OwnerTokens(secret).owner(token) is not None
    finally:
        app.close()


def test_the_server_parses_http_with_httptools_and_still_streams(running_app):
    """uvicorn picks httptools when it is installed; without it, h11 (pure Python) costs
    every streamed chunk about a tenth more CPU. A missing pin would pass unnoticed."""
    server = running_app.app.demo.server
    assert server.config.http_protocol_class.__name__ == "HttpToolsProtocol"
    with httpx.stream("GET", running_app.url + "v1/models") as response:
        assert response.status_code == 200
        assert FAKE_MODEL in response.read().decode()
