"""The Responses protocol: our request as `input` items, its typed events as ours.

Dispatch is on each event's `type`: failures (`error`, `response.failed`) arrive as
events, not exceptions, and unknown types are skipped. History stays ours: the whole
input is sent each time with `store: false`, never a `previous_response_id`.
"""

from __future__ import annotations

from typing import Any, AsyncGenerator

from ..domain.events import Event, Failed, Finished, ReasoningDelta, RefusalDelta, TextDelta, ToolCalls, Usage
from ..domain.failures import EMPTY, FINISH_FAILURES, MALFORMED, TRUNCATED, Failure
from ..domain.messages import Message, ModelRequest, ToolCall, ToolResult
from .base import Chunks, JsonProtocol, Upstream
from .chat_completions import data_url

PATH, ENDPOINT = "/responses", "Responses API"
MIN_OUTPUT_TOKENS = 16  # OpenAI refuses a smaller max_output_tokens
INCOMPLETE = {"max_output_tokens": FINISH_FAILURES["length"],
              "content_filter": FINISH_FAILURES["content_filter"]}


def wire_input(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    """(instructions, input items) for our messages; reasoning is never sent back."""
    instructions: list[str] = []
    items: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "system":
            instructions.append(message.text)
            continue
        images = message.images if message.role == "user" else ()
        if images:
            text: list[dict[str, Any]] = [{"type": "input_text", "text": message.text}] if message.text else []
            items.append({"role": "user", "content": text + [
                {"type": "input_image", "image_url": data_url(i)} for i in images]})
        elif message.role in ("user", "assistant") and message.text:
            items.append({"role": message.role, "content": message.text})
        for part in message.parts:
            if isinstance(part, ToolCall):
                items.append({"type": "function_call", "call_id": part.call_id,
                              "name": part.name, "arguments": part.arguments})
            elif isinstance(part, ToolResult):
                items.append({"type": "function_call_output", "call_id": part.call_id,
                              "output": part.output})
    return "\n\n".join(instructions), items


def request_body(request: ModelRequest) -> dict[str, Any]:
    instructions, items = wire_input(request.messages)
    body: dict[str, Any] = {"model": request.model, "input": items, "store": False,
                            "max_output_tokens": max(request.max_tokens, MIN_OUTPUT_TOKENS)}
    if instructions:
        body["instructions"] = instructions
    if request.reasoning:
        body["reasoning"] = {"summary": "auto"}
    else:
        body["temperature"] = request.temperature
    if request.tools:
        body["tools"] = [{"type": "function", "name": t.name, "description": t.description,
                          "parameters": t.parameters} for t in request.tools]
    return body


def _usage(response: dict[str, Any]) -> Usage | None:
    counts = response.get("usage")
    if not counts:
        return None
    return Usage(counts.get("input_tokens") or 0, counts.get("output_tokens") or 0)


def _incomplete(response: dict[str, Any]) -> Failure:
    reason = str((response.get("incomplete_details") or {}).get("reason") or "unknown")
    return INCOMPLETE.get(reason) or Failure(
        "incomplete", f"The model server ended the reply early ({reason}).")


def _tool_call(item: dict[str, Any]) -> ToolCall:
    return ToolCall(str(item.get("call_id") or item.get("id") or ""), str(item.get("name") or ""),
                    str(item.get("arguments") or ""))


async def read_events(events: Chunks, upstream: Upstream) -> AsyncGenerator[Event, None]:
    got_text = False
    calls: list[ToolCall] = []
    async for event in events:
        try:
            kind = event.get("type")
            if kind == "response.output_text.delta":
                got_text = True
                yield TextDelta(str(event["delta"]))
            elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                yield ReasoningDelta(str(event["delta"]))
            elif kind == "response.reasoning_summary_part.added" and event.get("summary_index"):
                yield ReasoningDelta("\n\n")
            elif kind == "response.refusal.delta":
                got_text = True
                yield RefusalDelta(str(event["delta"]))
            elif kind == "response.output_item.done":
                if (event.get("item") or {}).get("type") == "function_call":
                    calls.append(_tool_call(event["item"]))
            elif kind in ("response.completed", "response.incomplete"):
                response = event.get("response") or {}
                usage = _usage(response)
                if usage:
                    yield usage
                if calls:
                    yield ToolCalls(tuple(calls))
                if kind == "response.incomplete":
                    yield Failed(_incomplete(response))
                else:
                    yield Finished("tool_calls" if calls else "stop")
                return
            elif kind == "response.failed":
                yield Failed(upstream.reported((event.get("response") or {}).get("error")))
                return
            elif kind == "error":
                yield Failed(upstream.reported(event))
                return
            elif not isinstance(kind, str):
                raise TypeError("an event without a type")
        except (AttributeError, TypeError, KeyError):  # JSON, but not an event
            yield Failed(MALFORMED)
            return
    yield Failed(TRUNCATED if got_text else EMPTY)


def response_events(response: dict[str, Any]) -> list[Event]:
    """A whole Response object as the events its stream would have given."""
    events: list[Event] = []
    calls: list[ToolCall] = []
    try:
        for item in response.get("output") or []:
            kind = item.get("type")
            if kind == "reasoning":
                text = "\n\n".join(str(s.get("text") or "") for s in item.get("summary") or [])
                if text:
                    events.append(ReasoningDelta(text))
            elif kind == "function_call":
                calls.append(_tool_call(item))
            elif kind == "message":
                for part in item.get("content") or []:
                    if part.get("type") == "output_text" and part.get("text"):
                        events.append(TextDelta(str(part["text"])))
                    elif part.get("type") == "refusal" and part.get("refusal"):
                        events.append(RefusalDelta(str(part["refusal"])))
    except (AttributeError, TypeError):
        return [Failed(MALFORMED)]
    usage = _usage(response)
    if usage:
        events.append(usage)
    if calls:
        events.append(ToolCalls(tuple(calls)))
    status = response.get("status")
    if status == "failed":
        events.append(Failed(Failure("stream_error", "The model server reported an error.")))
    elif status == "incomplete":
        events.append(Failed(_incomplete(response)))
    elif not any(isinstance(e, (TextDelta, RefusalDelta, ToolCalls)) for e in events):
        events.append(Failed(EMPTY))
    else:
        events.append(Finished("tool_calls" if calls else "stop"))
    return events


class Responses(JsonProtocol):
    """The adapter for `/responses`."""

    name, path, endpoint = "responses", PATH, ENDPOINT

    def body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        return {**request_body(request), "stream": True} if stream else request_body(request)

    def read(self, chunks: Chunks) -> AsyncGenerator[Event, None]:
        return read_events(chunks, self.upstream)

    def answer(self, answer: dict[str, Any]) -> list[Event]:
        return response_events(answer)
