"""Replies in the Responses API's shapes: a stream of typed events, or one response.

Server-side tool calls are `mcp_call` output items, as OpenAI shows its own remote MCP
tools, and a call that waits for the user's answer first adds an `mcp_approval_request`
item whose id is the call's id (to send to /v1/assistant/tool_approvals); reasoning is
a `reasoning` item's summary; the caller's own tools come back as `function_call` items.
The saved chat's id and the document sources ride in a top-level
`assistant` object, which an OpenAI client ignores.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ..domain.reply import Reply, Step
from .progress import Delta, reasoning_text, sources_records, step_status


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def usage(reply: Reply) -> dict[str, Any]:
    prompt, completion = reply.prompt_tokens or 0, reply.completion_tokens or 0
    return {"input_tokens": prompt, "output_tokens": completion,
            "total_tokens": prompt + completion, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0}}


def status(reply: Reply) -> tuple[str, dict[str, str] | None]:
    if reply.outcome == "truncated":
        return "incomplete", {"reason": "max_output_tokens"}
    if reply.outcome == "flagged":
        return "incomplete", {"reason": "content_filter"}
    return "completed", None


def tool_item(step: Step, item_id: str) -> dict[str, Any]:
    state = step_status(step)
    item: dict[str, Any] = {"id": item_id, "type": "mcp_call", "name": step.name,
                            "arguments": step.arguments, "server_label": step.server or "assistant",
                            "status": "calling" if state == "awaiting_approval" else state,
                            "output": None, "error": None}
    if step.done:
        item["output" if not step.failed else "error"] = step.text
    if step.approval is not None:
        item["approval"] = step.approval
        item["approval_request_id"] = step.call_id
    return item


def approval_request_item(step: Step) -> dict[str, Any]:
    return {"id": step.call_id, "type": "mcp_approval_request", "name": step.name,
            "arguments": step.arguments, "server_label": step.server or "assistant"}


def message_item(item_id: str, text: str, state: str = "completed") -> dict[str, Any]:
    return {"id": item_id, "type": "message", "role": "assistant", "status": state,
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def reasoning_item(item_id: str, text: str) -> dict[str, Any]:
    return {"id": item_id, "type": "reasoning",
            "summary": [{"type": "summary_text", "text": text}] if text else []}


def call_items(reply: Reply) -> list[dict[str, Any]]:
    return [{"id": _id("fc"), "type": "function_call", "call_id": c.call_id, "name": c.name,
             "arguments": c.arguments, "status": "completed"} for c in reply.handed_back]


def response(response_id: str, created: int, model: str, state: str,
             output: list[dict[str, Any]], reply: Reply | None = None,
             chat: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": response_id, "object": "response", "created_at": created, "status": state,
        "model": model, "output": output, "error": None, "incomplete_details": None,
        "instructions": None, "metadata": {}, "parallel_tool_calls": True,
        "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}},
        "usage": usage(reply) if reply is not None else None}
    extra: dict[str, Any] = {}
    if chat:
        extra["chat"] = chat
    if reply is not None:
        body["status"], body["incomplete_details"] = status(reply)
        if reply.sources:
            extra["sources"] = sources_records(reply)
    if extra:
        body["assistant"] = extra
    return body


def whole_response(reply: Reply, chat: str | None) -> dict[str, Any]:
    """The whole reply as one response object."""
    output: list[dict[str, Any]] = []
    reasoning = reasoning_text(reply)
    if reasoning:
        output.append(reasoning_item(_id("rs"), reasoning))
    output += [tool_item(s, _id("mcp")) for s in reply.steps if s.kind == "tool"]
    if reply.text:
        output.append(message_item(_id("msg"), reply.text))
    output += call_items(reply)
    return response(_id("resp"), int(time.time()), reply.model, "completed", output, reply,
                    chat)


class ResponseEvents:
    """One stream's events; each is `event: TYPE\\ndata: {json}\\n\\n` bytes."""

    def __init__(self, model: str, chat: str | None = None) -> None:
        self.id = _id("resp")
        self.created = int(time.time())
        self.model = model
        self.chat = chat
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None  # the message or reasoning being written
        self._open_text: list[str] = []
        self._steps: dict[int, int] = {}  # id() of a step -> its output index
        self._asked: set[str] = set()  # call ids whose approval request was sent

    def _event(self, kind: str, **fields: Any) -> bytes:
        fields = {"type": kind, **fields, "sequence_number": self.sequence}
        self.sequence += 1
        return f"event: {kind}\ndata: {json.dumps(fields)}\n\n".encode()

    def first(self) -> bytes:
        return self._event("response.created", response=response(
            self.id, self.created, self.model, "in_progress", [], chat=self.chat))

    def delta(self, delta: Delta) -> bytes:
        out = b""
        if delta.reasoning:
            out += self._write("reasoning", delta.reasoning)
        for step in delta.steps:
            out += self._step(step)
        if delta.text:
            out += self._write("message", delta.text)
        return out

    def _write(self, kind: str, text: str) -> bytes:
        out = b""
        if self._open is None or self._open["type"] != kind:
            out += self._close() + self._begin(kind)
        item = self._open
        assert item is not None
        self._open_text.append(text)
        index = len(self.output) - 1
        if kind == "message":
            return out + self._event("response.output_text.delta", item_id=item["id"],
                                     output_index=index, content_index=0, delta=text,
                                     logprobs=[])
        return out + self._event("response.reasoning_summary_text.delta", item_id=item["id"],
                                 output_index=index, summary_index=0, delta=text)

    def _begin(self, kind: str) -> bytes:
        item = message_item(_id("msg"), "", "in_progress") if kind == "message" \
            else reasoning_item(_id("rs"), "")
        if kind == "message":
            item["content"] = []
        self._open, self._open_text = item, []
        self.output.append(item)
        index = len(self.output) - 1
        out = self._event("response.output_item.added", output_index=index, item=item)
        if kind == "message":
            return out + self._event("response.content_part.added", item_id=item["id"],
                                     output_index=index, content_index=0,
                                     part={"type": "output_text", "text": "", "annotations": []})
        return out + self._event("response.reasoning_summary_part.added", item_id=item["id"],
                                 output_index=index, summary_index=0,
                                 part={"type": "summary_text", "text": ""})

    def _close(self) -> bytes:
        item = self._open
        if item is None:
            return b""
        self._open = None
        text = "".join(self._open_text)
        index = self.output.index(item)
        if item["type"] == "message":
            done = message_item(item["id"], text)
            out = self._event("response.output_text.done", item_id=item["id"], output_index=index,
                              content_index=0, text=text, logprobs=[])
            out += self._event("response.content_part.done", item_id=item["id"],
                               output_index=index, content_index=0, part=done["content"][0])
        else:
            done = reasoning_item(item["id"], text)
            out = self._event("response.reasoning_summary_text.done", item_id=item["id"],
                              output_index=index, summary_index=0, text=text)
            out += self._event("response.reasoning_summary_part.done", item_id=item["id"],
                               output_index=index, summary_index=0, part=done["summary"][0])
        self.output[index] = done
        return out + self._event("response.output_item.done", output_index=index, item=done)

    def _step(self, step: Step) -> bytes:
        out = b""
        index = self._steps.get(id(step))
        if index is None:
            out += self._close()
            index = self._steps[id(step)] = len(self.output)
            self.output.append(tool_item(step, _id("mcp")))
            out += self._event("response.output_item.added", output_index=index,
                               item=self.output[index])
        item = self.output[index] = tool_item(step, self.output[index]["id"])
        if step.approval == "pending" and step.call_id not in self._asked:
            self._asked.add(step.call_id)
            out += self._item(approval_request_item(step))
        if step.done:
            out += self._event("response.output_item.done", output_index=index, item=item)
        return out

    def last(self, reply: Reply, include_usage: bool = True) -> bytes:
        out = self._close()
        for item in call_items(reply):
            out += self._item(item)
        body = response(self.id, self.created, reply.model, "completed", self.output, reply,
                        self.chat)
        kind = "response.completed" if body["status"] == "completed" else "response.incomplete"
        return out + self._event(kind, response=body)

    def _item(self, item: dict[str, Any]) -> bytes:
        """A whole item at once: added, then done."""
        index = len(self.output)
        self.output.append(item)
        return (self._event("response.output_item.added", output_index=index, item=item)
                + self._event("response.output_item.done", output_index=index, item=item))

    def error(self, message: str, code: str) -> bytes:
        """Ends the stream: the SDK raises it (an event named "error" with an `error`)."""
        return self._event("error", code=code, message=message, param=None,
                           error={"type": "server_error", "code": code, "message": message})
