"""Replies in Chat Completions' shapes: the SSE chunks of a stream, or one object.

Our extras ride in fields an OpenAI client ignores: `reasoning_content` beside
`content` (as DeepSeek and vLLM send it), and a top-level `assistant` object with the
saved chat's id, the server's tool steps and the document sources.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..domain.reply import Reply
from .progress import Delta, reasoning_text, sources_records, step_record

DONE = b"data: [DONE]\n\n"


def finish_reason(reply: Reply) -> str:
    if reply.handed_back:
        return "tool_calls"
    return {"truncated": "length", "flagged": "content_filter"}.get(reply.outcome, "stop")


def usage(reply: Reply) -> dict[str, int]:
    prompt, completion = reply.prompt_tokens or 0, reply.completion_tokens or 0
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}


def tool_calls(reply: Reply) -> list[dict[str, Any]]:
    return [{"index": i, "id": c.call_id, "type": "function",
             "function": {"name": c.name, "arguments": c.arguments}}
            for i, c in enumerate(reply.handed_back)]


def extras(reply: Reply, chat: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if chat:
        found["chat"] = chat
    steps = [step_record(s) for s in reply.steps if s.kind == "tool"]
    if steps:
        found["steps"] = steps
    if reply.sources:
        found["sources"] = sources_records(reply)
    return found


class ChatChunks:
    """One stream's chunks; each is `data: {json}\\n\\n` bytes."""

    def __init__(self, model: str, chat: str | None = None) -> None:
        self.chat = chat
        # Everything before a chunk's delta is the same for the whole stream.
        self._head = ('data: {"id":' + json.dumps(f"chatcmpl-{uuid.uuid4().hex}")
                      + ',"object":"chat.completion.chunk","created":' + str(int(time.time()))
                      + ',"model":' + json.dumps(model) + ',')

    def _chunk(self, delta: str, finish: str | None = None, extra: str = "") -> bytes:
        return (self._head + '"choices":[{"index":0,"delta":' + delta + ',"finish_reason":'
                + (json.dumps(finish) if finish else "null") + "}]" + extra + "}\n\n").encode()

    def first(self) -> bytes:
        extra = ',"assistant":' + json.dumps({"chat": self.chat}) if self.chat else ""
        return self._chunk('{"role":"assistant","content":""}', extra=extra)

    def text(self, text: str) -> bytes:
        return self._chunk('{"content":' + json.dumps(text) + "}")

    def delta(self, delta: Delta) -> bytes:
        out = b""
        if delta.reasoning:
            out += self._chunk('{"reasoning_content":' + json.dumps(delta.reasoning) + "}")
        for step in delta.steps:
            out += self._chunk("{}", extra=',"assistant":' + json.dumps(
                {"step": step_record(step)}))
        if delta.text:
            out += self.text(delta.text)
        return out

    def last(self, reply: Reply, include_usage: bool) -> bytes:
        out = b""
        calls = tool_calls(reply)
        if calls:
            out += self._chunk(json.dumps({"tool_calls": calls}))
        extra = {"sources": sources_records(reply)} if reply.sources else {}
        out += self._chunk("{}", finish_reason(reply),
                           ',"assistant":' + json.dumps(extra) if extra else "")
        if include_usage:
            out += (self._head + '"choices":[],"usage":' + json.dumps(usage(reply))
                    + "}\n\n").encode()
        return out + DONE

    def error(self, message: str, code: str) -> bytes:
        """Ends the stream: the SDK raises a chunk that carries an `error`."""
        return ("data: " + json.dumps({"error": {"message": message, "type": "server_error",
                                                 "param": None, "code": code}})
                + "\n\n").encode()


def completion(reply: Reply, chat: str | None) -> dict[str, Any]:
    """The whole reply as one chat.completion object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None,
                               "refusal": None}
    reasoning = reasoning_text(reply)
    if reasoning:
        message["reasoning_content"] = reasoning
    if reply.handed_back:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"}
                                 for c in tool_calls(reply)]
    body: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion",
        "created": int(time.time()), "model": reply.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(reply),
                     "logprobs": None}],
        "usage": usage(reply)}
    found = extras(reply, chat)
    if found:
        body["assistant"] = found
    return body
