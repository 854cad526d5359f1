"""The Responses API wire format of the fake OpenAI server (``POST /v1/responses``).

No I/O, like fakes/fake_wire.py (``Scenario`` is in fakes/fake_scenario.py). Stream: each
event ``event: <type>\\ndata: <json>\\n\\n`` whose JSON has ``type`` and an
increasing ``sequence_number``; no ``[DONE]``. In order: ``response.created``,
``response.in_progress``; the reasoning item (summary events, one
``response.reasoning_summary_text.delta`` per reasoning token); one
``function_call`` item per tool call (``response.function_call_arguments.delta``
pieces); the message item (``response.output_text.delta`` or
``response.refusal.delta`` per token); then ``response.completed``, or
``response.incomplete`` for finish_reason "length" / "content_filter".

Faults come before delta ``fault_after`` (reasoning, argument and text deltas all
count), as on the chat endpoint: "error_event" (also "error_chunk", "event_error_line") an ``error`` event
then the end; "failed" a ``response.failed`` event then the end; "no_finish" the
end without ``response.completed``; "malformed" / "not_a_chunk" a broken event,
then the rest; "unknown_event" a ``response.future_feature`` event, then the rest.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, Callable, Iterator

from fakes.fake_scenario import Scenario
from fakes.fake_wire import (
    DELTA,
    END,
    END_OF_BODY,
    HEAD,
    MALFORMED_EVENT,
    NOT_A_CHUNK_EVENT,
    OTHER,
    Wire,
    http_chunk,
    prompt_tokens,
)

__all__ = ["ResponseEvents", "input_tokens"]

_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def input_tokens(body: dict) -> int:
    """Prompt tokens of a Responses request: its ``input`` items and ``instructions``."""
    inp = body.get("input")
    items = [inp] if isinstance(inp, str) else list(inp or [])
    if body.get("instructions"):
        items.append(body["instructions"])
    return prompt_tokens(items)


def _usage(sc: Scenario, body: dict) -> dict[str, Any] | None:
    if sc.usage is False:
        return None
    inp, out = input_tokens(body), len(sc.token_list()) + len(sc.reasoning_tokens())
    return {"input_tokens": inp, "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": len(sc.reasoning_tokens())},
            "total_tokens": inp + out}


class ResponseEvents:
    """The items and events of one Response; sequence numbers are drawn as events are sent."""

    def __init__(self, sc: Scenario, body: dict, n: int, created: int) -> None:
        self.sc, self.body, self.created = sc, body, created
        self.rid = f"resp_fake_{n}"
        self._n = n
        self._seq = itertools.count(0)
        self.output: list[dict[str, Any]] = []  # the finished output items so far

    # ------------------------------------------------------------------ objects
    def response(self, status: str, output: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
        body = self.body
        obj = {"id": self.rid, "object": "response", "created_at": self.created, "status": status,
               "model": body.get("model") or "fake-model", "output": list(output or []),
               "instructions": body.get("instructions"), "store": body.get("store", True),
               "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "usage": None,
               "incomplete_details": None, "error": None, "metadata": {}}
        obj.update(extra)
        return obj

    def reasoning_item(self, done: bool) -> dict[str, Any]:
        summary = [{"type": "summary_text", "text": self.sc.reasoning}] if done else []
        return {"type": "reasoning", "id": f"rs_fake_{self._n}", "summary": summary}

    def call_items(self, done: bool) -> list[dict[str, Any]]:
        return [{"type": "function_call", "id": f"fc_fake_{self._n}_{i}", "call_id": c["id"],
                 "name": c["name"], "arguments": c["arguments"] if done else "",
                 "status": "completed" if done else "in_progress"} for i, c in enumerate(self.sc.calls())]

    def message_item(self, done: bool) -> dict[str, Any]:
        status = "in_progress"
        if done:
            status = "incomplete" if self.sc.finish_reason in _INCOMPLETE else "completed"
        content = [self._part("".join(self.sc.token_list()))] if done else []
        return {"type": "message", "id": f"msg_fake_{self._n}", "status": status, "role": "assistant",
                "content": content}

    def _part(self, text: str) -> dict[str, Any]:
        if self.sc.refusal is not None:
            return {"type": "refusal", "refusal": text}
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def has_message(self) -> bool:
        return bool(self.sc.token_list()) or self.sc.refusal is not None

    def final(self, output: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        """The terminal event type and the finished Response object."""
        reason = _INCOMPLETE.get(self.sc.finish_reason)
        usage = _usage(self.sc, self.body)
        if reason:
            return "response.incomplete", self.response("incomplete", output, usage=usage,
                                                         incomplete_details={"reason": reason})
        return "response.completed", self.response("completed", output, usage=usage)

    def payload(self) -> dict[str, Any]:
        """The plain (non-streaming) Response object."""
        output = [self.reasoning_item(True)] if self.sc.reasoning else []
        output += self.call_items(True)
        if self.has_message():
            output.append(self.message_item(True))
        return self.final(output)[1]

    # ------------------------------------------------------------------ events
    def event(self, type_: str, **fields: Any) -> Callable[[], bytes]:
        """One event, made (and numbered) when it is sent: a fault may come first."""
        def render() -> bytes:
            data = {"type": type_, **fields, "sequence_number": next(self._seq)}
            return http_chunk(f"event: {type_}\ndata: {json.dumps(data)}\n\n".encode())
        return render

    def stream(self) -> Iterator[tuple[str, Wire]]:
        """Every event of the streamed Response, as (HEAD | DELTA | OTHER | END, bytes)."""
        sc, ev = self.sc, self.event
        yield HEAD, ev("response.created", response=self.response("in_progress"))
        yield HEAD, ev("response.in_progress", response=self.response("in_progress"))
        if sc.reasoning:
            idx = len(self.output)
            item = self.reasoning_item(False)
            ids = {"item_id": item["id"], "output_index": idx, "summary_index": 0}
            yield OTHER, ev("response.output_item.added", output_index=idx, item=item)
            yield OTHER, ev("response.reasoning_summary_part.added", **ids, part={"type": "summary_text", "text": ""})
            for tok in sc.reasoning_tokens():
                yield DELTA, ev("response.reasoning_summary_text.delta", **ids, delta=tok)
            yield OTHER, ev("response.reasoning_summary_text.done", **ids, text=sc.reasoning)
            yield OTHER, ev("response.reasoning_summary_part.done", **ids,
                            part={"type": "summary_text", "text": sc.reasoning})
            self.output.append(self.reasoning_item(True))
            yield OTHER, ev("response.output_item.done", output_index=idx, item=self.output[-1])
        for item, done in zip(self.call_items(False), self.call_items(True)):
            idx = len(self.output)
            ids = {"item_id": item["id"], "output_index": idx}
            yield OTHER, ev("response.output_item.added", output_index=idx, item=item)
            args, step = done["arguments"], max(sc.tool_args_piece, 1)
            for i in range(0, len(args), step):
                yield DELTA, ev("response.function_call_arguments.delta", **ids, delta=args[i:i + step])
            yield OTHER, ev("response.function_call_arguments.done", **ids, arguments=args)
            self.output.append(done)
            yield OTHER, ev("response.output_item.done", output_index=idx, item=done)
        if self.has_message():
            yield from self._message_events()
        type_, response = self.final(self.output)
        yield END, ev(type_, response=response)
        yield OTHER, END_OF_BODY

    def _message_events(self) -> Iterator[tuple[str, Wire]]:
        sc, ev = self.sc, self.event
        idx = len(self.output)
        item = self.message_item(False)
        kind = "refusal" if sc.refusal is not None else "output_text"
        ids = {"item_id": item["id"], "output_index": idx, "content_index": 0}
        yield OTHER, ev("response.output_item.added", output_index=idx, item=item)
        yield OTHER, ev("response.content_part.added", **ids, part=self._part(""))
        extra: dict[str, Any] = {} if sc.refusal is not None else {"logprobs": []}
        for tok in sc.token_list():
            yield DELTA, ev(f"response.{kind}.delta", **ids, delta=tok, **extra)
        text = "".join(sc.token_list())
        yield OTHER, ev(f"response.{kind}.done", **ids, **{"refusal" if kind == "refusal" else "text": text})
        yield OTHER, ev("response.content_part.done", **ids, part=self._part(text))
        self.output.append(self.message_item(True))
        yield OTHER, ev("response.output_item.done", output_index=idx, item=self.output[-1])

    def fault(self, fault: str) -> tuple[bytes, bool]:
        """The bytes of a stream fault (not "drop"/"stall") and whether the body ends there."""
        sc = self.sc
        if fault in ("error_event", "error_chunk", "event_error_line"):
            return self.event("error", code=sc.error_code, message=sc.error_message, param=None)() + END_OF_BODY, True
        if fault == "failed":
            error = {"code": sc.error_code or "server_error", "message": sc.error_message}
            return self.event("response.failed", response=self.response("failed", self.output, error=error))() \
                + END_OF_BODY, True
        if fault == "unknown_event":
            return self.event("response.future_feature", item_id=None, note="clients must ignore this")(), False
        if fault == "malformed":
            return MALFORMED_EVENT, False
        if fault == "not_a_chunk":
            return NOT_A_CHUNK_EVENT, False
        return END_OF_BODY, True  # "no_finish"
