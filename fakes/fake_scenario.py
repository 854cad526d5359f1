"""What the fake OpenAI server (fakes/fake_openai.py) is told to answer, and what it was asked.

``Scenario`` is one request's answer: its text, pacing, faults and quirks (the bytes
for it are in fakes/fake_wire.py and fakes/fake_wire_responses.py). ``RecordedRequest``
is one request as it arrived; the readers below pick tool results and images out of
its body, on either protocol.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["FAULTS", "REASONING_SHAPES", "RecordedRequest", "Scenario", "describe_images",
           "image_parts", "image_size", "tool_outputs", "data_inside"]

FAULTS = ("drop", "stall", "error_event", "error_chunk", "malformed", "not_a_chunk", "no_finish",
          "failed", "unknown_event", "event_error_line")
REASONING_SHAPES = ("reasoning_content", "reasoning", "think_tags", "parts")
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
    """What the fake answers to one chat completion or response request. All fields optional."""

    text: str = "Hello from the fake server."
    tokens: list[str] | None = None  # explicit deltas; default: split text keeping whitespace
    n_tokens: int | None = None  # generate "w0 w1 ... " (n tokens), overriding text
    rate: float | None = None  # deltas per second; None = as fast as possible
    first_token_delay: float = 0.0  # seconds after the headers (and role chunk)
    status: int = 200  # != 200: OpenAI-style JSON error, no stream
    error_message: str = "fake error"
    error_type: str = "server_error"
    error_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra response headers
    hang_before_headers: float = 0.0
    fault: str | None = None  # one of FAULTS
    fault_after: int = 2  # deltas sent before the fault
    stall_seconds: float = 30.0
    finish_reason: str = "stop"
    json_body: bool = False  # answer stream=true with a plain JSON ChatCompletion / Response
    reject_stream: bool = False  # answer stream=true with HTTP 400 (non-stream gets JSON)
    reject_tools: bool = False  # answer a request that has `tools` with HTTP 400
    echo_tool_results: bool = False  # the text is "Tool results: …" from the request's results
    reject_images: bool = False  # answer a request that has images with OpenAI's HTTP 400
    echo_images: bool = False  # the text is "Saw 1 image: image/jpeg 1024x683" from the request
    usage: bool | None = None  # None: follow stream_options.include_usage; True: always; False: never
    refusal: str | None = None  # stream refusal deltas (content null) instead of content
    reasoning: str | None = None  # reasoning text, streamed (as tokens) before the answer
    reasoning_shape: str = "reasoning_content"  # chat only, one of REASONING_SHAPES
    content_parts: bool = False  # chat: delta.content = [{"type": "text", "text": tok}]
    choices: int = 1  # chat n: choice k > 0 gets "OTHER{k} " tokens
    tool_calls: list[dict] | None = None  # [{"name", "arguments" (JSON text), "id"?}]
    tool_args_piece: int = 5  # characters of arguments per streamed fragment
    text_with_tools: bool = False  # with tool_calls: also send the text
    keepalive: bool = False  # chat: ": keep-alive" comment after every delta
    leading_blank_lines: bool = False  # chat: "\n\n" before the first event
    split_utf8: bool = False  # chat: every event in two HTTP chunks, cut inside a UTF-8 character
    azure_filter: bool = False  # chat: Azure prompt_filter_results chunk first, choices [] mid-stream

    def __post_init__(self) -> None:
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {FAULTS}")
        if self.reasoning_shape not in REASONING_SHAPES:
            raise ValueError(f"unknown reasoning_shape {self.reasoning_shape!r}; expected one of {REASONING_SHAPES}")

    def answering(self, body: Any) -> Scenario:
        """This scenario with ``reject_images`` and ``echo_images`` resolved for ``body``."""
        if not (self.reject_images or self.echo_images) or not isinstance(body, dict):
            return self
        images = image_parts(body)
        if self.reject_images and images:
            part = "input_image" if "input" in body else "image_url"
            return replace(self, reject_images=False, status=400, error_type="invalid_request_error",
                           error_code=None, error_message=f"Invalid content type. {part} is only "
                           "supported by certain models.")
        if self.echo_images:
            return replace(self, echo_images=False, text=describe_images(images))
        return self

    def token_list(self) -> list[str]:
        """The text deltas this scenario streams ("".join(...) is the full reply)."""
        if self.refusal is not None:
            return _TOKEN_RE.findall(self.refusal)
        if self.tool_calls and not self.text_with_tools:
            return []
        if self.n_tokens is not None:
            return [f"w{i} " for i in range(self.n_tokens)]
        if self.tokens is not None:
            return list(self.tokens)
        return _TOKEN_RE.findall(self.text)

    def reasoning_tokens(self) -> list[str]:
        return _TOKEN_RE.findall(self.reasoning or "")

    def calls(self) -> list[dict[str, str]]:
        """``tool_calls`` with their ids filled in ("call_fake_<i>" by default)."""
        return [{"id": c.get("id") or f"call_fake_{i}", "name": c["name"], "arguments": c["arguments"]}
                for i, c in enumerate(self.tool_calls or [])]

    def chat_finish(self) -> str:
        return "tool_calls" if self.tool_calls and self.finish_reason == "stop" else self.finish_reason

    def output_tokens(self) -> int:
        """Completion tokens: every choice's text tokens plus the reasoning tokens."""
        return len(self.token_list()) * self.choices + len(self.reasoning_tokens())


_DATA = re.compile(r"\A⟦data ([0-9a-f]{12}) from ([^\n]*)⟧\n(.*)\n⟦end of data \1⟧\Z", re.S)


def data_inside(text: str) -> str:
    """What a result marked as data holds (assistant/conversation/untrusted.py): the marking
    must be there, and its boundary the hash of the text inside."""
    match = _DATA.match(text)
    assert match is not None, f"not marked as data: {text[:80]!r}"
    inner = match[3]
    assert match[1] == hashlib.blake2b(inner.encode("utf-8", "surrogatepass"),
                                       digest_size=6).hexdigest()
    return inner


def tool_outputs(body: dict) -> list[str]:
    """The tool results a request carries, on either protocol."""
    items = body.get("messages") or body.get("input") or []
    return [str(m.get("content") if m.get("role") == "tool" else m.get("output"))
            for m in items if isinstance(m, dict)
            and (m.get("role") == "tool" or m.get("type") == "function_call_output")]


def image_parts(body: dict) -> list[str]:
    """The image URLs a request carries, on either protocol."""
    items = body.get("messages") or body.get("input") or []
    parts = [p for m in items if isinstance(m, dict) and isinstance(m.get("content"), list)
             for p in m["content"] if isinstance(p, dict)]
    urls = [p.get("image_url") for p in parts if p.get("type") in ("image_url", "input_image")]
    return [str(u.get("url") if isinstance(u, dict) else u) for u in urls]


def image_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, without decoding."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return struct.unpack(">II", data[16:24])
    pos = 2 if data.startswith(b"\xff\xd8") else len(data)
    while pos + 9 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return None


def describe_images(urls: list[str]) -> str:
    """What ``echo_images`` answers: how many images, their media types and sizes."""
    seen = []
    for url in urls:
        media_type, _, b64 = url.removeprefix("data:").partition(";base64,")
        size = image_size(base64.b64decode(b64)) if b64 else None
        seen.append(f"{media_type} {size[0]}x{size[1]}" if size else media_type)
    return f"Saw {len(urls)} image{'' if len(urls) == 1 else 's'}" + (": " + ", ".join(seen) if seen else ".")
