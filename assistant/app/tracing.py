"""OpenTelemetry traces of each turn, with the GenAI semantic conventions.

Spans are made when a reply has ended, from what the reply recorded (its times, the
tool steps, each request's usage), so nothing runs per token. A turn is an
`invoke_agent` span; under it, each request to the model server is a `chat` span and
each tool call an `execute_tool` span. They are exported over OTLP/HTTP only when the
SDK's standard variables name an endpoint (OTEL_EXPORTER_OTLP_ENDPOINT, or its
_TRACES_ variant); otherwise this module starts nothing. Message text is left out
unless ASSISTANT_LOG_CONTENT is on.
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer, set_span_in_context

from ..domain.reply import Reply, Step

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
AGENT = "assistant"
FINISH = {"complete": "stop", "truncated": "length", "flagged": "content_filter"}


def tracing_wanted(environ: Mapping[str, str]) -> bool:
    return any(environ.get(name) for name in ENDPOINT_VARIABLES)


class TurnTracer:
    """A reply observer (domain/reply.py's ReplyObserver) that traces finished turns."""

    def __init__(self, tracer: Tracer, content: bool = False,
                 provider: TracerProvider | None = None) -> None:
        self.tracer = tracer
        self.content = content
        self.provider = provider

    @classmethod
    def exporting(cls, content: bool = False) -> TurnTracer:
        """Exports over OTLP/HTTP to where the OTEL_ variables say, in the background."""
        provider = TracerProvider(resource=Resource.create({"service.name": AGENT}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        return cls(provider.get_tracer(__name__), content, provider)

    def close(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()  # sends what is still queued

    def reply_started(self, reply: Reply) -> None:
        pass

    def reply_progress(self, reply: Reply) -> None:
        pass

    def reply_finished(self, reply: Reply) -> None:
        to_ns = _clock()
        end = reply.ended if reply.ended is not None else time.monotonic()
        turn = self.tracer.start_span(
            f"invoke_agent {AGENT}", kind=SpanKind.INTERNAL, start_time=to_ns(reply.started),
            attributes=self._common(reply) | _usage(reply.prompt_tokens, reply.completion_tokens)
            | {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": AGENT,
               "gen_ai.response.finish_reasons": [self._finish(reply)],
               "assistant.outcome": reply.outcome})
        if self.content:
            turn.set_attribute("gen_ai.input.messages", json.dumps(
                [{"role": "user", "parts": [{"type": "text", "content": reply.user_message}]}]))
            turn.set_attribute("gen_ai.output.messages", json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": reply.text}]}]))
        inside = set_span_in_context(turn)
        for start, stop, finish, usage in _requests(reply, end):
            request = self.tracer.start_span(
                f"chat {reply.model}", context=inside, kind=SpanKind.CLIENT,
                start_time=to_ns(start), attributes=self._common(reply) | usage | {
                    "gen_ai.operation.name": "chat", "gen_ai.response.model": reply.model,
                    "gen_ai.response.finish_reasons": [finish]})
            self._failed(request, reply if finish == "error" else None)
            request.end(to_ns(stop))
        for step in reply.steps:
            if step.kind == "tool":
                self._tool(step, inside, to_ns, end)
        self._failed(turn, reply)
        turn.end(to_ns(end))

    def _common(self, reply: Reply) -> dict[str, Any]:
        common = {"gen_ai.provider.name": reply.backend, "gen_ai.request.model": reply.model,
                  "assistant.api": reply.api}
        if reply.place.conversation_id:
            common["gen_ai.conversation.id"] = reply.place.conversation_id
        return common

    def _tool(self, step: Step, inside: Any, to_ns: Any, end: float) -> None:
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": step.name,
            "gen_ai.tool.call.id": step.call_id,
            "gen_ai.tool.type": "extension" if step.server else "function"}
        if step.approval is not None:
            attributes["assistant.tool.approval"] = step.approval
        if self.content:
            attributes |= {"gen_ai.tool.call.arguments": step.arguments,
                           "gen_ai.tool.call.result": step.text}
        span = self.tracer.start_span(f"execute_tool {step.name}", context=inside,
                                      kind=SpanKind.INTERNAL, start_time=to_ns(step.started),
                                      attributes=attributes)
        if step.failed:
            span.set_attribute("error.type", "tool_error")
            span.set_status(Status(StatusCode.ERROR))
        span.end(to_ns(step.ended if step.ended is not None else end))

    @staticmethod
    def _finish(reply: Reply) -> str:
        if reply.handed_back:
            return "tool_calls"
        return FINISH.get(reply.outcome, "error" if reply.outcome == "failed" else reply.outcome)

    @staticmethod
    def _failed(span: Span, reply: Reply | None) -> None:
        if reply is not None and reply.outcome == "failed":
            span.set_attribute("error.type", reply.failure.kind if reply.failure else "error")
            span.set_status(Status(StatusCode.ERROR, reply.failure.message if reply.failure
                                   else None))


def _requests(reply: Reply, end: float) -> list[tuple[float, float, str, dict[str, int]]]:
    """Each request to the model server: its start, end, finish reason and usage. A round
    of tool calls ends one request (when its first call starts) and the next begins
    when its last call has ended."""
    rounds: dict[int, list[Step]] = {}
    for step in reply.steps:
        if step.kind == "tool":
            rounds.setdefault(step.round, []).append(step)
    requests, start = [], reply.started
    for calls in (rounds[r] for r in sorted(rounds)):
        requests.append((start, min(s.started for s in calls), "tool_calls"))
        start = max(s.ended if s.ended is not None else end for s in calls)
    requests.append((start, end, TurnTracer._finish(reply)))
    usages = reply.usages if len(reply.usages) == len(requests) else [None] * len(requests)
    return [(a, b, finish, _usage(*usage) if usage else {})
            for (a, b, finish), usage in zip(requests, usages)]


def _usage(prompt: int | None, completion: int | None) -> dict[str, int]:
    if prompt is None or completion is None:
        return {}
    return {"gen_ai.usage.input_tokens": prompt, "gen_ai.usage.output_tokens": completion}


def _clock() -> Any:
    """time.monotonic() readings to the wall-clock nanoseconds spans carry."""
    offset = time.time_ns() - time.monotonic_ns()
    return lambda monotonic: int(monotonic * 1e9) + offset
