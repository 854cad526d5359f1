"""The Chat Completions wire format of the fake OpenAI server (fakes/fake_openai.py).

Pure data and pure functions, no I/O: the exact JSON / SSE bytes of each chat answer
to a ``Scenario`` (fakes/fake_scenario.py). The
Responses API bytes are in fakes/fake_wire_responses.py; the HTTP handler in
fakes/fake_http.py does the sending, waiting and pacing.

Chat stream (``Content-Type: text/event-stream``, chunked body), each event
``data: <json>\\n\\n``:
  1. role chunk per choice ``delta: {"role": "assistant", "content": ""}`` (sent
     right after the headers; ``first_token_delay`` is waited after it)
  2. the deltas, paced by ``rate``: ``reasoning`` tokens (shaped by
     ``reasoning_shape``), then one chunk per text token ``delta: {"content": tok}``
     (a list of parts with ``content_parts``; with ``choices`` > 1 each token is
     followed by one chunk per other choice), then ``tool_calls`` fragments
  3. a final chunk ``delta: {}`` with ``finish_reason`` per choice
  4. usage chunk ``choices: []`` when asked (``stream_options.include_usage``)
  5. ``data: [DONE]``, then the terminating zero-length chunk.
``keepalive``, ``leading_blank_lines``, ``split_utf8`` and ``azure_filter`` add
raw SSE quirks around those events.

Faults (``Scenario.fault``) are applied before delta ``fault_after`` of a stream
(every delta counts: reasoning, text, other choices' round, tool fragment), or
before the finish when there are fewer. For a non-streaming answer only "drop"
(close before any response) and "stall" (stall before the headers) apply. On
the chat endpoint "failed" is sent as "error_event", and "unknown_event" sends
nothing extra.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Iterable, Iterator

from fakes.fake_scenario import Scenario

__all__ = [
    "HEAD", "DELTA", "OTHER", "END", "Wire", "END_OF_BODY", "KEEPALIVE", "MALFORMED_EVENT",
    "NOT_A_CHUNK_EVENT", "StreamEvents", "chat_fault", "chat_stream", "completion_payload",
    "error_chunk_fault", "error_event_fault", "error_payload", "http_chunk", "model_object",
    "models_list", "prompt_tokens", "split_chunks", "sse_event", "usage_payload", "wants_usage",
]

# What a stream event is to the player: HEAD before first_token_delay, DELTA paced
# and counted for fault_after, END the first event at which a late fault fires.
HEAD, DELTA, OTHER, END = "head", "delta", "other", "end"
# What to send for one event: bytes, pieces to send with a flush between them,
# or a function making the bytes at sending time.
Wire = bytes | tuple[bytes, ...] | Callable[[], bytes]


# ---------------------------------------------------------------------- JSON bodies
def error_payload(
    message: str,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """An OpenAI-style JSON error body."""
    return {"error": {"message": message, "type": type_, "code": code, "param": param}}


def model_object(model: str) -> dict[str, Any]:
    """The body of ``GET /v1/models/{model}`` (and one entry of the list)."""
    return {"id": model, "object": "model", "created": 0, "owned_by": "fake"}


def models_list(models: list[str]) -> dict[str, Any]:
    """The body of ``GET /v1/models``."""
    return {"object": "list", "data": [model_object(m) for m in models]}


def prompt_tokens(items: Iterable[Any]) -> int:
    """About one token per 4 characters (+1) of each item: a string, or a dict whose
    ``content`` is a string or a list of parts with "text"."""
    total = 0
    for item in items:
        content = item.get("content") if isinstance(item, dict) else item
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        total += len(content if isinstance(content, str) else "") // 4 + 1
    return total


def usage_payload(body: dict, completion_tokens: int) -> dict[str, int]:
    """Chat token usage, prompt tokens counted over the messages."""
    prompt = prompt_tokens(body.get("messages") or [])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


def wants_usage(sc: Scenario, body: dict) -> bool:
    """Whether a stream ends with a usage chunk (``sc.usage`` overrides the request)."""
    stream_options = body.get("stream_options") or {}
    return sc.usage if sc.usage is not None else bool(
        isinstance(stream_options, dict) and stream_options.get("include_usage")
    )


def _message(sc: Scenario, text: str) -> dict[str, Any]:
    if sc.refusal is not None:
        return {"role": "assistant", "content": None, "refusal": text}
    reasoning = sc.reasoning
    content: Any = text if text or not sc.tool_calls else None
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if sc.content_parts or sc.reasoning_shape == "parts":
        parts = [{"type": "thinking", "thinking": reasoning}] if reasoning else []
        message["content"] = parts + ([{"type": "text", "text": text}] if text else [])
    elif reasoning and sc.reasoning_shape == "think_tags":
        message["content"] = f"<think>{reasoning}</think>{text}"
    elif reasoning:
        message[sc.reasoning_shape] = reasoning
    if sc.tool_calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
            for c in sc.calls()
        ]
    return message


def completion_payload(
    sc: Scenario, body: dict, tokens: list[str], cid: str, created: int
) -> dict[str, Any]:
    """A plain (non-streaming) ``chat.completion`` object for ``tokens``."""
    choices = [{"index": 0, "message": _message(sc, "".join(tokens)), "logprobs": None,
                "finish_reason": sc.chat_finish()}]
    for k in range(1, sc.choices):
        message = {"role": "assistant", "content": f"OTHER{k} " * len(tokens), "refusal": None}
        choices.append({"index": k, "message": message, "logprobs": None, "finish_reason": sc.finish_reason})
    completion_tokens = len(tokens) * sc.choices + len(sc.reasoning_tokens())
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": body.get("model") or "fake-model",
        "choices": choices,
        "usage": None if sc.usage is False else usage_payload(body, completion_tokens),
        "system_fingerprint": None,
    }


# ---------------------------------------------------------------------- stream bytes
END_OF_BODY = b"0\r\n\r\n"  # the terminating zero-length chunk of a chunked body


def http_chunk(payload: bytes) -> bytes:
    """``payload`` framed as one HTTP/1.1 chunk."""
    return b"%x\r\n%s\r\n" % (len(payload), payload)


def sse_event(data: str) -> bytes:
    """One server-sent event ``data: <data>\\n\\n``, framed as one HTTP chunk."""
    return http_chunk(b"data: " + data.encode() + b"\n\n")


KEEPALIVE = http_chunk(b": keep-alive\n\n")
_PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": {
    k: {"filtered": False, "severity": "safe"} for k in ("hate", "self_harm", "sexual", "violence")}}]


def split_chunks(framed: bytes) -> tuple[bytes, ...]:
    """Every HTTP chunk of ``framed`` re-framed as two, cut just after the first byte
    of a multi-byte UTF-8 character (in the middle when there is none)."""
    out: list[bytes] = []
    pos = 0
    while pos < len(framed):
        eol = framed.index(b"\r\n", pos)
        size = int(framed[pos:eol], 16)
        payload = framed[eol + 2:eol + 2 + size]
        pos = eol + 4 + size
        if size < 2:
            out.append(http_chunk(payload) if size else END_OF_BODY)
            continue
        cut = next((i + 1 for i, b in enumerate(payload) if b >= 0xC0), len(payload) // 2)
        out += [http_chunk(payload[:cut]), http_chunk(payload[cut:])]
    return tuple(out)


class StreamEvents:
    """The events of one streamed ``chat.completion.chunk`` answer."""

    def __init__(self, cid: str, model: str, created: int, refusal: bool, ascii: bool = True) -> None:
        self.refusal = refusal
        self.ascii = ascii  # False: non-ASCII text goes raw (UTF-8) on the wire
        self._head = (
            f'{{"id":{json.dumps(cid)},"object":"chat.completion.chunk",'
            f'"created":{created},"model":{json.dumps(model)},'
        )
        self._delta_key = '{"content":null,"refusal":' if refusal else '{"content":'

    def _dumps(self, obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=self.ascii, separators=(",", ":"))

    def _choice(self, delta_json: str, finish: str | None = None, index: int = 0) -> bytes:
        fin = "null" if finish is None else json.dumps(finish)
        return sse_event(f'{self._head}"choices":[{{"index":{index},"delta":{delta_json},'
                         f'"logprobs":null,"finish_reason":{fin}}}]}}')

    def role(self, index: int = 0) -> bytes:
        if self.refusal:
            return self._choice('{"role":"assistant","content":null,"refusal":""}', index=index)
        return self._choice('{"role":"assistant","content":""}', index=index)

    def token(self, tok: str) -> bytes:
        return self._choice(self._delta_key + self._dumps(tok) + "}")

    def delta(self, delta: dict[str, Any], index: int = 0) -> bytes:
        return self._choice(self._dumps(delta), index=index)

    def finish(self, finish_reason: str, index: int = 0) -> bytes:
        return self._choice("{}", finish_reason, index)

    def usage(self, usage: dict[str, int]) -> bytes:
        return sse_event(f'{self._head}"choices":[],"usage":{self._dumps(usage)}}}')

    def no_choices(self) -> bytes:
        """An Azure-style chunk with empty ``choices`` (sent mid-stream)."""
        return sse_event(f'{self._head}"choices":[],"usage":null}}')

    def done(self) -> bytes:
        """``data: [DONE]`` and the end of the chunked body."""
        return sse_event("[DONE]") + END_OF_BODY


def _chat_deltas(sc: Scenario, ev: StreamEvents) -> Iterator[bytes]:
    """The paced deltas of a chat stream, one (or, with choices > 1, a round of) event(s) each."""
    shape = sc.reasoning_shape
    reasoning = sc.reasoning_tokens()
    if reasoning and shape == "think_tags":
        for tok in ["<thi", "nk>", *reasoning, "</think", ">"]:
            yield ev.delta({"content": tok})
    else:
        for tok in reasoning:
            if shape == "parts":
                yield ev.delta({"content": [{"type": "thinking", "thinking": tok}]})
            else:
                yield ev.delta({"content": None, shape: tok})
    as_parts = sc.content_parts or shape == "parts"

    def text(tok: str, k: int) -> bytes:
        if as_parts:
            return ev.delta({"content": [{"type": "text", "text": tok}]}, k)
        return ev.token(tok) if k == 0 else ev.delta({"content": tok}, k)

    for tok in sc.token_list():
        yield b"".join(text(tok if k == 0 else f"OTHER{k} ", k) for k in range(sc.choices))
    calls, step = sc.calls(), max(sc.tool_args_piece, 1)
    pieces = [[c["arguments"][i:i + step] for i in range(0, len(c["arguments"]), step)] for c in calls]
    for i, c in enumerate(calls):
        frag = {"index": i, "id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": ""}}
        yield ev.delta({"content": None, "tool_calls": [frag]})
    for n in range(max(map(len, pieces), default=0)):  # round-robin over the calls
        for i, call_pieces in enumerate(pieces):
            if n < len(call_pieces):
                frag = {"index": i, "function": {"arguments": call_pieces[n]}}
                yield ev.delta({"content": None, "tool_calls": [frag]})


def chat_stream(sc: Scenario, body: dict, cid: str, created: int) -> Iterator[tuple[str, Wire]]:
    """Every event of a streamed chat answer, as (HEAD | DELTA | OTHER | END, bytes to send);
    a tuple of bytes (``split_utf8``) is sent with a flush between the pieces."""
    ev = StreamEvents(cid, body.get("model") or "fake-model", created, sc.refusal is not None,
                      ascii=not sc.split_utf8)
    wire = split_chunks if sc.split_utf8 else (lambda b: b)
    if sc.leading_blank_lines:
        yield HEAD, http_chunk(b"\n\n")
    if sc.azure_filter:
        yield HEAD, wire(sse_event(json.dumps({"choices": [], "created": 0, "id": "", "model": "",
                                               "object": "", "prompt_filter_results": _PROMPT_FILTER})))
    for k in range(sc.choices):
        yield HEAD, wire(ev.role(k))
    deltas: Iterable[bytes] = _chat_deltas(sc, ev)
    middle = -1
    if sc.azure_filter:
        deltas = list(deltas)
        middle = len(deltas) // 2
    for i, data in enumerate(deltas):
        yield DELTA, wire(data)
        if i == middle:
            yield OTHER, wire(ev.no_choices())
        if sc.keepalive:
            yield OTHER, KEEPALIVE
    yield END, wire(ev.finish(sc.chat_finish()))
    for k in range(1, sc.choices):
        yield OTHER, wire(ev.finish(sc.finish_reason, k))
    if wants_usage(sc, body):
        yield OTHER, wire(ev.usage(usage_payload(body, sc.output_tokens())))
    yield OTHER, wire(ev.done())


def error_event_fault(sc: Scenario) -> bytes:
    """The "error_event" fault: an ``{"error": ...}`` event, then the end of the body."""
    err = {"message": sc.error_message, "type": sc.error_type, "code": sc.error_code}
    return sse_event(json.dumps({"error": err})) + END_OF_BODY


def error_chunk_fault(sc: Scenario) -> bytes:
    """The "error_chunk" fault: a vLLM-style error object, ``[DONE]``, end of body."""
    # No "error" key: the SDK raises APIError for any event whose "error"
    # is truthy, so that shape would just duplicate "error_event". This
    # (vLLM-style) error object is yielded as a chunk with choices=None.
    err_chunk = {"object": "error", "type": "error", "message": sc.error_message, "code": sc.error_code}
    return sse_event(json.dumps(err_chunk)) + sse_event("[DONE]") + END_OF_BODY


MALFORMED_EVENT = http_chunk(b"data: {not json\n\n")  # the "malformed" fault
NOT_A_CHUNK_EVENT = http_chunk(b'data: {"choices": "oops"}\n\n')  # the "not_a_chunk" fault: JSON


def chat_fault(sc: Scenario, fault: str) -> tuple[bytes, bool]:
    """The bytes of a chat stream fault (not "drop"/"stall") and whether the body ends there."""
    if fault in ("error_event", "failed"):
        return error_event_fault(sc), True
    if fault == "error_chunk":
        return error_chunk_fault(sc), True
    if fault == "event_error_line":
        err = json.dumps({"error": {"message": sc.error_message, "type": sc.error_type, "code": sc.error_code}})
        return http_chunk(b"event: error\ndata: " + err.encode() + b"\n\n") + END_OF_BODY, True
    if fault == "malformed":
        return MALFORMED_EVENT, False
    if fault == "not_a_chunk":
        return NOT_A_CHUNK_EVENT, False
    if fault == "no_finish":
        return END_OF_BODY, True
    return b"", False  # "unknown_event"
