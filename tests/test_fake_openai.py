"""Self-test of fakes/fake_openai.py against the real openai SDK (3.x, on httpx2).

Each test also documents what the SDK does with one kind of upstream answer;
these are the behaviours the app's streaming code has to handle.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import openai
import pytest

from fakes.fake_openai import FakeOpenAI, Scenario
from tests.fake_openai_sdk import MESSAGES, joined_text, sdk_client


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


async def _collect(fake: FakeOpenAI, timeout: float = 5.0, **kwargs: Any) -> list[Any]:
    """Stream one completion and return every chunk the SDK yields."""
    kwargs.setdefault("model", "gpt-4.1-mini")
    kwargs.setdefault("messages", MESSAGES)
    async with sdk_client(fake, timeout) as client:
        stream = await client.chat.completions.create(stream=True, **kwargs)
        return [chunk async for chunk in stream]


async def _collect_until_error(fake: FakeOpenAI, timeout: float = 5.0) -> tuple[list[Any], BaseException | None]:
    chunks: list[Any] = []
    async with sdk_client(fake, timeout) as client:
        try:
            stream = await client.chat.completions.create(model="gpt-4.1-mini", messages=MESSAGES, stream=True)
            async for chunk in stream:
                chunks.append(chunk)
        except Exception as exc:
            return chunks, exc
    return chunks, None


def _finish_reasons(chunks: list[Any]) -> list[str]:
    return [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]


# --------------------------------------------------------------------------- happy path


def test_text_streams_and_joins_to_exactly_the_text(fake):
    text = "  Hello,\n\nworld!  Tabs\tand   spaces stay. "
    fake.default = Scenario(text=text)
    chunks = asyncio.run(_collect(fake))
    assert joined_text(chunks) == text
    first = chunks[0]
    assert first.choices[0].delta.role == "assistant"
    assert first.choices[0].delta.content == ""
    assert first.model == "gpt-4.1-mini"
    assert first.id.startswith("chatcmpl-fake-")
    # The final chunk has an empty delta and the finish_reason; no usage chunk unless asked.
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].choices[0].delta.content is None
    assert all(c.usage is None for c in chunks)


def test_explicit_tokens_and_n_tokens():
    assert Scenario(tokens=["a", "b c", " "]).token_list() == ["a", "b c", " "]
    assert Scenario(text="ignored", n_tokens=3).token_list() == ["w0 ", "w1 ", "w2 "]
    assert "".join(Scenario(text="x  y\n").token_list()) == "x  y\n"
    with pytest.raises(ValueError):
        Scenario(fault="explode")


def test_usage_chunk_only_with_include_usage(fake):
    fake.default = Scenario(text="one two three")
    chunks = asyncio.run(_collect(fake, stream_options={"include_usage": True}))
    last = chunks[-1]
    assert last.choices == []  # never index choices[0] unguarded
    assert last.usage.completion_tokens == 3
    assert last.usage.prompt_tokens == len("Say hello") // 4 + 1
    assert last.usage.total_tokens == last.usage.prompt_tokens + 3
    fake.default = Scenario(text="one two three", usage=False)
    chunks = asyncio.run(_collect(fake, stream_options={"include_usage": True}))
    assert all(c.usage is None for c in chunks)


def test_finish_reason_length(fake):
    fake.default = Scenario(text="cut off", finish_reason="length")
    chunks = asyncio.run(_collect(fake))
    assert _finish_reasons(chunks) == ["length"]
    assert joined_text(chunks) == "cut off"


def test_refusal_arrives_in_delta_refusal_with_content_none(fake):
    fake.default = Scenario(refusal="I can't help with that.")
    chunks = asyncio.run(_collect(fake))
    assert "".join(c.choices[0].delta.refusal or "" for c in chunks) == "I can't help with that."
    assert all(c.choices[0].delta.content is None for c in chunks)
    assert _finish_reasons(chunks) == ["stop"]


def test_non_streaming_request_gets_a_json_completion():
    with FakeOpenAI() as fake:
        fake.default = Scenario(text="whole reply", finish_reason="length")
        with openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as client:
            completion = client.chat.completions.create(model="fake-model", messages=MESSAGES)
    assert completion.choices[0].message.content == "whole reply"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage.completion_tokens == 2
    assert completion.model == "fake-model"


def test_models_list_and_unknown_path(fake):
    fake.models = ["a-model", "b-model"]
    fake.embeddings_enabled = False
    with openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0) as client:
        assert [m.id for m in client.models.list()] == ["a-model", "b-model"]
        with pytest.raises(openai.NotFoundError):
            client.embeddings.create(model="a-model", input="x")
    assert [(r.method, r.path) for r in fake.requests] == [("GET", "/v1/models"), ("POST", "/v1/embeddings")]


def test_request_log_records_model_temperature_and_messages(fake):
    asyncio.run(_collect(fake, model="fake-model", temperature=0.25))
    assert fake.wait_for_requests(1, timeout=1)
    req = fake.requests[0]
    assert (req.method, req.path) == ("POST", "/v1/chat/completions")
    assert req.body["model"] == "fake-model"
    assert req.body["temperature"] == 0.25
    assert req.body["messages"] == MESSAGES
    assert req.body["stream"] is True
    assert req.headers["authorization"] == "Bearer test"
    assert req.headers["content-type"] == "application/json"
    assert isinstance(req.time, float)
    assert not fake.wait_for_requests(2, timeout=0.05)


def test_queue_is_fifo_then_default_and_reset_clears(fake):
    fake.default = Scenario(text="default")
    fake.enqueue(Scenario(text="first"), Scenario(text="second"))
    texts = [joined_text(asyncio.run(_collect(fake))) for _ in range(3)]
    assert texts == ["first", "second", "default"]
    fake.enqueue(Scenario(text="left over"))
    fake.reset()
    assert fake.requests == [] and fake.disconnects == 0 and fake.pending == 0
    assert joined_text(asyncio.run(_collect(fake))) == Scenario().text


# --------------------------------------------------------------------------- errors before the stream


def test_429_raises_rate_limit_error_with_retry_after_header_visible(fake):
    fake.enqueue(Scenario(status=429, error_type="requests", error_code="rate_limit_exceeded",
                          error_message="slow down", headers={"retry-after": "1"}))
    with pytest.raises(openai.RateLimitError) as info:
        asyncio.run(_collect(fake))
    err = info.value
    assert err.status_code == 429
    assert err.response.headers["retry-after"] == "1"
    assert err.code == "rate_limit_exceeded"
    assert err.body["message"] == "slow down"
    assert len(fake.requests) == 1  # max_retries=0: no retry


def test_sdk_retries_429_honouring_retry_after_ms(fake):
    fake.enqueue(Scenario(status=429, headers={"retry-after-ms": "50"}), Scenario(text="second try"))

    async def run() -> str:
        async with sdk_client(fake, max_retries=1) as client:
            stream = await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            return joined_text([c async for c in stream])

    assert asyncio.run(run()) == "second try"
    assert len(fake.requests) == 2
    assert fake.requests[1].time - fake.requests[0].time >= 0.045


def test_reject_stream_gives_400_and_the_fallback_pops_the_next_scenario(fake):
    fake.enqueue(Scenario(reject_stream=True), Scenario(text="non-streamed"))

    async def run() -> str:
        async with sdk_client(fake) as client:
            with pytest.raises(openai.BadRequestError) as info:
                await client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
            assert info.value.param == "stream" and info.value.code == "unsupported_value"
            completion = await client.chat.completions.create(model="m", messages=MESSAGES)
            return completion.choices[0].message.content

    assert asyncio.run(run()) == "non-streamed"  # each POST pops one scenario


def test_hang_before_headers_times_out(fake):
    fake.enqueue(Scenario(hang_before_headers=5))
    with pytest.raises(openai.APITimeoutError):
        asyncio.run(_collect(fake, timeout=0.3))
    assert fake.wait_for_disconnect(1)  # the server noticed the client leave during the hang


# --------------------------------------------------------------------------- mid-stream faults (never retried)


def test_drop_raises_api_connection_error_after_partial_text(fake):
    fake.enqueue(Scenario(text="a b c d e", fault="drop", fault_after=2))
    chunks, err = asyncio.run(_collect_until_error(fake))
    assert isinstance(err, openai.APIConnectionError)
    assert not isinstance(err, openai.APITimeoutError)
    # The cause is httpx2.RemoteProtocolError ("incomplete chunked read").
    assert "incomplete chunked read" in str(err.__cause__)
    assert joined_text(chunks) == "a b "
    assert fake.disconnects == 0  # the server hung up, not the client


def test_stall_raises_api_timeout_error_and_server_sees_the_client_leave(fake):
    fake.enqueue(Scenario(text="a b c d", fault="stall", fault_after=1, stall_seconds=5))
    chunks, err = asyncio.run(_collect_until_error(fake, timeout=0.3))
    assert isinstance(err, openai.APITimeoutError)
    assert joined_text(chunks) == "a "
    assert fake.wait_for_disconnect(1)  # the stalled handler ends instead of sleeping 5 s


def test_error_event_raises_api_error_without_status(fake):
    fake.enqueue(Scenario(fault="error_event", error_message="overloaded", error_code="server_busy"))
    chunks, err = asyncio.run(_collect_until_error(fake))
    assert type(err) is openai.APIError  # not an APIStatusError: there is no status code
    assert err.message == "overloaded"
    assert err.body["code"] == "server_busy"
    assert joined_text(chunks) == "Hello from "


def test_error_chunk_is_yielded_with_choices_none(fake):
    # Differs from the brief: the SDK raises APIError for ANY event whose "error"
    # key is truthy (see test above), so the fake sends a vLLM-style error
    # object {"object": "error", "type": "error", "message": ...} instead.
    fake.enqueue(Scenario(fault="error_chunk", error_message="bad things"))
    chunks, err = asyncio.run(_collect_until_error(fake))
    assert err is None  # nothing raised ...
    odd = [c for c in chunks if c.choices is None]  # ... a naive choices[0] crashes with TypeError
    assert len(odd) == 1
    assert odd[0].type == "error" and odd[0].message == "bad things"
    assert _finish_reasons([c for c in chunks if c.choices]) == []


def test_malformed_line_raises_raw_json_decode_error(fake):
    fake.enqueue(Scenario(fault="malformed"))
    chunks, err = asyncio.run(_collect_until_error(fake))
    # Not an openai.OpenAIError: the SDK lets json.JSONDecodeError escape.
    assert isinstance(err, json.JSONDecodeError)
    assert not isinstance(err, openai.OpenAIError)
    assert joined_text(chunks) == "Hello from "


def test_no_finish_ends_silently_without_finish_reason(fake):
    fake.enqueue(Scenario(text="a b c d", fault="no_finish", fault_after=3))
    chunks, err = asyncio.run(_collect_until_error(fake))
    assert err is None
    assert joined_text(chunks) == "a b c "
    assert _finish_reasons(chunks) == []


def test_json_body_for_a_stream_request_yields_zero_chunks(fake):
    fake.enqueue(Scenario(json_body=True))
    chunks, err = asyncio.run(_collect_until_error(fake))
    assert err is None
    assert chunks == []
