"""One user turn, end to end: validate, build the request, stream it, fold events into a Reply.

It yields what the page should show, in our own terms: a `Notice` about the turn
(bad input, a retry, an unavailable model), or the `Reply` as it grows, last when it
has ended. The web layer renders either; nothing here knows Gradio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable, Literal, Mapping, Sequence

from ..domain.events import (
    Event,
    Failed,
    Finished,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    TextDelta,
    ToolCalls,
    ToolFinished,
    ToolsOff,
    ToolStarted,
    Usage,
)
from ..domain.failures import EMPTY, NO_IMAGES, TOOLS_ONLY, Failure
from ..domain.messages import Image, Message, ModelRequest, ToolSpec
from ..domain.moderation import MODERATION_DOWN, Verdict
from ..domain.reply import Charge, Place, Reply, ReplyObserver, Step
from ..domain.sources import SEARCH_TOOL, Source
from ..domain.validation import InvalidInput, check_message, check_options
from ..providers.backends import Backend, BackendUnavailable
from ..providers.base import Adapter
from ..providers.models import model_info
from ..providers.routes import Route
from ..tools.registry import ToolScope
from .coalesce import Batches
from .grounding import PASSAGES, DocumentSearch, passages_budget, with_passages
from .history import DoesNotFit, build_messages, messages_tokens, prepare_turn
from .moderation import Moderation, until_judged
from .rounds import ToolRounds
from .untrusted import with_data_rule

log = logging.getLogger(__name__)

# Each update re-renders the whole chat in Gradio (~0.4 ms short, ~5 ms with 200 long
# messages), so updates thin out as more replies stream at once and as the chat grows.
UPDATE_INTERVAL = 0.04  # at most 25 updates a second per reply
PER_ACTIVE_REPLY = 0.0005  # 200 replies streaming at once: 0.1 s
PER_1000_CHARS_SHOWN = 0.0012  # 200 messages of 1,000 characters: +0.24 s
MAX_INTERVAL = 0.5


class _Judged(Exception):
    """Moderation ended the reply: what happened is on it."""


@dataclass(frozen=True)
class Notice:
    """Something to say about a turn that is not its reply."""
    kind: Literal["invalid", "retrying", "unavailable"]
    message: str


Update = Notice | Reply


@dataclass(frozen=True)
class TurnOptions:
    model: str | None = None
    temperature: float = 0.7
    system_prompt: str = ""
    history_turns: int = 10
    max_tokens: int = 1024
    api: str | None = None  # an adapter's name; None: the backend's default
    tools: tuple[str, ...] = ()  # the tools the model may call, by name
    documents: bool = False  # answer from the owner's documents, if they have any


def with_memories(system_prompt: str, memories: Sequence[str]) -> str:
    if not memories:
        return system_prompt
    facts = "\n".join(f"- {fact}" for fact in memories)
    return f"{system_prompt}\n\nFacts the user asked you to remember:\n{facts}".strip()


class ChatService:
    """Answers one message at a time; one instance serves every user."""

    def __init__(self, backend: Backend, adapters: Mapping[str, Adapter], rounds: ToolRounds, *,
                 max_message_chars: int, observers: Sequence[ReplyObserver] = (),
                 documents: DocumentSearch | None = None, earlier_images: int = 4,
                 moderation: Moderation | None = None) -> None:
        self.backend = backend
        self.moderation = moderation or Moderation()
        self.route = Route(backend, dict(adapters))  # the server's own; a visitor may bring one
        self.earlier_images = earlier_images  # resent to models known to read images
        self.documents = documents
        self.rounds = rounds
        self.max_message_chars = max_message_chars
        self.observers = list(observers)
        self.active_replies = 0

    def update_interval(self, shown_chars: int = 0) -> float:
        """Seconds between updates of one reply, given the text already on screen."""
        busy = max(UPDATE_INTERVAL, self.active_replies * PER_ACTIVE_REPLY)
        return min(MAX_INTERVAL, busy + shown_chars / 1000 * PER_1000_CHARS_SHOWN)

    async def respond(self, message: Any, history: Sequence[Message],
                      options: TurnOptions = TurnOptions(), *, memories: Sequence[str] = (),
                      images: Sequence[Image] = (), place: Place | None = None,
                      charge: Charge | None = None, continues: bool = False,
                      route: Route | None = None,
                      shown_chars: int | None = None) -> AsyncIterator[Update]:
        """Yields the growing reply of `message`, after `history`.

        `place`: where the reply is kept (observers read it); `charge`: where its tokens
        count. `continues`: carry on the cut-off last reply of `history`, asking nothing new.
        `route`: the backend and adapters to use, when not the server's (a visitor's key).
        `shown_chars`: the text the page already shows (default: `history`'s), which
        makes each update dearer to draw, so they come less often.
        """
        route = route or self.route
        backend = route.backend
        place = place or Place()
        try:
            text = "" if continues else check_message(message, self.max_message_chars)
            if not text.strip() and not images and not continues:
                return  # nothing to answer, nothing sent upstream
            checked = check_options(options.model, options.temperature, options.system_prompt,
                                    options.history_turns, options.max_tokens)
            api = self._api(options.api, route)
            owner = place.owner
            grounded = bool(options.documents and owner and self.documents is not None
                            and await self.documents.has_documents(owner))
            tools = self._tools([n for n in options.tools if grounded or n != SEARCH_TOOL])
            past, user_text = prepare_turn(history, text, continues)
            model_name = await backend.resolve_model(checked.model)
            if images and backend.sees_images(model_name) is False:
                raise InvalidInput(NO_IMAGES.message)
            context_window = backend.context_window_for(model_name)
            resent = self.earlier_images if backend.sees_images(model_name) is True else 0
            system_prompt = with_memories(checked.system_prompt, memories)
            sources: list[Source] = []
            searched = any(t.name == SEARCH_TOOL for t in tools) and \
                self.rounds.uses_tools(model_name, tools)
            if grounded and not searched and self.documents is not None and owner:
                query = past[-1].user if continues and past else user_text
                found = await self.documents.search(owner, query, PASSAGES)
                system_prompt = with_passages(system_prompt, found,
                                              passages_budget(context_window), sources)
            if sources or any(e.tool_parts for e in past):  # data from documents or tools
                system_prompt = with_data_rule(system_prompt)
            messages = build_messages(
                system_prompt=system_prompt, history=past,
                user_message=user_text, history_turns=checked.history_turns,
                max_tokens=checked.max_tokens, context_window=context_window, images=images,
                earlier_images=resent)
        except InvalidInput as exc:
            yield Notice("invalid", str(exc))
            return
        except DoesNotFit as exc:
            yield Notice("invalid", f"This message is too long for the model: {exc}.")
            return
        except BackendUnavailable as exc:
            yield Notice("unavailable", f"The model is unavailable: {exc}.")
            return

        info = model_info(model_name)
        reply = Reply(backend=backend.kind, model=model_name, options=checked,
                      user_message=text, api=api, sources=sources, images=tuple(images),
                      place=place, charge=charge)
        request = ModelRequest(model_name, messages, checked.temperature, checked.max_tokens,
                               reasoning=bool(info and info.reasoning), tools=tools)
        shown = shown_chars if shown_chars is not None else \
            sum(len(e.user) + len(e.assistant) for e in past)
        async for update in self._stream(reply, request, shown, route):
            yield update

    def _api(self, requested: str | None, route: Route) -> str:
        if not requested:
            return route.backend.default_api
        if requested not in route.adapters:
            raise InvalidInput(f"The API must be one of: {', '.join(route.adapters)} "
                               f"(it is “{requested}”).")
        return requested

    def _tools(self, names: Sequence[str]) -> tuple[ToolSpec, ...]:
        names = [n for n in names or () if n]
        unknown = [n for n in names if self.rounds.toolbox.get(n) is None]
        if unknown:
            raise InvalidInput(f"Unknown tool: {', '.join(unknown)}. Choose tools from the "
                               "Tools list in the sidebar.")
        return self.rounds.toolbox.specs(names)

    async def _stream(self, reply: Reply, request: ModelRequest, shown_chars: int,
                      route: Route) -> AsyncIterator[Update]:
        self.active_replies += 1
        self._notify("reply_started", reply)
        check: asyncio.Future[Verdict] | None = None
        try:
            if reply.user_message or reply.images:  # a continuation asks nothing new
                blocked = self.moderation.blocked(reply.user_message)
                if blocked is not None:  # nothing is sent
                    self._judge(reply, blocked)
                    raise _Judged
                check = self.moderation.start(reply.user_message, reply.images)
            await route.backend.ensure_ready()
            scope = ToolScope(reply.place.owner, reply.sources,
                              cleared=self._clearance(reply, check))
            events = self.rounds.stream(route.adapters[reply.api], request, scope)
            if check is not None:
                events = until_judged(events, check)
            pace = lambda: self.update_interval(shown_chars)  # noqa: E731
            batched: AsyncGenerator[list[Event], None] = Batches(events, pace).__aiter__()
            async with aclosing(batched) as batches:
                async for batch in batches:
                    update = self._apply(reply, batch)
                    if check is not None:
                        if not check.done():
                            continue  # nothing is shown before the message has passed
                        if not self._judge(reply, check.result()):
                            raise _Judged
                        check, update = None, reply
                    if update is not None:
                        self._notify("reply_progress", reply)
                        yield update
            if check is not None and not self._judge(reply, await check):
                raise _Judged
            if reply.outcome == "streaming":  # the stream ended without a verdict
                reply.outcome = "failed"
        except _Judged:
            pass
        except BackendUnavailable as exc:
            reply.outcome, reply.failure = "failed", Failure("unavailable", str(exc))
        except BaseException:  # Stop, a closed tab, or a bug: the reply ends here
            if reply.outcome == "streaming":
                reply.outcome = "stopped"
            raise
        finally:
            if check is not None:
                check.cancel()
            self._end(reply, request)
        yield reply

    def _clearance(self, reply: Reply, check: asyncio.Future[Verdict] | None
                   ) -> Callable[[], Awaitable[bool]] | None:
        """What tools wait for: no call runs for a message that has not passed."""
        if check is None:
            return None

        async def cleared() -> bool:
            return self.moderation.passes(await asyncio.shield(check))
        return cleared

    def _judge(self, reply: Reply, verdict: Verdict) -> bool:
        """Applies the moderation verdict; False if the reply must end, unshown."""
        reply.moderation = verdict
        if self.moderation.passes(verdict):
            return True
        if verdict.flagged:
            reply.outcome, reply.failure = "flagged", Failure("flagged", verdict.reason)
        else:
            reply.outcome, reply.failure = "failed", MODERATION_DOWN
        reply.text, reply.steps = "", []  # what it said is not shown, nor kept
        return False

    def _end(self, reply: Reply, request: ModelRequest) -> None:
        self.active_replies -= 1
        reply.ended = time.monotonic()
        for step in reply.steps:
            if step.ended is None:
                step.ended = reply.ended
        if reply.prompt_tokens is None:  # the server sent no usage: estimate it
            reply.prompt_tokens = messages_tokens(request.messages)
            reply.completion_tokens = reply.text_pieces
        self._notify("reply_finished", reply)

    def _apply(self, reply: Reply, batch: list[Event]) -> Update | None:
        """Folds a batch of events into the reply; returns what to show, if anything changed."""
        pieces: list[str] = []
        changed = False
        retrying: Retrying | None = None
        for event in batch:
            if isinstance(event, TextDelta):
                pieces.append(event.text)
            elif isinstance(event, ReasoningDelta):
                self._reason(reply, pieces, event.text)
                changed = True
            elif isinstance(event, RefusalDelta):
                pieces.append(event.text)
                reply.refused = True
            elif isinstance(event, Usage):  # one per request: tool rounds add up
                reply.prompt_tokens = (reply.prompt_tokens or 0) + event.prompt_tokens
                reply.completion_tokens = (reply.completion_tokens or 0) + event.completion_tokens
                reply.usage_estimated = False
            elif isinstance(event, ToolStarted):
                self._tool_started(reply, pieces, event)
                changed = True
            elif isinstance(event, ToolFinished):
                self._tool_finished(reply, event)
                changed = True
            elif isinstance(event, ToolCalls):
                reply.tool_calls_requested += len(event.calls)
            elif isinstance(event, ToolsOff):
                reply.tools_off = changed = True
            elif isinstance(event, Retrying):
                reply.retries += 1
                retrying = event
            elif isinstance(event, Finished):
                self._finish(reply, pieces)
            elif isinstance(event, Failed):
                reply.failure = event.failure
                reply.outcome = "truncated" if event.failure.kind == "length" else "failed"
        if pieces:
            self._add_text(reply, pieces)
            return reply
        if retrying is not None:
            return Notice("retrying", f"{retrying.failure.message} Retrying in "
                          f"{retrying.delay:.1f} s (attempt {retrying.attempt} of "
                          f"{retrying.of})…")
        return reply if changed else None

    @staticmethod
    def _reason(reply: Reply, pieces: list[str], text: str) -> None:
        step = reply.steps[-1] if reply.steps else None
        if step is None or step.kind != "reasoning" or step.ended is not None:
            step = Step("reasoning", at=len(reply.text) + sum(map(len, pieces)))
            reply.steps.append(step)
            if reply.first_token is None:
                reply.first_token = step.started
        step.text += text
        reply.text_pieces += 1

    @staticmethod
    def _tool_started(reply: Reply, pieces: list[str], event: ToolStarted) -> None:
        now = time.monotonic()
        for step in reply.steps:
            if step.kind == "reasoning" and step.ended is None:
                step.ended = now
        call = event.call
        reply.steps.append(Step("tool", at=len(reply.text) + sum(map(len, pieces)),
                                name=call.name, call_id=call.call_id, arguments=call.arguments,
                                round=event.round))

    @staticmethod
    def _tool_finished(reply: Reply, event: ToolFinished) -> None:
        result = event.result
        for step in reply.steps:
            if step.kind == "tool" and step.call_id == result.call_id and step.ended is None:
                step.text, step.failed = result.output, result.failed
                step.ended = step.started + event.seconds
                return

    @staticmethod
    def _add_text(reply: Reply, pieces: list[str]) -> None:
        now = time.monotonic()
        if reply.first_token is None:
            reply.first_token = now
        last = reply.steps[-1] if reply.steps else None
        if last is not None and last.kind == "reasoning" and last.ended is None:
            last.ended = now
            if last.at == len(reply.text):
                pieces[0] = pieces[0].lstrip()
        reply.text += "".join(pieces)
        reply.text_pieces += len(pieces)

    @staticmethod
    def _finish(reply: Reply, pieces: list[str]) -> None:
        if reply.text or any(pieces):
            reply.outcome = "refused" if reply.refused else "complete"
            return
        reply.failure = TOOLS_ONLY if reply.tool_calls_requested else EMPTY
        reply.outcome = "failed"

    def _notify(self, method: str, reply: Reply) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(reply)
            except Exception:  # an observer must never break a reply
                log.exception("observer %s.%s failed", type(observer).__name__, method)
