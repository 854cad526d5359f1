"""Numbers about replies: Prometheus metrics, one log line per reply, and `/metrics`.

`ReplyMetrics` is a `ReplyObserver` (see domain/reply.py). It reads only the numbers
and short names on a `Reply`: never message text, never keys. Its metrics live
in a registry of its own, so several apps in one process do not clash.

`/metrics` is served by the app's own server (Gradio's FastAPI app), outside
Gradio's login: a scraper cannot log in with a cookie. Pass `token=` to require
`Authorization: Bearer <token>` instead (do so whenever the app is public).
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..domain.reply import Reply

reply_log = logging.getLogger("assistant.replies")

TTFT_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
TOOL_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
DURATION_BUCKETS = (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0)
MAX_MODEL_LABELS = 20  # users may type any model name: bound the label values
MAX_TOOL_LABELS = 50  # a model may call a tool by any name, real or not
OTHER = "other"
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9._:/@+\-]{1,100}")


class BoundedLabels:
    """The first `limit` plain values as themselves, every other as "other"."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str) -> str:
        if value in self._seen:
            return value
        if len(self._seen) < self.limit and _PLAIN_VALUE.fullmatch(value):
            self._seen.add(value)
            return value
        return OTHER


class ReplyMetrics:
    """Counts and times every reply; call `reply_*` from the event loop only."""

    def __init__(self, registry: CollectorRegistry | None = None, *,
                 log_content: bool = False, tool_named: Callable[[str], object] | None = None) -> None:
        self.log_content = log_content  # message text in the log line: debugging only
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.replies = Counter("assistant_replies", "Replies finished, by outcome.",
                               ["backend", "model", "outcome"], registry=r)
        self.errors = Counter("assistant_reply_errors", "Replies that failed, by failure kind.",
                              ["backend", "kind"], registry=r)
        self.retries = Counter("assistant_reply_retries", "Upstream retries before a first token.",
                               ["backend"], registry=r)
        self.ttft = Histogram("assistant_time_to_first_token_seconds",
                              "Seconds from the request to the first text.",
                              ["backend"], buckets=TTFT_BUCKETS, registry=r)
        self.duration = Histogram("assistant_reply_duration_seconds",
                                  "Seconds from the request to the end of the reply.",
                                  ["backend", "outcome"], buckets=DURATION_BUCKETS, registry=r)
        self.tokens = Counter("assistant_tokens", "Tokens in prompts and completions.",
                              ["backend", "model", "type", "estimated"], registry=r)
        self.tool_calls = Counter("assistant_tool_calls", "Tool calls, by tool and outcome.",
                                  ["tool", "outcome"], registry=r)
        self.tool_approvals = Counter("assistant_tool_approvals",
                                      "Answers to tools that ask first, by tool and answer "
                                      "(allowed, always, denied, timed out).",
                                      ["tool", "answer"], registry=r)
        self.tool_duration = Histogram("assistant_tool_duration_seconds",
                                       "Seconds a tool call took.", ["tool"],
                                       buckets=TOOL_BUCKETS, registry=r)
        self.in_progress = Gauge("assistant_replies_in_progress", "Replies streaming now.",
                                 ["backend"], registry=r)
        self.routes = Counter("assistant_routes", "Replies Auto routed, by route.", ["route"],
                              registry=r)
        self._open: dict[int, str] = {}  # replies started while we were observing: backend
        self._model_label = BoundedLabels(MAX_MODEL_LABELS)
        self._tool_labels = BoundedLabels(MAX_TOOL_LABELS)
        self._tool_named = tool_named  # the tool of a name, if the app has one; others are "other"

    # ReplyObserver -----------------------------------------------------------------
    def reply_started(self, reply: Reply) -> None:
        self._open[id(reply)] = reply.backend  # a fallback may change it on the way
        self.in_progress.labels(reply.backend).inc()

    def reply_progress(self, reply: Reply) -> None:
        pass  # per-update hot path: nothing to do

    def reply_finished(self, reply: Reply) -> None:
        started = self._open.pop(id(reply), None)
        if started is not None:
            self.in_progress.labels(started).dec()
        if reply.route:
            self.routes.labels(reply.route).inc()
        backend, model = reply.backend, self._model_label(reply.model)
        self.replies.labels(backend, model, reply.outcome).inc()
        if reply.failure is not None:
            self.errors.labels(backend, reply.failure.kind).inc()
        if reply.retries:
            self.retries.labels(backend).inc(reply.retries)
        ttft = time_to_first_token(reply)
        if ttft is not None:
            self.ttft.labels(backend).observe(ttft)
        duration = reply_duration(reply)
        if duration is not None:
            self.duration.labels(backend, reply.outcome).observe(duration)
        estimated = "true" if reply.usage_estimated else "false"
        if reply.prompt_tokens:
            self.tokens.labels(backend, model, "prompt", estimated).inc(reply.prompt_tokens)
        if reply.completion_tokens:
            self.tokens.labels(backend, model, "completion", estimated).inc(reply.completion_tokens)
        for step in reply.steps:
            if step.kind == "tool":
                tool = self._tool_labels(step.name) if self._tool_named is None or \
                    self._tool_named(step.name) is not None else OTHER
                self.tool_calls.labels(tool, "failed" if step.failed else "ok").inc()
                if step.approval is not None and step.approval != "pending":
                    self.tool_approvals.labels(tool, step.approval).inc()
                self.tool_duration.labels(tool).observe(step.duration())
        log_reply(reply, content=self.log_content)


def time_to_first_token(reply: Reply) -> float | None:
    return None if reply.first_token is None else max(0.0, reply.first_token - reply.started)


def reply_duration(reply: Reply) -> float | None:
    return None if reply.ended is None else max(0.0, reply.ended - reply.started)


# One log line per reply --------------------------------------------------------------
def reply_fields(reply: Reply) -> dict[str, Any]:
    """What is logged about a reply: numbers and short names, no content."""
    failure = reply.failure
    return {
        "backend": reply.backend,
        "api": reply.api,
        "model": reply.model,
        "outcome": reply.outcome,
        "error": failure.kind if failure else None,
        "status": failure.status if failure else None,
        "ttft": time_to_first_token(reply),
        "duration": reply_duration(reply),
        "prompt_tokens": reply.prompt_tokens,
        "completion_tokens": reply.completion_tokens,
        "tokens_estimated": reply.usage_estimated,
        "retries": reply.retries,
        "reasoning_seconds": sum(s.duration() for s in reply.steps if s.kind == "reasoning")
        if any(s.kind == "reasoning" for s in reply.steps) else None,
        "tools": ",".join(f"{s.name}:{'failed' if s.failed else 'ok'}"
                          for s in reply.steps if s.kind == "tool") or None,
    }


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    if _PLAIN_VALUE.fullmatch(text):
        return text
    escaped = text[:100].replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c.isprintable() else "?" for c in escaped) + '"'


def format_reply_line(fields: dict[str, Any]) -> str:
    return "reply " + " ".join(f"{key}={_format_value(value)}" for key, value in fields.items())


def log_reply(reply: Reply, *, content: bool = False) -> None:
    fields = reply_fields(reply)
    if content and reply.outcome != "flagged":  # a flagged message's text is never logged
        fields = {**fields, "message": reply.user_message, "text": reply.text}
    level = logging.WARNING if reply.outcome == "failed" else logging.INFO
    reply_log.log(level, "%s", format_reply_line(fields), extra={"reply": fields})


# GET /metrics on Gradio's own server -------------------------------------------------
def metrics_route(registry: CollectorRegistry, *, path: str = "/metrics",
                  token: str | None = None) -> Route:
    async def metrics(request: Request) -> Response:
        if token is not None and not _bearer_ok(request, token):
            return Response("unauthorized\n", status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), headers={"Content-Type": content_type})

    return Route(path, metrics, methods=["GET"], name="metrics")


def _bearer_ok(request: Request, token: str) -> bool:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return (scheme.lower() == "bearer"
            and hmac.compare_digest(given.strip().encode(), token.encode()))


def metrics_routes(registry: CollectorRegistry, *, token: str | None = None) -> list[BaseRoute]:
    """For `demo.launch(app_kwargs={"routes": metrics_routes(registry)})`.

    FastAPI registers these before Gradio adds its own routes; this works
    whether or not `launch` blocks, and with `auth`.
    """
    return [metrics_route(registry, token=token), Route("/healthz", _healthy, methods=["GET"])]


async def _healthy(request: Request) -> Response:
    """For a load balancer's health check: cheap, and open even with sign-in on."""
    return Response("ok\n", media_type="text/plain")
