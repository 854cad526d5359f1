"""The assistant as an OpenAI-compatible API, driven by the official `openai` SDK (sync
and async, streaming and not, both endpoints) against the real app and our fake server."""

from __future__ import annotations

import asyncio
import base64
import json

import openai
import pytest

from fakes.fake_openai import Scenario
from fakes.fake_scenario import tool_outputs
from tests.conftest import FAKE_MODEL, model_posts, v1

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


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


def tiny_png() -> bytes:
    from io import BytesIO

    from PIL import Image
    out = BytesIO()
    Image.new("RGB", (2, 2), "red").save(out, "PNG")
    return out.getvalue()


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
    with pytest.raises(openai.BadRequestError) as bad:  # what cannot be honoured is said
        ann.chat.completions.create(model=FAKE_MODEL, response_format={"type": "json_object"},
                                    messages=[{"role": "user", "content": "Hi"}])
    assert bad.value.body["param"] == "response_format"
    with pytest.raises(openai.BadRequestError) as bad:
        ann.responses.create(model=FAKE_MODEL, input="Hi", tool_choice="required")
    assert bad.value.body["param"] == "tool_choice"
    dot = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    with pytest.raises(openai.BadRequestError) as bad:  # the page's limit on images holds
        ann.chat.completions.create(model=FAKE_MODEL, messages=[{"role": "user", "content": [
            {"type": "text", "text": "Look"},
            *[{"type": "image_url", "image_url": {"url": dot}}] * 5]}])
    assert bad.value.body["param"] == "messages" and "at most 4 images" in bad.value.message
    with pytest.raises(openai.AuthenticationError), \
            openai.OpenAI(base_url=v1(api_app), api_key="sk-asst-wrong", max_retries=0) as c:
        c.models.list()
    assert model_posts(fake) == []


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
