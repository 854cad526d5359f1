"""OpenTelemetry traces over real OTLP/HTTP, received on loopback by a receiver of our own:
a turn, its requests to the model server and its tool calls, with the GenAI attributes,
on both protocols; no message text unless asked; nothing sent when no endpoint is set."""

from __future__ import annotations

import json

import openai
import pytest

from fakes.fake_openai import Scenario
from tests.conftest import FAKE_MODEL, start_app, v1
from tests.otlp_receiver import OtlpReceiver, ReceivedSpan

CALL = {"name": "calculator", "arguments": json.dumps({"expression": "6*7"})}


def traced_app(fake, tmp_path, monkeypatch, receiver: OtlpReceiver, **env: str):
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    return start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                      "ASSISTANT_DATA_DIR": str(tmp_path / "data"), **env})


def turns(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == "invoke_agent assistant"]


def under(spans: list[ReceivedSpan], turn: ReceivedSpan) -> list[ReceivedSpan]:
    return sorted((s for s in spans if s.parent_id == turn.span_id), key=lambda s: s.start)


def test_a_turn_its_requests_and_its_tool_call_are_traced_on_both_protocols(
        fake, tmp_path, monkeypatch, request):
    with OtlpReceiver() as receiver:
        app = traced_app(fake, tmp_path, monkeypatch, receiver)
        request.addfinalizer(app.close)
        fake.enqueue(Scenario(tool_calls=[CALL]), Scenario(text="It is 42."),
                     Scenario(text="Plain words."))
        with openai.OpenAI(base_url=v1(app), api_key="local", max_retries=0) as client:
            client.chat.completions.create(model=FAKE_MODEL, messages=[
                {"role": "user", "content": "What is 6 times 7? secret-question"}],
                extra_body={"metadata": {"assistant_tools": "calculator"}})
        app.chat(app.client(), "Say something plain", api="responses")  # the page's /chat
        spans = receiver.wait_for(lambda got: len(turns(got)) == 2)

    first, second = sorted(turns(spans), key=lambda s: s.start)
    assert first.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert first.attributes["gen_ai.provider.name"] and first.service == "assistant"
    assert first.attributes["gen_ai.request.model"] == FAKE_MODEL
    assert first.attributes["assistant.api"] == "chat_completions"
    assert second.attributes["assistant.api"] == "responses"
    assert first.attributes["gen_ai.response.finish_reasons"] == ["stop"]

    ask, tool, answer = under(spans, first)
    assert [s.name for s in (ask, tool, answer)] == [
        f"chat {FAKE_MODEL}", "execute_tool calculator", f"chat {FAKE_MODEL}"]
    assert ask.end <= tool.start <= tool.end <= answer.start  # in the order they ran
    assert ask.attributes["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert answer.attributes["gen_ai.response.finish_reasons"] == ["stop"]
    assert ask.attributes["gen_ai.response.model"] == FAKE_MODEL
    assert tool.attributes["gen_ai.tool.name"] == "calculator"
    assert tool.attributes["gen_ai.tool.call.id"]
    for span in (ask, answer):
        assert span.kind == 3  # CLIENT
        assert span.attributes["gen_ai.usage.input_tokens"] > 0
        assert span.attributes["gen_ai.usage.output_tokens"] >= 0
    assert answer.attributes["gen_ai.usage.output_tokens"] > 0
    assert first.attributes["gen_ai.usage.input_tokens"] == sum(
        s.attributes["gen_ai.usage.input_tokens"] for s in (ask, answer))

    [only] = under(spans, second)
    assert only.attributes["gen_ai.operation.name"] == "chat"
    everything = json.dumps([s.attributes for s in spans])
    assert "secret-question" not in everything and "Plain words." not in everything


def test_a_kept_chat_s_id_and_with_content_on_the_text_reach_the_spans(
        fake, tmp_path, monkeypatch, request):
    with OtlpReceiver() as receiver:
        app = traced_app(fake, tmp_path, monkeypatch, receiver,
                         ASSISTANT_LOG_CONTENT="on", ASSISTANT_AUTH="ann:ann-pw")
        request.addfinalizer(app.close)
        key = app.app.api_keys.create("user:ann", "tests")[0]
        fake.enqueue(Scenario(text="Kept words."))
        with openai.OpenAI(base_url=v1(app), api_key=key, max_retries=0) as client:
            made = client.chat.completions.with_raw_response.create(
                model=FAKE_MODEL, messages=[{"role": "user", "content": "Keep this"}],
                metadata={"assistant_chat": "new"})
        chat = made.headers["x-assistant-chat"]
        [turn] = turns(receiver.wait_for(lambda got: len(turns(got)) == 1))
    assert turn.attributes["gen_ai.conversation.id"] == chat
    assert "Keep this" in turn.attributes["gen_ai.input.messages"]
    assert "Kept words." in turn.attributes["gen_ai.output.messages"]


def test_a_failed_turn_is_an_error_span(fake, tmp_path, monkeypatch, request):
    with OtlpReceiver() as receiver:
        app = traced_app(fake, tmp_path, monkeypatch, receiver, ASSISTANT_RETRY_BUDGET="1")
        request.addfinalizer(app.close)
        fake.enqueue(Scenario(status=400, error_message="bad request"))
        with openai.OpenAI(base_url=v1(app), api_key="local", max_retries=0) as client, \
                pytest.raises(openai.APIError):
            client.chat.completions.create(model=FAKE_MODEL, messages=[
                {"role": "user", "content": "Fail please"}])
        [turn] = turns(receiver.wait_for(lambda got: len(turns(got)) == 1))
    assert turn.error and turn.attributes["error.type"]
    assert turn.attributes["assistant.outcome"] == "failed"


def test_without_an_endpoint_nothing_is_traced(fake, tmp_path, monkeypatch, request):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path / "data")})
    request.addfinalizer(app.close)
    assert app.app.tracer is None
    assert not any(type(o).__name__ == "TurnTracer" for o in app.app.service.observers)
