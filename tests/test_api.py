"""The assistant as an OpenAI-compatible API, driven by the official `openai` SDK (sync
and async, streaming and not, both endpoints) against the real app and our fake server."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Iterator

import httpx
import openai
import pytest
from playwright.sync_api import expect

from fakes.fake_openai import FakeOpenAI, Scenario
from fakes.fake_scenario import tool_outputs
from tests.conftest import FAKE_MODEL, Clock, RunningApp, model_posts, start_app
from tests.loopback_site import LoopbackSite

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def api_app(fake_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[RunningApp]:
    """Sign-in is on, so every API request needs a key."""
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw,cy:cy-pw",
                     "ASSISTANT_RETRY_BUDGET": "1",
                     "ASSISTANT_READ_TIMEOUT": "2",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("api"))})
    yield app
    app.close()


@pytest.fixture(scope="module")
def keys(api_app: RunningApp) -> dict[str, str]:
    return {name: api_app.app.api_keys.create(f"user:{name}", "tests")[0]
            for name in ("ann", "bob")}


@pytest.fixture
def ann(api_app: RunningApp, keys: dict[str, str], fake: FakeOpenAI) -> openai.OpenAI:
    with openai.OpenAI(base_url=f"{api_app.url}v1", api_key=keys["ann"], max_retries=0) as client:
        yield client


def v1(app: RunningApp) -> str:
    return f"{app.url}v1"


def test_models_lists_the_server_s_models(ann):
    assert FAKE_MODEL in [m.id for m in ann.models.list()]


def test_a_chat_completion_whole_and_streamed(ann, fake):
    fake.enqueue(Scenario(text="Hello there, friend."), Scenario(text="Hello there, friend."))
    whole = ann.chat.completions.create(model=FAKE_MODEL,
                                        messages=[{"role": "user", "content": "Hi"}])
    assert whole.choices[0].message.content == "Hello there, friend."
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None and whole.usage.total_tokens > 0
    chunks = list(ann.chat.completions.create(
        model=FAKE_MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True,
        stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Hello there, friend."
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) > 1
    assert chunks[-1].usage is not None and chunks[-1].choices == []
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    sent = model_posts(fake)[-1].body
    assert sent["messages"][-1]["content"] == "Hi"


def test_a_response_whole_and_streamed(ann, fake):
    fake.enqueue(Scenario(text="Short answer."), Scenario(text="Short answer."))
    whole = ann.responses.create(model=FAKE_MODEL, input="Hi", instructions="Be brief.")
    assert whole.output_text == "Short answer."
    assert whole.status == "completed"
    events = list(ann.responses.create(model=FAKE_MODEL, input="Hi", stream=True))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "Short answer." and len(deltas) > 1
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "Short answer."
    system = model_posts(fake)[0].body["messages"][0]
    assert system["role"] == "system" and "Be brief." in system["content"]


def test_the_sdk_s_response_stream_helper_accumulates_our_events(ann, fake):
    fake.enqueue(Scenario(text="One two three.", reasoning="Think first."))
    with ann.responses.stream(model=FAKE_MODEL, input="Count") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "One two three."
    assert final.output[0].type == "reasoning"


def test_reasoning_travels_beside_the_text_on_both_endpoints(ann, fake):
    fake.enqueue(Scenario(text="Forty-two.", reasoning="Let me think about it."),
                 Scenario(text="Forty-two.", reasoning="Let me think about it."))
    chunks = list(ann.chat.completions.create(
        model=FAKE_MODEL, messages=[{"role": "user", "content": "Answer?"}], stream=True))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in chunks if c.choices)
    assert reasoning == "Let me think about it."
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Forty-two."
    events = list(ann.responses.create(model=FAKE_MODEL, input="Answer?", stream=True))
    summary = "".join(e.delta for e in events
                      if e.type == "response.reasoning_summary_text.delta")
    assert summary == "Let me think about it."


def test_server_tool_steps_are_shown_and_their_results_reach_the_model(ann, fake):
    call = {"name": "calculator", "arguments": json.dumps({"expression": "6*7"})}
    fake.enqueue(Scenario(tool_calls=[call]), Scenario(echo_tool_results=True),
                 Scenario(tool_calls=[call]), Scenario(echo_tool_results=True))
    whole = ann.chat.completions.create(model=FAKE_MODEL,
                                        messages=[{"role": "user", "content": "6 times 7?"}])
    assert "42" in whole.choices[0].message.content
    steps = whole.model_extra["assistant"]["steps"]
    assert steps[0]["name"] == "calculator" and steps[0]["status"] == "completed"
    assert "42" in steps[0]["output"]
    events = list(ann.responses.create(model=FAKE_MODEL, input="6 times 7?", stream=True))
    done = [e.item for e in events if e.type == "response.output_item.done"
            and e.item.type == "mcp_call"]
    assert done and done[0].name == "calculator" and "42" in done[0].output
    assert "42" in events[-1].response.output_text


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_client_tools_come_back_unrun_and_their_results_are_answered(ann, fake, endpoint):
    fake.enqueue(Scenario(tool_calls=[{"name": "get_weather", "arguments": '{"city": "Oslo"}'}]),
                 Scenario(echo_tool_results=True))
    asked = [{"role": "user", "content": "Weather in Oslo?"}]
    if endpoint == "chat":
        first = ann.chat.completions.create(model=FAKE_MODEL, messages=asked, tools=[WEATHER])
        assert first.choices[0].finish_reason == "tool_calls"
        call = first.choices[0].message.tool_calls[0]
        assert (call.function.name, json.loads(call.function.arguments)) == \
            ("get_weather", {"city": "Oslo"})
        second = ann.chat.completions.create(model=FAKE_MODEL, tools=[WEATHER], messages=[
            *asked, first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "Sunny, 21 C"}])
        answer = second.choices[0].message.content
    else:
        tool = {"type": "function", **WEATHER["function"]}
        first = ann.responses.create(model=FAKE_MODEL, input=asked, tools=[tool])
        call = next(i for i in first.output if i.type == "function_call")
        assert call.name == "get_weather"
        second = ann.responses.create(model=FAKE_MODEL, tools=[tool], input=[
            *asked, {"type": "function_call", "call_id": call.call_id, "name": call.name,
                     "arguments": call.arguments},
            {"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 21 C"}])
        answer = second.output_text
    assert "Sunny, 21 C" in answer
    assert tool_outputs(model_posts(fake)[1].body) != []
    first_request = model_posts(fake)[0].body
    offered = [t.get("function", t)["name"] for t in first_request["tools"]]
    assert "get_weather" in offered and "calculator" in offered


def test_errors_keep_openai_s_shapes(api_app, ann, fake):
    with pytest.raises(openai.NotFoundError) as missing:
        ann.chat.completions.create(model="no-such-model",
                                    messages=[{"role": "user", "content": "Hi"}])
    assert missing.value.body["param"] == "model"
    with pytest.raises(openai.BadRequestError) as bad:
        ann.chat.completions.create(model=FAKE_MODEL, temperature=7,
                                    messages=[{"role": "user", "content": "Hi"}])
    assert bad.value.body["param"] == "temperature"
    with pytest.raises(openai.BadRequestError) as bad:
        ann.responses.create(model=FAKE_MODEL, input=[])
    assert bad.value.body["param"] == "input"
    with pytest.raises(openai.AuthenticationError), \
            openai.OpenAI(base_url=v1(api_app), api_key="sk-asst-wrong", max_retries=0) as c:
        c.models.list()
    assert model_posts(fake) == []


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


def test_an_upstream_failure_is_a_502_or_503_with_its_reason(ann, fake):
    fake.enqueue(Scenario(status=400, error_message="bad things upstream"))
    with pytest.raises(openai.APIStatusError) as failed:
        ann.chat.completions.create(model=FAKE_MODEL, messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502
    fake.enqueue(*[Scenario(status=503, error_message="overloaded")] * 3)
    with pytest.raises(openai.APIStatusError) as busy:
        ann.responses.create(model=FAKE_MODEL, input="x", stream=True)
    assert busy.value.status_code == 503


@pytest.mark.parametrize("endpoint", ["chat", "responses"])
def test_a_failure_mid_stream_ends_the_stream_with_an_error_the_sdk_raises(ann, fake, endpoint):
    fake.enqueue(Scenario(n_tokens=20, fault="drop", fault_after=3))
    seen: list[str] = []
    with pytest.raises(openai.APIError):
        if endpoint == "chat":
            for chunk in ann.chat.completions.create(
                    model=FAKE_MODEL, messages=[{"role": "user", "content": "x"}], stream=True):
                seen += [chunk.choices[0].delta.content or ""] if chunk.choices else []
        else:
            for event in ann.responses.create(model=FAKE_MODEL, input="x", stream=True):
                seen += [event.delta] if event.type == "response.output_text.delta" else []
    assert "".join(seen).startswith("w0 w1 w2")


def test_closing_the_stream_closes_the_upstream_request(api_app, keys, fake):
    async def run() -> None:
        async with openai.AsyncOpenAI(base_url=v1(api_app), api_key=keys["ann"],
                                      max_retries=0) as client:
            stream = await client.chat.completions.create(
                model=FAKE_MODEL, messages=[{"role": "user", "content": "x"}], stream=True)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    break
            await stream.close()
    fake.enqueue(Scenario(n_tokens=500, rate=20))
    asyncio.run(run())
    assert fake.wait_for_disconnect(timeout=5)


def test_async_client_streams_both_endpoints(api_app, keys, fake):
    async def run() -> tuple[str, str]:
        async with openai.AsyncOpenAI(base_url=v1(api_app), api_key=keys["ann"],
                                      max_retries=0) as client:
            chat = await client.chat.completions.create(
                model=FAKE_MODEL, messages=[{"role": "user", "content": "x"}], stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in chat if c.choices])
            events = await client.responses.create(model=FAKE_MODEL, input="x", stream=True)
            deltas = "".join([e.delta async for e in events
                              if e.type == "response.output_text.delta"])
            return text, deltas
    fake.enqueue(Scenario(text="Async one."), Scenario(text="Async two."))
    assert asyncio.run(run()) == ("Async one.", "Async two.")


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


def test_documents_answer_with_their_sources_in_the_extra_field(api_app, ann, fake):
    notes = b"# Harbour\n\nThe harbour of Velmora exports dried kelp to the northern isles.\n"
    asyncio.run(api_app.app.library.add("user:ann", "velmora.md", notes))
    search = {"name": "search_documents", "arguments": json.dumps({"query": "Velmora exports"})}
    fake.enqueue(Scenario(tool_calls=[search]), Scenario(echo_tool_results=True))
    whole = ann.chat.completions.create(
        model=FAKE_MODEL, messages=[{"role": "user", "content": "What does Velmora export?"}])
    assert "dried kelp" in whole.choices[0].message.content
    [source] = whole.model_extra["assistant"]["sources"]
    assert source["document"] == "velmora.md" and "dried kelp" in source["text"]
    fake.enqueue(Scenario(text="Nothing searched."))
    off = ann.chat.completions.create(
        model=FAKE_MODEL, messages=[{"role": "user", "content": "Hi"}],
        metadata={"assistant_documents": "off"})
    assert "assistant" not in (off.model_extra or {})
    offered = [t["function"]["name"] for t in model_posts(fake)[-1].body.get("tools", [])]
    assert "search_documents" not in offered


def test_a_tool_that_asks_first_pauses_the_reply_until_the_key_owner_answers(
        fake, tmp_path, request):
    notes = Path(__file__).parent / "mcp_servers" / "notes_server.py"
    deleted = tmp_path / "deleted.txt"
    deleted.touch()
    servers = json.dumps({"mcpServers": {"notes": {
        "command": sys.executable, "args": [str(notes)], "env": {"NOTES_DELETED": str(deleted)}}}})
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw", "ASSISTANT_MCP_SERVERS": servers,
                     "ASSISTANT_DATA_DIR": str(tmp_path / "data")})
    request.addfinalizer(app.close)
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
