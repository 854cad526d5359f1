"""A visitor's own API key: used for their session only, never stored, logged or echoed."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from gradio_client.exceptions import AppError

from assistant.providers import routes as routes_module
from assistant.providers.backends import Connection
from assistant.providers.retrying import RetryPolicy
from assistant.providers.routes import OwnKeyRoutes
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.conftest import FAKE_MODEL, RunningApp, model_posts, start_app

SERVER_KEY = "sk-server-key-0123456789abcdef"
VISITOR_KEY = "sk-visitor-key-fedcba9876543210"


def chat(client: Any, text: str) -> str:
    job = client.submit(text, FAKE_MODEL, 0.7, "", 10, 1024, False, "chat_completions", [],
                        False, api_name="/chat")
    updates = list(job)
    return json.dumps([updates, job.result()], ensure_ascii=False)


def bearer(request: Any) -> str:
    return request.headers.get("authorization", "")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("own-key")


@pytest.fixture(scope="module")
def key_app(fake_server: FakeOpenAI, data_dir: Path) -> Iterator[RunningApp]:
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "OPENAI_API_KEY": SERVER_KEY,
                     "ASSISTANT_MODEL": FAKE_MODEL, "ASSISTANT_VISITOR_KEYS": "allowed",
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw", "ASSISTANT_DATA_DIR": str(data_dir),
                     "ASSISTANT_OWN_KEY_REQUESTS_PER_MINUTE": "0"})
    yield app
    app.close()


def test_a_visitor_key_is_used_for_that_session_only(key_app, fake):
    ann, bob = key_app.client(auth=("ann", "ann-pw")), key_app.client(auth=("bob", "bob-pw"))
    answer = ann.predict(VISITOR_KEY, "", api_name="/set_api_key")
    fake.enqueue(Scenario(text="Yours."), Scenario(text="Server's."))
    mine, theirs = chat(ann, "hello"), chat(bob, "hello")

    assert answer["own_key"] is True and set(fake.models) <= set(answer["models"])
    assert "Yours." in mine and "Server's." in theirs
    ann_post, bob_post = model_posts(fake)[-2:]
    assert bearer(ann_post) == f"Bearer {VISITOR_KEY}" and bearer(bob_post) == f"Bearer {SERVER_KEY}"
    ann.predict(api_name="/clear_api_key")
    fake.enqueue(Scenario(text="Back."))
    chat(ann, "again")
    assert bearer(model_posts(fake)[-1]) == f"Bearer {SERVER_KEY}"


def test_a_rejected_visitor_key_says_it_is_theirs(key_app, fake):
    ann = key_app.client(auth=("ann", "ann-pw"))
    ann.predict(VISITOR_KEY, "", api_name="/set_api_key")
    fake.enqueue(Scenario(status=401, error_message=f"Incorrect API key provided: {VISITOR_KEY}",
                          error_type="invalid_request_error", error_code="invalid_api_key"))
    shown = chat(ann, "hello")
    assert "rejected your API key" in shown and VISITOR_KEY not in shown


def test_a_bad_key_or_a_server_of_their_own_is_refused(key_app):
    ann = key_app.client(auth=("ann", "ann-pw"))
    with pytest.raises(AppError, match="does not look like an API key"):
        ann.predict("two words", "", api_name="/set_api_key")
    with pytest.raises(AppError, match="another server"):
        ann.predict(VISITOR_KEY, "http://10.0.0.1/v1", api_name="/set_api_key")


def test_no_key_reaches_an_answer_the_database_or_the_log(key_app, fake, data_dir, caplog):
    caplog.set_level(logging.DEBUG)
    ann = key_app.client(auth=("ann", "ann-pw"))
    seen = [json.dumps(ann.predict(VISITOR_KEY, "", api_name="/set_api_key"))]
    fake.enqueue(Scenario(text="Fine."), Scenario(status=401, error_message="bad key"))
    seen += [chat(ann, "hello"), chat(ann, "and again")]
    key_app.app.store.flush()
    [latest] = key_app.app.store.list_conversations("user:ann", limit=1)
    seen.append(json.dumps(key_app.app.store.export_json("user:ann", latest.id)))
    with httpx.Client(base_url=key_app.url) as web:
        web.post("/login", data={"username": "ann", "password": "ann-pw"})
        seen += [web.get(path).text for path in ("/", "/config", "/gradio_api/info",
                                                  "/metrics")]
    seen.append(caplog.text)
    stored = b"".join(p.read_bytes() for p in data_dir.rglob("*") if p.is_file())

    for key in (VISITOR_KEY, SERVER_KEY):
        assert all(key not in text for text in seen), key
        assert key.encode() not in stored


def test_with_visitor_keys_off_none_is_taken(fake_server, tmp_path):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "OPENAI_API_KEY": SERVER_KEY,
                     "ASSISTANT_MODEL": FAKE_MODEL, "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        with pytest.raises(AppError, match="does not take visitors"):
            app.client().predict(VISITOR_KEY, "", api_name="/set_api_key")
    finally:
        app.close()


def test_when_keys_are_required_nothing_is_sent_without_one(fake_server, fake, tmp_path):
    app = start_app({"ASSISTANT_EMBEDDED_MODEL": "off", "ASSISTANT_VISITOR_BASE_URLS": "on",
                     "ASSISTANT_MODEL": FAKE_MODEL, "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        visitor = app.client()
        refused = chat(visitor, "hello")
        assert "needs your own API key" in refused and model_posts(fake) == []
        visitor.predict(VISITOR_KEY, fake_server.base_url, api_name="/set_api_key")
        fake.enqueue(Scenario(text="Now it works."))
        assert "Now it works." in chat(visitor, "hello")
        assert bearer(model_posts(fake)[-1]) == f"Bearer {VISITOR_KEY}"
    finally:
        app.close()


def test_visitors_clients_are_closed_with_the_server_and_when_evicted(fake, monkeypatch):
    monkeypatch.setattr(routes_module, "MAX_ROUTES", 1)
    routes = OwnKeyRoutes(Connection(), RetryPolicy(), default_base_url=fake.base_url)

    async def scenario() -> tuple[bool, bool]:
        first = routes.route("sk-visitor-one").backend.client
        await first.models.list()  # opens its connections
        second = routes.route("sk-visitor-two").backend.client  # evicts the first
        await second.models.list()
        for _ in range(500):  # the eviction closes the first on this loop, in a task
            if first.is_closed():
                break
            await asyncio.sleep(0.01)
        evicted = first.is_closed()
        await routes.aclose()
        return evicted, second.is_closed()
    assert asyncio.run(scenario()) == (True, True)


def test_a_call_without_a_session_cannot_set_a_key_for_every_such_call(key_app, fake):
    with httpx.Client(base_url=key_app.url, timeout=20) as bare:
        assert bare.post("login", data={"username": "ann", "password": "ann-pw"}).is_success
        refused = bare.post("gradio_api/run/set_api_key", json={"data": [VISITOR_KEY, ""]})
    assert refused.status_code != 200 and "per session" in refused.text
