"""The Chat Completions protocol: our request as `messages`, its chunks as our events.

Every shape real servers send is read here: text as a string or as a list of typed
parts, reasoning in `reasoning_content`, `reasoning`, thinking parts or `<think>`
tags, refusals, tool-call fragments by index, several choices (only index 0 is the
reply), Azure's empty-choices chunks and vLLM's error objects.
"""

from __future__ import annotations

import base64
from typing import Any, AsyncGenerator

from ..domain.events import Event, Failed, Finished, ReasoningDelta, RefusalDelta, TextDelta, ToolCalls, Usage
from ..domain.failures import EMPTY, FINISH_FAILURES, MALFORMED, TRUNCATED
from ..domain.messages import Image, Message, ModelRequest, ToolCall, ToolResult
from .base import Chunks, JsonProtocol, Upstream
from .think_tags import ThinkTags

PATH, ENDPOINT = "/chat/completions", "chat completions"


def data_url(image: Image) -> str:
    """The image inline, as both protocols take it."""
    return f"data:{image.media_type};base64,{base64.b64encode(image.data).decode('ascii')}"


def _content(message: Message) -> str | list[dict[str, Any]]:
    """The text, or with images a list of typed parts: the text first, then the images."""
    images = message.images if message.role == "user" else ()
    if not images:
        return message.text
    text: list[dict[str, Any]] = [{"type": "text", "text": message.text}] if message.text else []
    return text + [{"type": "image_url", "image_url": {"url": data_url(i)}} for i in images]


def wire_messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Our messages as Chat Completions `messages`; reasoning is never sent back."""
    wire: list[dict[str, Any]] = []
    for message in messages:
        if message.role == "tool":
            wire.extend({"role": "tool", "tool_call_id": p.call_id, "content": p.output}
                        for p in message.parts if isinstance(p, ToolResult))
            continue
        entry: dict[str, Any] = {"role": message.role, "content": _content(message)}
        calls = [p for p in message.parts if isinstance(p, ToolCall)]
        if calls:
            entry["content"] = message.text or None
            entry["tool_calls"] = [{"id": c.call_id, "type": "function",
                                    "function": {"name": c.name, "arguments": c.arguments}}
                                   for c in calls]
        wire.append(entry)
    return wire


def request_body(request: ModelRequest) -> dict[str, Any]:
    body: dict[str, Any] = {"model": request.model, "messages": wire_messages(request.messages)}
    if request.reasoning:  # reasoning models take no temperature, and count tokens so
        body["max_completion_tokens"] = request.max_tokens
    else:
        body["temperature"] = request.temperature
        body["max_tokens"] = request.max_tokens
    if request.tools:
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, "description": t.description, "parameters": t.parameters}}
            for t in request.tools]
    return body


def split_parts(parts: list[Any]) -> tuple[str, str]:
    """(reasoning, text) of content sent as a list of typed parts."""
    reasoning, text = [], []
    for part in parts:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in ("thinking", "reasoning"):
            reasoning.append(str(part.get("thinking") or part.get("text") or ""))
        elif kind in ("text", "output_text"):
            text.append(str(part.get("text") or ""))
    return "".join(reasoning), "".join(text)


class ToolCallFragments:
    """Tool calls gathered by `index`: the first fragment names the call, later ones add
    pieces of its arguments; parallel calls interleave."""

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}

    def add(self, fragments: list[Any]) -> None:
        for fragment in fragments:
            call = self._calls.setdefault(int(fragment.get("index") or 0), ["", "", ""])
            function = fragment.get("function") or {}
            call[0] = fragment.get("id") or call[0]
            call[1] = function.get("name") or call[1]
            call[2] += function.get("arguments") or ""

    def calls(self) -> tuple[ToolCall, ...]:
        return tuple(ToolCall(call_id or f"call_{index}", name, arguments)
                     for index, (call_id, name, arguments) in sorted(self._calls.items()))


def _first_choice(choices: list[Any]) -> dict[str, Any] | None:
    for choice in choices:
        if choice.get("index", 0) == 0:
            return choice  # type: ignore[no-any-return]
    return None


async def read_chunks(chunks: Chunks, upstream: Upstream) -> AsyncGenerator[Event, None]:
    finish: str | None = None
    got_text = False
    think = ThinkTags()
    tools = ToolCallFragments()
    async for chunk in chunks:
        try:
            choices: Any = chunk.get("choices")
            counts = chunk.get("usage")
            choice = choices[0] if choices else None
            if choice is not None and (len(choices) > 1 or choice.get("index", 0)):
                choice = _first_choice(choices)
            if choice is not None:
                delta = choice.get("delta") or {}
                content, reason = delta.get("content"), choice.get("finish_reason")
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if content and content.__class__ is not str:
                    reasoning, content = split_parts(content)
                if content and not think.answering:
                    thought, content = think.feed(content)
                    reasoning = (reasoning or "") + thought
                if delta.get("tool_calls"):
                    tools.add(delta["tool_calls"])
                refusal = delta.get("refusal")
            usage = Usage(counts.get("prompt_tokens") or 0,
                          counts.get("completion_tokens") or 0) if counts else None
        except (AttributeError, TypeError, KeyError, IndexError, ValueError):  # JSON, not a chunk
            yield Failed(MALFORMED)
            return
        if usage:
            yield usage
        if choices is None and (chunk.get("type") == "error" or "error" in chunk):
            yield Failed(upstream.reported(_error_object(chunk)))
            return
        if choice is None:
            continue
        if reasoning:
            yield ReasoningDelta(str(reasoning))
        if content:
            got_text = True
            yield TextDelta(str(content))
        if refusal:
            got_text = True
            yield RefusalDelta(str(refusal))
        if reason:
            finish = reason
    held_reasoning, held_text = think.flush()
    if held_reasoning:
        yield ReasoningDelta(held_reasoning)
    if held_text:
        got_text = True
        yield TextDelta(held_text)
    calls = tools.calls()
    if calls:
        yield ToolCalls(calls)
    if finish is None:
        yield Failed(TRUNCATED if got_text else EMPTY)
    elif finish in FINISH_FAILURES:
        yield Failed(FINISH_FAILURES[finish])
    else:
        yield Finished(finish)


def _error_object(chunk: dict[str, Any]) -> Any:
    error = chunk.get("error")
    return error if isinstance(error, dict) else chunk


class ChatCompletions(JsonProtocol):
    """The adapter for `/chat/completions`."""

    name, path, endpoint = "chat_completions", PATH, ENDPOINT

    def body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        body = request_body(request)
        if stream:
            body.update(stream=True, stream_options={"include_usage": True})
        return body

    def read(self, chunks: Chunks) -> AsyncGenerator[Event, None]:
        return read_chunks(chunks, self.upstream)

    def answer(self, answer: dict[str, Any]) -> list[Event]:
        return completion_events(answer)
def completion_events(answer: dict[str, Any]) -> list[Event]:
    """A whole `chat.completion` object as the events its stream would have given."""
    try:
        choices = answer.get("choices") or []
        choice = _first_choice(choices) or {}
        message = choice.get("message") or {}
        content = message.get("content")
        reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        if content and not isinstance(content, str):
            reasoning, content = split_parts(content)
        elif content:
            tags = ThinkTags()
            thought, text = tags.feed(content)
            held_thought, held_text = tags.flush()
            reasoning, content = reasoning or thought + held_thought, text + held_text
        counts = answer.get("usage")
        reason = choice.get("finish_reason")
        events: list[Event] = []
        if reasoning:
            events.append(ReasoningDelta(str(reasoning)))
        if content:
            events.append(TextDelta(str(content)))
        if message.get("refusal"):
            events.append(RefusalDelta(str(message["refusal"])))
        calls = [ToolCall(c.get("id") or "", (c.get("function") or {}).get("name") or "",
                          (c.get("function") or {}).get("arguments") or "")
                 for c in message.get("tool_calls") or []]
        if calls:
            events.append(ToolCalls(tuple(calls)))
        if counts:
            events.append(Usage(counts.get("prompt_tokens") or 0,
                                counts.get("completion_tokens") or 0))
    except (AttributeError, TypeError, KeyError, IndexError):
        return [Failed(MALFORMED)]
    has_reply = any(isinstance(e, (TextDelta, RefusalDelta, ToolCalls)) for e in events)
    if not has_reply:
        events.append(Failed(EMPTY))
    elif reason in FINISH_FAILURES:
        events.append(Failed(FINISH_FAILURES[reason]))
    else:
        events.append(Finished(reason or "stop"))
    return events

