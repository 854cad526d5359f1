"""Self-test of the fake server's Responses API and its extra Chat Completions stream
shapes (reasoning, content parts, n > 1, tool calls, raw SSE quirks), through the
real openai SDK over real HTTP."""

from __future__ import annotations

import json
import socket
from typing import Any

import openai
import pytest

from fakes.fake_openai import FakeOpenAI, Scenario
from fakes.fake_wire import split_chunks
from tests.fake_openai_sdk import MESSAGES

INPUT = [{"role": "user", "content": [{"type": "input_text", "text": "Say hello please"}]}]
CALLS = [{"name": "get_weather", "arguments": '{"city": "Paris", "unit": "celsius"}', "id": "call_a"},
         {"name": "get_time", "arguments": '{"tz": "Europe/Paris"}'}]


@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        yield server


def _client(fake: FakeOpenAI, timeout: float = 5.0) -> openai.OpenAI:
    return openai.OpenAI(base_url=fake.base_url, api_key="test", max_retries=0, timeout=timeout)


def _events(fake: FakeOpenAI, sc: Scenario | None = None, **kwargs: Any) -> list[Any]:
    """Every event the SDK yields for one streamed Response."""
    if sc is not None:
        fake.enqueue(sc)
    with _client(fake) as client:
        stream = client.responses.create(model="gpt-4.1-mini", input=INPUT, stream=True, store=False, **kwargs)
        return list(stream)


def _of(events: list[Any], type_: str) -> list[Any]:
    return [e for e in events if e.type == type_]


def _joined(events: list[Any], type_: str) -> str:
    return "".join(e.delta for e in _of(events, type_))


def _raw_chunks(fake: FakeOpenAI, sc: Scenario, **body: Any) -> list[dict[str, Any]]:
    """A chat stream read the way the app reads it: each chunk as the server's JSON dict."""
    fake.enqueue(sc)
    with _client(fake) as client:
        stream = client.post("/chat/completions", cast_to=object, stream=True, stream_cls=openai.Stream[object],
                             body={"model": "m", "messages": MESSAGES, "stream": True, **body})
        return list(stream)


def _typed_chunks(fake: FakeOpenAI, sc: Scenario, **kwargs: Any) -> list[Any]:
    fake.enqueue(sc)
    with _client(fake) as client:
        return list(client.chat.completions.create(model="m", messages=MESSAGES, stream=True, **kwargs))


def _deltas(chunks: list[dict[str, Any]], index: int = 0) -> list[dict[str, Any]]:
    return [c["delta"] for ch in chunks for c in ch.get("choices") or [] if c["index"] == index]


def _text(chunks: list[Any]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def _wire_bytes(fake: FakeOpenAI, sc: Scenario) -> list[bytes]:
    """The raw HTTP chunks of one chat stream, chunk framing included."""
    fake.enqueue(sc)
    body = json.dumps({"model": "m", "messages": MESSAGES, "stream": True}).encode()
    with socket.create_connection((fake.host, fake.port), timeout=5) as sock:
        sock.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        raw = b""
        while not raw.endswith(b"\r\n0\r\n\r\n"):
            data = sock.recv(65536)
            assert data, "connection closed before the end of the body"
            raw += data
    body_start = raw.index(b"\r\n\r\n") + 4
    pieces, pos = [], body_start
    while True:
        eol = raw.index(b"\r\n", pos)
        size = int(raw[pos:eol], 16)
        if size == 0:
            return pieces
        pieces.append(raw[eol + 2:eol + 2 + size])
        pos = eol + 4 + size


# --------------------------------------------------------------------------- Responses API


def test_responses_stream_text_reasoning_usage_and_request_log(fake):
    events = _events(fake, Scenario(text="Hello there, world.", reasoning="Let me think it over."),
                     instructions="Be brief")
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"]
    assert types[-1] == "response.completed"
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert _joined(events, "response.output_text.delta") == "Hello there, world."
    assert _of(events, "response.output_text.done")[0].text == "Hello there, world."
    assert _joined(events, "response.reasoning_summary_text.delta") == "Let me think it over."
    assert _of(events, "response.reasoning_summary_text.done")[0].text == "Let me think it over."
    # The reasoning item comes first, the message after it.
    assert types.index("response.reasoning_summary_text.delta") < types.index("response.output_text.delta")
    added = [e.item.type for e in _of(events, "response.output_item.added")]
    assert added == ["reasoning", "message"]
    final = events[-1].response
    assert final.status == "completed" and final.id.startswith("resp_fake_")
    assert final.output_text == "Hello there, world."
    assert final.usage.output_tokens == 3 + 5
    assert final.usage.output_tokens_details.reasoning_tokens == 5
    assert final.usage.input_tokens == (len("Say hello please") // 4 + 1) + (len("Be brief") // 4 + 1)
    assert final.usage.total_tokens == final.usage.input_tokens + final.usage.output_tokens
    req = fake.requests[-1]
    assert req.path == "/v1/responses"
    assert req.body["input"] == INPUT and req.body["store"] is False and req.body["stream"] is True


def test_responses_refusal(fake):
    events = _events(fake, Scenario(refusal="I can't help with that."))
    assert _joined(events, "response.refusal.delta") == "I can't help with that."
    assert _of(events, "response.refusal.done")[0].refusal == "I can't help with that."
    assert _of(events, "response.output_text.delta") == []
    part = events[-1].response.output[0].content[0]
    assert (part.type, part.refusal) == ("refusal", "I can't help with that.")


@pytest.mark.parametrize("finish, reason", [("length", "max_output_tokens"), ("content_filter", "content_filter")])
def test_responses_incomplete(fake, finish, reason):
    events = _events(fake, Scenario(text="cut off here", finish_reason=finish))
    assert events[-1].type == "response.incomplete"
    assert events[-1].response.status == "incomplete"
    assert events[-1].response.incomplete_details.reason == reason
    assert _joined(events, "response.output_text.delta") == "cut off here"
    assert _of(events, "response.completed") == []


def test_responses_tool_calls_are_sequential_function_call_items(fake):
    events = _events(fake, Scenario(tool_calls=CALLS, tool_args_piece=4))
    assert _of(events, "response.output_text.delta") == []  # no text without text_with_tools
    added = [e.item for e in _of(events, "response.output_item.added")]
    assert [(i.type, i.name, i.arguments, i.status) for i in added] == [
        ("function_call", "get_weather", "", "in_progress"), ("function_call", "get_time", "", "in_progress")]
    assert added[0].call_id == "call_a" and added[1].call_id.startswith("call_")
    for item, call in zip(added, CALLS):
        pieces = [e.delta for e in _of(events, "response.function_call_arguments.delta") if e.item_id == item.id]
        assert len(pieces) > 1 and all(len(p) <= 4 for p in pieces)
        assert json.loads("".join(pieces)) == json.loads(call["arguments"])
    # Sequential: every piece of the first call before any of the second.
    owners = [e.item_id for e in _of(events, "response.function_call_arguments.delta")]
    assert owners == sorted(owners)
    done = [e.item for e in _of(events, "response.output_item.done")]
    assert [(d.status, d.arguments) for d in done] == [("completed", c["arguments"]) for c in CALLS]
    assert events[-1].type == "response.completed"
    assert [o.type for o in events[-1].response.output] == ["function_call", "function_call"]


def test_responses_failed_event_is_yielded_not_raised(fake):
    events = _events(fake, Scenario(text="a b c d", fault="failed", fault_after=2,
                                    error_code="overloaded", error_message="try later"))
    assert events[-1].type == "response.failed"
    assert events[-1].response.status == "failed"
    assert (events[-1].response.error.code, events[-1].response.error.message) == ("overloaded", "try later")
    assert _joined(events, "response.output_text.delta") == "a b "
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_responses_error_event_is_yielded_and_ends_the_stream(fake):
    events = _events(fake, Scenario(text="a b c d", fault="error_event", fault_after=1,
                                    error_code="server_busy", error_message="overloaded"))
    assert events[-1].type == "error"
    assert (events[-1].code, events[-1].message, events[-1].param) == ("server_busy", "overloaded", None)
    assert _joined(events, "response.output_text.delta") == "a "
    assert _of(events, "response.completed") == []


def test_responses_unknown_event_passes_through_and_the_stream_goes_on(fake):
    events = _events(fake, Scenario(text="a b c d", fault="unknown_event", fault_after=2))
    types = [e.type for e in events]
    assert "response.future_feature" in types
    deltas_before = types[:types.index("response.future_feature")].count("response.output_text.delta")
    assert deltas_before == 2
    assert _joined(events, "response.output_text.delta") == "a b c d"
    assert types[-1] == "response.completed"


def test_responses_no_finish_and_malformed(fake):
    events = _events(fake, Scenario(text="a b c d", fault="no_finish", fault_after=3))
    assert _joined(events, "response.output_text.delta") == "a b c "
    assert not {"response.completed", "response.incomplete"} & {e.type for e in events}
    with pytest.raises(json.JSONDecodeError):
        _events(fake, Scenario(fault="malformed"))


def test_responses_usage_false_and_non_streaming(fake):
    events = _events(fake, Scenario(text="one two", usage=False))
    assert events[-1].type == "response.completed" and events[-1].response.usage is None
    fake.enqueue(Scenario(text="whole reply", reasoning="hmm", tool_calls=CALLS[:1], text_with_tools=True))
    with _client(fake) as client:
        response = client.responses.create(model="fake-model", input="hi there", store=False)
    assert response.status == "completed" and response.model == "fake-model"
    assert [o.type for o in response.output] == ["reasoning", "function_call", "message"]
    assert response.output_text == "whole reply"
    assert response.output[0].summary[0].text == "hmm"
    assert response.output[1].arguments == CALLS[0]["arguments"]
    assert response.usage.input_tokens == len("hi there") // 4 + 1
    assert response.usage.output_tokens == 3


def test_responses_errors_share_the_chat_queue(fake):
    fake.enqueue(Scenario(status=429, error_code="rate_limit_exceeded"), Scenario(reject_stream=True),
                 Scenario(text="chat turn"), Scenario(json_body=True, text="as json"))
    with _client(fake) as client:
        with pytest.raises(openai.RateLimitError):
            client.responses.create(model="m", input="x", stream=True)
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.create(model="m", input="x", stream=True)
        assert info.value.param == "stream"
        completion = client.chat.completions.create(model="m", messages=MESSAGES)
        assert completion.choices[0].message.content == "chat turn"
        assert list(client.responses.create(model="m", input="x", stream=True)) == []  # a JSON body, no events
    assert [r.path for r in fake.requests] == ["/v1/responses"] * 2 + ["/v1/chat/completions", "/v1/responses"]


def test_responses_drop_raises_connection_error(fake):
    fake.enqueue(Scenario(text="a b c", fault="drop", fault_after=1))
    seen: list[Any] = []
    with pytest.raises(openai.APIConnectionError), _client(fake) as client:
        for event in client.responses.create(model="m", input="x", stream=True):
            seen.append(event)
    assert _joined(seen, "response.output_text.delta") == "a "


# --------------------------------------------------------------------------- Chat Completions shapes


@pytest.mark.parametrize("shape", ["reasoning_content", "reasoning"])
def test_chat_reasoning_field_shapes(fake, shape):
    chunks = _typed_chunks(fake, Scenario(text="The answer.", reasoning="First I think.", reasoning_shape=shape))
    reasoning = [getattr(c.choices[0].delta, shape, None) for c in chunks if c.choices]
    assert "".join(r for r in reasoning if r) == "First I think."
    other = "reasoning" if shape == "reasoning_content" else "reasoning_content"
    assert all(getattr(c.choices[0].delta, other, None) is None for c in chunks if c.choices)
    assert _text(chunks) == "The answer."
    first_text = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    last_reasoning = max(i for i, c in enumerate(chunks) if c.choices and getattr(c.choices[0].delta, shape, None))
    assert last_reasoning < first_text
    with _client(fake) as client:
        fake.enqueue(Scenario(text="The answer.", reasoning="First I think.", reasoning_shape=shape))
        message = client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message
    assert (message.content, getattr(message, shape)) == ("The answer.", "First I think.")


def test_chat_think_tags_split_across_chunks(fake):
    sc = Scenario(text="The answer.", reasoning="Hmm, let me see.", reasoning_shape="think_tags")
    chunks = _typed_chunks(fake, sc)
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert "".join(contents) == "<think>Hmm, let me see.</think>The answer."
    assert "<think>" not in contents and not any("<think>" in c for c in contents)  # the tag arrives split
    with _client(fake) as client:
        fake.enqueue(Scenario(text="A.", reasoning="R.", reasoning_shape="think_tags"))
        assert client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message.content == \
            "<think>R.</think>A."


def test_chat_parts_shape_and_content_parts(fake):
    chunks = _raw_chunks(fake, Scenario(text="The answer.", reasoning="I think.", reasoning_shape="parts"))
    parts = [p for d in _deltas(chunks) if isinstance(d.get("content"), list) for p in d["content"]]
    assert "".join(p["thinking"] for p in parts if p["type"] == "thinking") == "I think."
    assert "".join(p["text"] for p in parts if p["type"] == "text") == "The answer."
    assert [p["type"] for p in parts] == ["thinking"] * 2 + ["text"] * 2
    chunks = _raw_chunks(fake, Scenario(text="Only text here.", content_parts=True))
    lists = [d["content"] for d in _deltas(chunks) if d.get("content")]
    assert lists and all(isinstance(x, list) and x[0]["type"] == "text" for x in lists)
    assert "".join(x[0]["text"] for x in lists) == "Only text here."
    with _client(fake) as client:
        fake.enqueue(Scenario(text="Text.", reasoning="Why.", content_parts=True))
        body = client.post("/chat/completions", cast_to=object, body={"model": "m", "messages": MESSAGES})
    assert body["choices"][0]["message"]["content"] == [{"type": "thinking", "thinking": "Why."},
                                                        {"type": "text", "text": "Text."}]


def test_chat_n_choices_interleave_and_each_finish(fake):
    chunks = _typed_chunks(fake, Scenario(text="one two three", choices=2), n=2)
    indexes = [c.choices[0].index for c in chunks if c.choices and c.choices[0].delta.content]
    assert indexes == [0, 1, 0, 1, 0, 1]
    by_index = {k: "".join(c.choices[0].delta.content or "" for c in chunks if c.choices and c.choices[0].index == k)
                for k in (0, 1)}
    assert by_index == {0: "one two three", 1: "OTHER1 " * 3}
    finishes = [(c.choices[0].index, c.choices[0].finish_reason) for c in chunks if c.choices[0].finish_reason]
    assert finishes == [(0, "stop"), (1, "stop")]
    with _client(fake) as client:
        fake.enqueue(Scenario(text="one two", choices=2))
        completion = client.chat.completions.create(model="m", messages=MESSAGES, n=2)
    assert [c.message.content for c in completion.choices] == ["one two", "OTHER1 OTHER1 "]


def test_chat_tool_call_fragments_interleave_and_reassemble(fake):
    chunks = _typed_chunks(fake, Scenario(tool_calls=CALLS, tool_args_piece=5))
    calls: dict[int, dict[str, str]] = {}
    order = []
    for c in chunks:
        for frag in (c.choices[0].delta.tool_calls or []) if c.choices else []:
            assert c.choices[0].delta.content is None
            call = calls.setdefault(frag.index, {"id": "", "name": "", "arguments": ""})
            if frag.id:
                assert not call["id"] and frag.type == "function"  # id only in the first fragment
                call["id"], call["name"] = frag.id, frag.function.name
            call["arguments"] += frag.function.arguments or ""
            order.append(frag.index)
    assert calls[0]["id"] == "call_a" and calls[1]["id"].startswith("call_")
    assert [calls[i]["name"] for i in (0, 1)] == ["get_weather", "get_time"]
    assert [json.loads(calls[i]["arguments"]) for i in (0, 1)] == [json.loads(c["arguments"]) for c in CALLS]
    assert order[:4] == [0, 1, 0, 1]  # round-robin, not one call after the other
    assert _text(chunks) == ""
    assert [c.choices[0].finish_reason for c in chunks if c.choices[0].finish_reason] == ["tool_calls"]
    with _client(fake) as client:
        fake.enqueue(Scenario(tool_calls=CALLS))
        message = client.chat.completions.create(model="m", messages=MESSAGES).choices[0].message
    assert message.content is None
    assert [(t.id, t.function.name, t.function.arguments) for t in message.tool_calls][0] == \
        ("call_a", "get_weather", CALLS[0]["arguments"])


def test_chat_empty_text_streams_no_content_and_finishes(fake):
    assert Scenario(text="").token_list() == []
    chunks = _typed_chunks(fake, Scenario(text=""))
    assert [c.choices[0].delta.content for c in chunks] == ["", None]  # role chunk, finish chunk
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_keepalive_and_leading_blank_lines(fake):
    sc = Scenario(text="a b c", keepalive=True, leading_blank_lines=True)
    pieces = _wire_bytes(fake, sc)
    assert pieces[0] == b"\n\n" and pieces.count(b": keep-alive\n\n") == 3
    assert _text(_typed_chunks(fake, sc)) == "a b c"


def test_chat_split_utf8_events_still_decode(fake):
    text = "Grüße, 世界! Ça và? ✓"  # a multi-byte character in every token
    pieces = _wire_bytes(fake, Scenario(text=text, split_utf8=True))
    broken = 0
    for piece in pieces:
        try:
            piece.decode()
        except UnicodeDecodeError:
            broken += 1
    assert broken >= 2 * len(Scenario(text=text).token_list())  # both halves of every token event
    assert split_chunks(b"4\r\nab\xc3\xa9\r\n") == (b"3\r\nab\xc3\r\n", b"1\r\n\xa9\r\n")
    assert _text(_typed_chunks(fake, Scenario(text=text, split_utf8=True))) == text


def test_chat_azure_filter_chunks(fake):
    chunks = _typed_chunks(fake, Scenario(text="a b c d", azure_filter=True))
    empty = [i for i, c in enumerate(chunks) if c.choices == []]
    assert empty[0] == 0 and len(empty) == 2 and 0 < empty[1] < len(chunks) - 1
    assert chunks[0].prompt_filter_results[0]["prompt_index"] == 0
    assert _text(chunks) == "a b c d"


def test_chat_event_error_line_and_failed_raise_api_error(fake):
    for fault in ("event_error_line", "failed"):
        fake.enqueue(Scenario(text="a b c", fault=fault, fault_after=1, error_message="boom", error_code="x1"))
        seen: list[Any] = []
        with pytest.raises(openai.APIError) as info, _client(fake) as client:
            for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
                seen.append(chunk)
        assert type(info.value) is openai.APIError
        assert info.value.message == "boom" and info.value.body["code"] == "x1"
        assert _text(seen) == "a "


def test_chat_unknown_event_sends_nothing_extra(fake):
    sc = Scenario(text="a b c", fault="unknown_event", fault_after=1)
    chunks = _typed_chunks(fake, sc)
    assert _text(chunks) == "a b c" and len(chunks) == 1 + 3 + 1


def test_scenario_rejects_unknown_reasoning_shape():
    with pytest.raises(ValueError):
        Scenario(reasoning_shape="telepathy")
