"""The HTTP endpoints: /v1/models, /v1/chat/completions, /v1/responses, and the answer to
a tool's question. Each request runs the page's turn (conversation/turn.py) with the
key owner's limits, tools, documents and memory, unpaced: every event goes out at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from ..conversation.approvals import ANSWERS, Approvals
from ..conversation.prepare import Notice, TurnOptions
from ..conversation.routing import AUTO, is_auto
from ..conversation.runs import Runs
from ..conversation.turn import ChatService, Update
from ..domain.reply import Charge, Place, Reply
from ..quotas.meter import Admission
from ..quotas.policy import Exceeded
from ..web.usage_limits import UsageLimits
from .access import Access
from .chat_format import ChatChunks, completion
from .errors import ApiError, bad_input, limit_hit, upstream_failed
from .progress import Delta, Progress
from .requests import ApiRequest, chat_request, parse_json, responses_request
from .responses_format import ResponseEvents, whole_response
from .saving import CHAT_HEADER, ChatSaving, chat_named

log = logging.getLogger(__name__)
MODELS_FRESH = 60.0  # seconds a model list is reused
DEFAULT_MAX_TOKENS = 4096
DEFAULT_TEMPERATURE = 1.0  # OpenAI's
ALL_HISTORY = 10_000  # turns: the caller chose what to send
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
LOCAL_CALLER = "api:local"  # who answers a tool's question for a local demo's keyless programs


class Stream(Protocol):
    """One protocol's streamed shapes (chat_format.ChatChunks, responses_format.ResponseEvents)."""
    def first(self) -> bytes: ...
    def delta(self, delta: Delta) -> bytes: ...
    def last(self, reply: Reply, include_usage: bool) -> bytes: ...
    def error(self, message: str, code: str) -> bytes: ...


@dataclass(frozen=True)
class Wire:
    """One of OpenAI's two protocols, as served."""
    parse: Callable[[dict[str, Any], int], ApiRequest]
    param: str  # where the conversation is, for errors about it
    stream: Callable[[str, str | None], Stream]  # (model, chat)
    whole: Callable[[Reply, str | None], dict[str, Any]]


MAX_TEXT_BYTES = 8_000_000  # the text of a request, however long its conversation

CHAT = Wire(chat_request, "messages", ChatChunks, completion)
RESPONSES = Wire(responses_request, "input", ResponseEvents, whole_response)


class ApiEndpoints:
    def __init__(self, service: ChatService, access: Access, limits: UsageLimits,
                 saving: ChatSaving, runs: Runs[Update], approvals: Approvals, *,
                 memories: Callable[[str], list[str]], default_tools: Callable[[], list[str]],
                 max_image_bytes: int, max_images: int = 4) -> None:
        self.service = service
        self.access = access
        self.limits = limits
        self.saving = saving
        self.runs = runs
        self.approvals = approvals
        self.memories = memories
        self.default_tools = default_tools
        self.max_image_bytes = max_image_bytes
        self.max_images = max_images
        # Base64 images, and room for a long conversation beside them.
        self.max_body = max_images * max_image_bytes * 4 // 3 + MAX_TEXT_BYTES
        self._models: tuple[float, list[str]] = (float("-inf"), [])

    def routes(self) -> list[BaseRoute]:
        return [Route("/v1/models", self.list_models, methods=["GET"]),
                Route("/v1/chat/completions", self.chat_completions, methods=["POST"]),
                Route("/v1/responses", self.responses, methods=["POST"]),
                Route("/v1/assistant/tool_approvals", self.answer_tool_call, methods=["POST"])]

    async def model_ids(self) -> list[str]:
        fetched, models = self._models
        if time.monotonic() - fetched > MODELS_FRESH:
            auto = [AUTO] if self.service.router is not None else []
            models = [*auto, *await self.service.routes.model_choices()]
            self._models = (time.monotonic(), models)
        return models

    async def list_models(self, request: Request) -> Response:
        try:
            await self.access.owner(request)
            routes = self.service.routes
            return JSONResponse({"object": "list", "data": [
                {"id": m, "object": "model", "created": 0,
                 "owned_by": "assistant" if m == AUTO else routes.pick(m)[0].backend.name}
                for m in await self.model_ids()]})
        except ApiError as exc:
            return exc.response()

    async def answer_tool_call(self, request: Request) -> Response:
        """{"choice": "allow" | "always" | "deny", "call_id": optional}: answers the oldest
        question of the key owner's replies (about that call, when named)."""
        try:
            owner = await self.access.owner(request)
            body = parse_json(await request.body())
            choice, call_id = body.get("choice"), body.get("call_id")
            if choice not in ANSWERS:
                raise bad_input(f"'choice' must be one of: {', '.join(ANSWERS)}.", "choice")
            if call_id is not None and not isinstance(call_id, str):
                raise bad_input("'call_id' must be a string.", "call_id")
            if not self.approvals.answer(owner or LOCAL_CALLER, choice, None, call_id):
                raise ApiError(404, "No tool call is waiting for your answer.",
                               code="no_question")
            return JSONResponse({"answered": ANSWERS[choice]})
        except ApiError as exc:
            return exc.response()

    async def chat_completions(self, request: Request) -> Response:
        return await self._turn(request, CHAT)

    async def responses(self, request: Request) -> Response:
        return await self._turn(request, RESPONSES)

    async def _turn(self, request: Request, wire: Wire) -> Response:
        admitted: Admission | None = None
        try:
            owner = await self.access.owner(request)
            parsed = wire.parse(parse_json(await self._body(request)), self.max_image_bytes)
            if len(parsed.images) > self.max_images:
                raise ApiError(400, f"A message may have at most {self.max_images} images.",
                               param=wire.param)
            options = await self._options(parsed)
            admitted = await self._admit(request, owner)
            place, history = await self.saving.place(owner, chat_named(request.headers, parsed),
                                                     parsed)
            memories = await asyncio.to_thread(self.memories, owner) \
                if owner and parsed.metadata.get("assistant_memory") == "on" else []
            updates = self.service.respond(
                parsed.text, history, options, memories=memories, images=parsed.images,
                place=place, charge=Charge(admitted.meter, admitted.keys),
                continues=parsed.answers_tools, paced=False,
                approve=self.approvals.asker(owner or LOCAL_CALLER, place.conversation_id))
            turn = _Turn(self._run(place, updates, admitted), wire.param)
            admitted = None  # the turn releases it when it ends
            first = await turn.opening()
            headers = {CHAT_HEADER: place.conversation_id} if place.conversation_id else {}
            if not parsed.stream:
                reply = await turn.rest()
                return JSONResponse(wire.whole(reply, place.conversation_id), headers=headers)
            stream = wire.stream(first.model, place.conversation_id)
            return StreamingResponse(turn.stream(first, stream, parsed.include_usage),
                                     media_type="text/event-stream",
                                     headers={**SSE_HEADERS, **headers})
        except ApiError as exc:
            return exc.response()
        except Exception:
            log.exception("an API request failed")
            return ApiError(500, "The server failed to answer; try again.", "server_error",
                            code="internal").response()
        finally:
            if admitted is not None:
                admitted.release()

    async def _body(self, request: Request) -> bytes:
        """The request's body, refused as soon as it grows past what a request may hold."""
        body = bytearray()
        async for piece in request.stream():
            body += piece
            if len(body) > self.max_body:
                raise ApiError(413, f"The request is larger than {self.max_body // 1_000_000} "
                               "MB.", code="request_too_large")
        return bytes(body)

    async def _options(self, parsed: ApiRequest) -> TurnOptions:
        models = await self.model_ids()
        if models and parsed.model not in models and not (
                is_auto(parsed.model) and self.service.router is not None):
            raise ApiError(404, f"The model “{parsed.model[:100]}” does not exist here; "
                           "GET /v1/models lists those that do.", param="model",
                           code="model_not_found")
        named = parsed.metadata.get("assistant_tools")
        tools = self.default_tools() if named is None else \
            [n.strip() for n in named.split(",") if n.strip() and n.strip() != "none"]
        clash = {t.name for t in parsed.client_tools} & set(self.default_tools())
        if clash:
            raise bad_input(f"Your tool “{sorted(clash)[0]}” has the name of one of this "
                            "server's tools; rename it.", "tools")
        return TurnOptions(parsed.model, DEFAULT_TEMPERATURE if parsed.temperature is None
                           else parsed.temperature, parsed.system, ALL_HISTORY,
                           parsed.max_tokens or DEFAULT_MAX_TOKENS, None, tuple(tools),
                           documents=parsed.metadata.get("assistant_documents") != "off",
                           client_tools=parsed.client_tools)

    async def _admit(self, request: Request, owner: str | None) -> Admission:
        admitted, now = await self.limits.admit_or_refusal(request, owner)
        if isinstance(admitted, Exceeded):
            retry = admitted.retry_at - now if admitted.retry_at is not None else 1.0
            raise limit_hit(admitted.message(now).lstrip("⏳ "), retry)
        return admitted

    def _run(self, place: Place, updates: AsyncIterator[Update],
             admitted: Admission) -> _Updates:
        """A kept chat's reply runs as the page's do, so its page can follow it; another
        is driven by this request alone."""
        if place.owner and place.conversation_id:
            run = self.runs.start(place, updates, on_end=admitted.hand_over())
            return _Updates(run.follow(), run.stop, lambda: None)
        return _Updates(updates, lambda: None, admitted.release)


@dataclass
class _Updates:
    source: AsyncIterator[Update]
    stop: Callable[[], None]  # ends the reply (a kept chat's run outlives its follower)
    ended: Callable[[], None]  # releases what the turn holds


class _Turn:
    """One reply's updates: the opening ones decide the HTTP status, the rest stream."""

    def __init__(self, updates: _Updates, param: str) -> None:
        self.updates = updates
        self.param = param
        self.latest: Reply | None = None
        self._iterator = aiter(updates.source)
        self._closed = False

    async def _next(self) -> Reply | None:
        """The next update of the reply (notices before it begin are answered here)."""
        while True:
            try:
                update = await anext(self._iterator)
            except StopAsyncIteration:
                return None
            if isinstance(update, Notice):
                if update.kind == "invalid":
                    raise bad_input(update.message, self.param)
                if update.kind == "unavailable":
                    raise ApiError(503, update.message, "server_error", code="unavailable")
                continue  # a retry: the caller waits
            self.latest = update
            return update

    async def opening(self) -> Reply:
        """The first update with something in it; an error if the reply fails before."""
        try:
            reply = await self._next()
            if reply is None:
                raise bad_input("The request has no message to answer.", self.param)
            if reply.ended is not None and reply.outcome == "failed" and not reply.text \
                    and reply.failure is not None:
                raise upstream_failed(reply.failure)
            return reply
        except BaseException:
            await self.close()
            raise

    async def rest(self) -> Reply:
        try:
            while (await self._next()) is not None:
                pass
            reply = self.latest
            assert reply is not None
            if reply.outcome == "failed" and reply.failure is not None:
                raise upstream_failed(reply.failure)
            return reply
        finally:
            await self.close()

    async def stream(self, first: Reply, stream: Stream, include_usage: bool
                     ) -> AsyncIterator[bytes]:
        progress = Progress()
        try:
            yield stream.first() + stream.delta(progress.delta(first))
            while (reply := await self._next()) is not None:
                chunk = stream.delta(progress.delta(reply))
                if chunk:
                    yield chunk
            reply = self.latest
            assert reply is not None
            if reply.outcome == "failed" and reply.failure is not None:
                yield stream.error(reply.failure.message, reply.failure.kind)
            else:
                yield stream.last(reply, include_usage)
        except ApiError as exc:  # a notice after the reply began
            yield stream.error(exc.message, exc.code or "error")
        except Exception:
            log.exception("an API stream failed")
            yield stream.error("The server failed to finish the reply.", "internal")
        finally:
            await self.close()

    async def close(self) -> None:
        """Ends the reply if it still runs (the caller left), and what it holds."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.latest is None or self.latest.ended is None:
                self.updates.stop()
            closing = getattr(self._iterator, "aclose", None)
            if closing is not None:
                await closing()
        finally:
            self.updates.ended()

