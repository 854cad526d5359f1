"""The Chat Completions wire format of the fake OpenAI server (tests/fake_openai.py).

Pure data and pure functions, no I/O: what one chat completion request should
get (``Scenario``, ``FAULTS``, how a reply is split into tokens), what a request
looked like (``RecordedRequest``), and the exact JSON / SSE bytes of each answer.
The HTTP handler in tests/fake_http.py does the sending, waiting and pacing.

Stream wire format (``Content-Type: text/event-stream``, chunked body), each
event ``data: <json>\\n\\n``:
  1. role chunk   ``delta: {"role": "assistant", "content": ""}`` (sent right after
     the headers; ``first_token_delay`` is waited after it)
  2. one chunk per token ``delta: {"content": tok}`` (paced by ``rate``)
  3. final chunk ``delta: {}`` with ``finish_reason``
  4. usage chunk ``choices: []`` when asked (``stream_options.include_usage``)
  5. ``data: [DONE]``, then the terminating zero-length chunk.

Faults (``Scenario.fault``) are applied after ``fault_after`` content chunks of a
stream. For a non-streaming answer only "drop" (close before any response) and
"stall" (stall before the headers) apply; the others are ignored there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FAULTS",
    "RecordedRequest",
    "Scenario",
    "END_OF_BODY",
    "MALFORMED_EVENT",
    "NOT_A_CHUNK_EVENT",
    "StreamEvents",
    "completion_payload",
    "error_chunk_fault",
    "error_event_fault",
    "error_payload",
    "http_chunk",
    "model_object",
    "models_list",
    "sse_event",
    "usage_payload",
    "wants_usage",
]

FAULTS = ("drop", "stall", "error_event", "error_chunk", "malformed", "not_a_chunk", "no_finish")
_TOKEN_RE = re.compile(r"\S+\s*|\s+")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON (usually a dict) or None
    time: float  # time.monotonic() at arrival


@dataclass
class Scenario:
    """What the fake answers to one chat completion request. All fields optional."""

    text: str = "Hello from the fake server."
    tokens: list[str] | None = None  # explicit deltas; default: split text keeping whitespace
    n_tokens: int | None = None  # generate "w0 w1 ... " (n tokens), overriding text
    rate: float | None = None  # tokens per second; None = as fast as possible
    first_token_delay: float = 0.0  # seconds after the headers (and role chunk)
    status: int = 200  # != 200: OpenAI-style JSON error, no stream
    error_message: str = "fake error"
    error_type: str = "server_error"
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    hang_before_headers: float = 0.0
    fault: str | None = None  # one of FAULTS
    fault_after: int = 2  # content chunks sent before the fault
    stall_seconds: float = 30.0
    finish_reason: str = "stop"
    json_body: bool = False  # answer stream=true with a plain JSON ChatCompletion
    reject_stream: bool = False  # answer stream=true with HTTP 400 (non-stream gets JSON)
    usage: bool | None = None  # None: follow stream_options.include_usage; True: always; False: never
    refusal: str | None = None  # stream refusal deltas (content null) instead of content

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {FAULTS}")

    def token_list(self) -> list[str]:
        """The deltas this scenario streams ("".join(...) is the full reply)."""
        if self.refusal is not None:
            return _TOKEN_RE.findall(self.refusal)
        if self.n_tokens is not None:
            return [f"w{i} " for i in range(self.n_tokens)]
        if self.tokens is not None:
            return list(self.tokens)
        return _TOKEN_RE.findall(self.text)


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


def usage_payload(body: dict, completion_tokens: int) -> dict[str, int]:
    """Token usage: about one prompt token per 4 characters (+1) of each message."""
    prompt = 0
    for msg in body.get("messages") or []:
        content = msg.get("content") if isinstance(msg, dict) else None
        if isinstance(content, list):  # content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        prompt += len(content or "") // 4 + 1
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


def completion_payload(
    sc: Scenario, body: dict, tokens: list[str], cid: str, created: int
) -> dict[str, Any]:
    """A plain (non-streaming) ``chat.completion`` object for ``tokens``."""
    text = "".join(tokens)
    message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
    if sc.refusal is not None:
        message = {"role": "assistant", "content": None, "refusal": text}
    return {
        "id": cid,
        "object": "chat.completion",
        "created": created,
        "model": body.get("model") or "fake-model",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": sc.finish_reason}],
        "usage": None if sc.usage is False else usage_payload(body, len(tokens)),
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


class StreamEvents:
    """The events of one streamed ``chat.completion.chunk`` answer, in wire order."""

    def __init__(self, cid: str, model: str, created: int, refusal: bool) -> None:
        self.refusal = refusal
        self._head = (
            f'{{"id":{json.dumps(cid)},"object":"chat.completion.chunk",'
            f'"created":{created},"model":{json.dumps(model)},'
        )
        self._choice_head = self._head + '"choices":[{"index":0,"delta":'
        self._delta_key = '{"content":null,"refusal":' if refusal else '{"content":'

    def _choice(self, delta_json: str, finish: str | None = None) -> bytes:
        fin = "null" if finish is None else json.dumps(finish)
        return sse_event(f'{self._choice_head}{delta_json},"logprobs":null,"finish_reason":{fin}}}]}}')

    def role(self) -> bytes:
        if self.refusal:
            return self._choice('{"role":"assistant","content":null,"refusal":""}')
        return self._choice('{"role":"assistant","content":""}')

    def token(self, tok: str) -> bytes:
        return self._choice(self._delta_key + json.dumps(tok) + "}")

    def finish(self, finish_reason: str) -> bytes:
        return self._choice("{}", finish_reason)

    def usage(self, usage: dict[str, int]) -> bytes:
        usage_json = json.dumps(usage, separators=(",", ":"))
        return sse_event(f'{self._head}"choices":[],"usage":{usage_json}}}')

    def done(self) -> bytes:
        """``data: [DONE]`` and the end of the chunked body."""
        return sse_event("[DONE]") + END_OF_BODY


def error_event_fault(sc: Scenario) -> bytes:
    """The "error_event" fault: an ``{"error": ...}`` event, then the end of the body."""
    err = {"message": sc.error_message, "type": sc.error_type, "code": sc.error_code}
    return sse_event(json.dumps({"error": err})) + END_OF_BODY


def error_chunk_fault(sc: Scenario) -> bytes:
    """The "error_chunk" fault: a vLLM-style error object, ``[DONE]``, end of body."""
    # No "error" key: the SDK raises APIError for any event whose "error"
    # is truthy, so that shape would just duplicate "error_event". This
    # (vLLM-style) error object is yielded as a chunk with choices=None.
    err_chunk = {
        "object": "error",
        "type": "error",
        "message": sc.error_message,
        "code": sc.error_code,
    }
    return sse_event(json.dumps(err_chunk)) + sse_event("[DONE]") + END_OF_BODY


MALFORMED_EVENT = http_chunk(b"data: {not json\n\n")  # the "malformed" fault
NOT_A_CHUNK_EVENT = http_chunk(b'data: {"choices": "oops"}\n\n')  # the "not_a_chunk" fault: JSON
