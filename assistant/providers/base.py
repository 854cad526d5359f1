"""What every protocol adapter shares: where requests go, the adapter protocol, and the
raw-JSON stream that both adapters read.

Chunks stay the server's JSON objects: building the SDK's typed chunk cost ~60 µs
each, most of the app's CPU under load. The SDK still builds the request,
authenticates, retries and raises its status errors; `sse.py` reads the body.
"""

from __future__ import annotations

import json
import logging
from contextlib import aclosing
from dataclasses import dataclass, field, replace
from typing import Any, AsyncGenerator, AsyncIterator, Callable, Protocol

import httpx2
import openai
from openai import AsyncOpenAI

from ..domain.events import Event, Failed
from ..domain.failures import MALFORMED, OWN_KEY_REJECTED, STREAM_UNSUPPORTED, Failure
from ..domain.messages import ModelRequest
from ..domain.redaction import redact
from .errors import describe, describe_dropped, is_stream_unsupported, reported_error
from .sse import json_events

log = logging.getLogger(__name__)

Chunks = AsyncIterator[dict[str, Any]]


@dataclass(frozen=True)
class Upstream:
    """Where a request goes, and how patiently."""
    client: AsyncOpenAI
    host: str
    read_timeout: float
    secrets: tuple[str, ...] = field(default=(), repr=False)
    own_key: bool = False  # the key is a visitor's: a rejection is theirs to fix

    def opening_failure(self, exc: BaseException, model: str, endpoint: str) -> Failure:
        """A failure before the response started: it may be retried."""
        failure = describe(exc, model=model, host=self.host, read_timeout=self.read_timeout,
                           secrets=self.secrets, endpoint=endpoint)
        if failure.kind == "internal":
            log.error("unexpected failure calling %s", self.host, exc_info=exc)
        else:  # the log handler's redaction scrubs the server's keys from the upstream's words
            log.warning("%s from %s: %s", type(exc).__name__, self.host,
                        redact(str(exc), self.secrets))
        if failure.kind == "auth" and self.own_key:
            return replace(failure, message=OWN_KEY_REJECTED)
        return failure

    def dropped(self, exc: BaseException) -> Failure:
        """A failure after the response started: never retried."""
        return describe_dropped(exc, host=self.host, read_timeout=self.read_timeout,
                                secrets=self.secrets)

    def reported(self, error: Any) -> Failure:
        """An error object the server sent inside its stream."""
        message = error.get("message") if isinstance(error, dict) else None
        return reported_error(str(message or ""), self.secrets)


class Adapter(Protocol):
    """One protocol: a request in, our events out. Failures are events, never exceptions."""

    def stream(self, request: ModelRequest) -> AsyncGenerator[Event, None]: ...

    def complete(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        """The same reply without streaming, for servers that cannot stream."""
        ...


async def stream_events(upstream: Upstream, path: str, body: dict[str, Any], model: str,
                        endpoint: str, read: Callable[[Chunks], AsyncGenerator[Event, None]]
                        ) -> AsyncGenerator[Event, None]:
    """POSTs `body` with streaming on, and hands the JSON objects to `read`.

    A server that cannot stream gives one `Failed(STREAM_UNSUPPORTED)`.
    """
    try:
        response = await upstream.client.post(path, cast_to=httpx2.Response, stream=True, body=body)
    except Exception as exc:  # every failure becomes an event
        if is_stream_unsupported(exc):
            yield Failed(STREAM_UNSUPPORTED)
        else:
            yield Failed(upstream.opening_failure(exc, model, endpoint))
        return
    try:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            yield Failed(STREAM_UNSUPPORTED)  # a plain JSON body although we asked to stream
            return
        try:
            async with aclosing(read(json_events(response))) as events:
                async for event in events:
                    yield event
        except (openai.APIError, json.JSONDecodeError) as exc:
            yield Failed(upstream.dropped(exc))
    finally:  # closes the HTTP response, even on cancel
        await response.aclose()


async def post_once(upstream: Upstream, path: str, body: dict[str, Any], model: str,
                    endpoint: str) -> dict[str, Any] | Failure:
    """One request without streaming: the JSON answer, or why there is none."""
    try:
        answer = await upstream.client.post(path, cast_to=object, body=body)
    except Exception as exc:
        return upstream.opening_failure(exc, model, endpoint)
    return answer if isinstance(answer, dict) else MALFORMED


class JsonProtocol:
    """An adapter for one endpoint: how it builds a body, reads a stream and reads a whole
    answer. `stream` and `complete` are the same for every protocol."""

    name: str
    path: str
    endpoint: str  # as the user reads it: "chat completions", "Responses API"

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    def body(self, request: ModelRequest, *, stream: bool) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, chunks: Chunks) -> AsyncGenerator[Event, None]:
        raise NotImplementedError

    def answer(self, answer: dict[str, Any]) -> list[Event]:
        raise NotImplementedError

    async def stream(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        async for event in stream_events(self.upstream, self.path, self.body(request, stream=True),
                                         request.model, self.endpoint, self.read):
            yield event

    async def complete(self, request: ModelRequest) -> AsyncGenerator[Event, None]:
        answer = await post_once(self.upstream, self.path, self.body(request, stream=False),
                                 request.model, self.endpoint)
        for event in self.answer(answer) if isinstance(answer, dict) else [Failed(answer)]:
            yield event
