"""Who may use the OpenAI-compatible API, and as whom: keys from every header, owners' chats,
limits, the local demo, questions from tools, a plain web page in a real browser."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest
from playwright.sync_api import expect

from assistant.identity.passwords import remove_user, write_user
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.conftest import FAKE_MODEL, Clock, RunningApp, model_posts, start_app, v1
from tests.loopback_site import LoopbackSite


@pytest.mark.parametrize("header", ["authorization", "api-key", "x-api-key"])
def test_every_header_is_checked_the_same_way(api_app, keys, fake, header):
    def models(value: str) -> httpx.Response:
        sent = f"Bearer {value}" if header == "authorization" else value
        return httpx.get(f"{v1(api_app)}/models", headers={header: sent})
    assert models(keys["ann"]).status_code == 200
    refused = models("sk-asst-forged")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert httpx.get(f"{v1(api_app)}/models").status_code == 401
    both = httpx.get(f"{v1(api_app)}/models", headers={
        "authorization": f"Bearer {keys['ann']}", "x-api-key": keys["bob"]})
    assert both.status_code == 401


def test_a_saved_chat_is_the_key_owner_s_and_nobody_else_can_name_it(api_app, keys, ann, fake):
    fake.enqueue(Scenario(text="The first answer."), Scenario(text="The second answer."))
    created = ann.chat.completions.with_raw_response.create(
        model=FAKE_MODEL, messages=[{"role": "user", "content": "Remember the harbour"}],
        metadata={"assistant_chat": "new"})
    chat = created.headers["x-assistant-chat"]
    assert created.parse().model_extra["assistant"]["chat"] == chat
    store = api_app.app.store
    api_app.app.store.flush()
    saved = store.get_conversation("user:ann", chat)
    assert [m.content for m in saved.path()] == ["Remember the harbour", "The first answer."]
    ann.chat.completions.create(model=FAKE_MODEL, extra_headers={"X-Assistant-Chat": chat},
                                messages=[{"role": "user", "content": "And then?"}])
    sent = model_posts(fake)[-1].body["messages"]
    assert [m["content"] for m in sent if m["role"] != "system"] == [
        "Remember the harbour", "The first answer.", "And then?"]
    for header in ("authorization", "api-key", "x-api-key"):
        sent_key = f"Bearer {keys['bob']}" if header == "authorization" else keys["bob"]
        stolen = httpx.post(f"{v1(api_app)}/chat/completions", headers={
            header: sent_key, "x-assistant-chat": chat}, json={
            "model": FAKE_MODEL, "messages": [{"role": "user", "content": "What did ann say?"}]})
        assert stolen.status_code == 404
        assert "harbour" not in stolen.text
    assert len(model_posts(fake)) == 2
    store.flush()
    assert len(store.get_conversation("user:ann", chat).messages) == 4


@pytest.fixture
def limited(fake_server: FakeOpenAI, tmp_path) -> Iterator[tuple[RunningApp, Clock]]:
    clock = Clock(1_000_000.0)
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_REQUESTS_PER_MINUTE": "1", "ASSISTANT_DATA_DIR": str(tmp_path)},
                    clock)
    yield app, clock
    app.close()


def test_a_limit_hit_is_a_429_with_retry_after_and_nothing_upstream(limited, fake):
    app, _ = limited
    fake.enqueue(Scenario(text="Once."))
    first = httpx.post(f"{v1(app)}/chat/completions", json={
        "model": FAKE_MODEL, "messages": [{"role": "user", "content": "x"}]})
    assert first.status_code == 200
    second = httpx.post(f"{v1(app)}/chat/completions", json={
        "model": FAKE_MODEL, "messages": [{"role": "user", "content": "x"}]})
    assert second.status_code == 429
    assert 1 <= int(second.headers["retry-after"]) <= 61
    assert second.json()["error"]["type"] == "rate_limit_exceeded"
    assert len(model_posts(fake)) == 1


def test_a_local_demo_s_loopback_callers_need_no_key_but_a_browser_page_does(limited, fake):
    app, _ = limited
    fake.enqueue(Scenario(text="Local."))
    assert httpx.get(f"{v1(app)}/models").status_code == 200
    from_a_site = httpx.get(f"{v1(app)}/models", headers={"origin": "https://evil.example"})
    assert from_a_site.status_code == 401
    with openai.OpenAI(base_url=v1(app), api_key="local", max_retries=0) as sdk:
        assert FAKE_MODEL in [m.id for m in sdk.models.list()]  # the SDK always sends a key


def notes_app(fake, tmp_path, request, **env: str) -> tuple[RunningApp, Path]:
    """The app with our notes MCP server (its delete tool asks first), and the file where
    the server writes the notes it deleted."""
    notes = Path(__file__).parent / "mcp_servers" / "notes_server.py"
    deleted = tmp_path / "deleted.txt"
    deleted.touch()
    servers = json.dumps({"mcpServers": {"notes": {
        "command": sys.executable, "args": [str(notes)], "env": {"NOTES_DELETED": str(deleted)}}}})
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_MCP_SERVERS": servers,
                     "ASSISTANT_DATA_DIR": str(tmp_path / "data"), **env})
    request.addfinalizer(app.close)
    return app, deleted


def test_a_tool_that_asks_first_pauses_the_reply_until_the_key_owner_answers(
        fake, tmp_path, request):
    app, deleted = notes_app(fake, tmp_path, request, ASSISTANT_AUTH="ann:ann-pw")
    key = app.app.api_keys.create("user:ann", "tests")[0]
    fake.enqueue(Scenario(tool_calls=[{"name": "notes__delete_note",
                                       "arguments": '{"name": "todo"}'}]),
                 Scenario(echo_tool_results=True))
    with openai.OpenAI(base_url=v1(app), api_key=key, max_retries=0) as client, \
            client.chat.completions.create(model=FAKE_MODEL, stream=True, messages=[
                {"role": "user", "content": "Delete my todo note"}]) as stream:
        waiting = None
        for chunk in stream:
            step = (chunk.model_extra.get("assistant") or {}).get("step")
            if step and step["status"] == "awaiting_approval":
                waiting = step
                assert deleted.read_text() == ""
                answered = httpx.post(f"{v1(app)}/assistant/tool_approvals", json={
                    "choice": "allow", "call_id": step["id"]},
                    headers={"Authorization": f"Bearer {key}"})
                assert answered.status_code == 200
            last = chunk
    assert waiting is not None and waiting["name"] == "notes__delete_note"
    assert deleted.read_text().strip() == "todo"
    assert last.choices[0].finish_reason == "stop"
    nobody = httpx.post(f"{v1(app)}/assistant/tool_approvals", json={"choice": "allow"},
                        headers={"Authorization": f"Bearer {key}"})
    assert nobody.status_code == 404


def test_a_local_demo_script_streaming_responses_sees_the_question_and_denies_it(
        fake, tmp_path, request):
    app, deleted = notes_app(fake, tmp_path, request)
    fake.enqueue(Scenario(tool_calls=[{"name": "notes__delete_note",
                                       "arguments": '{"name": "todo"}'}]),
                 Scenario(echo_tool_results=True))
    asked, kinds = None, []
    with openai.OpenAI(base_url=v1(app), api_key="unused", max_retries=0) as client, \
            client.responses.create(model=FAKE_MODEL, input="Delete my todo note",
                                    stream=True) as stream:
        for event in stream:
            kinds.append(event.type)
            if event.type == "response.output_item.done" and \
                    event.item.type == "mcp_approval_request":
                asked = event.item
                answered = httpx.post(f"{v1(app)}/assistant/tool_approvals", json={
                    "choice": "deny", "call_id": asked.id})
                assert answered.status_code == 200
            if event.type == "response.completed":
                done = event.response
    assert asked is not None and asked.name == "notes__delete_note"
    assert json.loads(asked.arguments) == {"name": "todo"}
    call = next(item for item in done.output if item.type == "mcp_call")
    assert call.model_extra["approval"] == "denied"
    assert call.approval_request_id == asked.id
    assert deleted.read_text() == ""
    refusal = model_posts(fake)[-1].body["messages"][-1]
    assert refusal["role"] == "tool" and "refused" in refusal["content"]
    metrics = httpx.get(app.url + "metrics", timeout=10).text
    assert 'assistant_tool_approvals_total{answer="denied",tool="notes__delete_note"} 1.0' \
        in metrics


def test_keys_reach_no_log_and_no_metric(api_app, keys, ann, fake, caplog):
    caplog.set_level("DEBUG")
    fake.enqueue(Scenario(text="Fine."))
    ann.chat.completions.create(model=FAKE_MODEL, messages=[{"role": "user", "content": "Hi"}])
    httpx.get(f"{v1(api_app)}/models", headers={"x-api-key": keys["bob"] + "x"})
    metrics = httpx.get(f"{api_app.url}metrics").text
    for key in keys.values():
        assert key not in caplog.text and key[8:] not in metrics


def readme_page() -> str:
    """The plain web page the README's "Use it as an API" section shows."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    section = readme.split("## Use it as an API", 1)[1]
    return section.split("```html\n", 1)[1].split("```", 1)[0]


def test_the_readme_s_plain_page_streams_a_reply_in_a_browser(api_app, keys, fake, page):
    html = (readme_page().replace("http://127.0.0.1:7860/v1", v1(api_app).rstrip("/"))
            .replace("sk-asst-…", keys["ann"]).replace("gpt-4.1-mini", FAKE_MODEL))
    fake.enqueue(Scenario(text="Streamed to a <b>plain</b> page.", rate=50))
    with LoopbackSite({"/ask.html": html}) as site:
        page.goto(f"http://localhost:{site.port}/ask.html")
        page.fill("#question", "Hello?")
        page.click("button")
        reply = page.locator("#reply")
        expect(reply).to_have_text("Streamed to a <b>plain</b> page.", timeout=10_000)
        assert page.locator("#reply b").count() == 0  # written as text, never as HTML
    assert model_posts(fake)[0].body["messages"][-1]["content"] == "Hello?"


def test_deleting_all_my_data_stops_my_keys_at_once(api_app):
    key = api_app.app.api_keys.create("user:cy", "laptop")[0]
    models = f"{v1(api_app)}/models"
    assert httpx.get(models, headers={"x-api-key": key}).status_code == 200
    client = api_app.client(auth=("cy", "cy-pw"))
    client.predict("delete everything", api_name="/delete_my_data")
    assert httpx.get(models, headers={"x-api-key": key}).status_code == 401



def test_a_user_removed_from_the_password_file_loses_their_keys_at_once(fake, tmp_path, request):
    passwords = tmp_path / "passwords"
    write_user(passwords, "ann", "ann-password")
    write_user(passwords, "bob", "bob-password")
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH_FILE": str(passwords),
                     "ASSISTANT_DATA_DIR": str(tmp_path / "data")})
    request.addfinalizer(app.close)
    keys = {name: app.app.api_keys.create(f"user:{name}", "tests")[0] for name in ("ann", "bob")}

    def models(name: str) -> httpx.Response:
        return httpx.get(f"{v1(app)}/models", headers={"x-api-key": keys[name]})
    assert models("ann").status_code == 200
    remove_user(passwords, "ann")
    deadline = time.monotonic() + 5  # the file is looked at once a second
    while (refused := models("ann")).status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert refused.status_code == 401 and "not a user" in refused.json()["error"]["message"]
    assert models("bob").status_code == 200


def test_a_key_of_a_name_that_cannot_sign_in_is_refused(api_app):
    stray, _ = api_app.app.api_keys.create("user:dan", "tests")  # --auth lists ann, bob, cy
    refused = httpx.get(f"{v1(api_app)}/models", headers={"authorization": f"Bearer {stray}"})
    assert refused.status_code == 401
