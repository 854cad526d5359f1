"""One user turn, end to end: the request is prepared (prepare.py), streamed here, and
the reply folds the stream's events into itself (domain/reply.py).

It yields what the page should show, in our own terms: a `Notice` about the turn
(bad input, a retry, an unavailable model), or the `Reply` as it grows, last when it
has ended. The web layer renders either; nothing here knows Gradio.
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import aclosing
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence

from ..domain.events import Event, Routed
from ..domain.failures import Failure
from ..domain.messages import Image, Message, ModelRequest
from ..domain.moderation import MODERATION_DOWN, Verdict
from ..domain.reply import Charge, Place, Reply, ReplyObserver
from ..domain.sources import SEARCH_TOOL
from ..providers.backends import BackendUnavailable
from ..providers.base import Adapter
from ..providers.routes import Route, ServerRoutes
from ..tools.registry import Approver, ToolScope
from .coalesce import Batches
from .grounding import DocumentSearch
from .history import messages_tokens
from .moderation import Moderation, until_judged
from .next_model import Candidate, NextModelOnFailure
from .prepare import Notice, TurnOptions, TurnPreparer
from .rounds import ToolRounds
from .routing import Asked, Decision, Router, is_auto

log = logging.getLogger(__name__)

# Each update re-renders the whole chat in Gradio (~0.4 ms short, ~5 ms with 200 long
# messages), so updates thin out as more replies stream at once and as the chat grows.
UPDATE_INTERVAL = 0.04  # at most 25 updates a second per reply
PER_ACTIVE_REPLY = 0.0005  # 200 replies streaming at once: 0.1 s
PER_1000_CHARS_SHOWN = 0.0012  # 200 messages of 1,000 characters: +0.24 s
MAX_INTERVAL = 0.5
DEFAULT_OPTIONS = TurnOptions()


async def _one_by_one(events: AsyncGenerator[Event, None]) -> AsyncGenerator[list[Event], None]:
    async with aclosing(events) as each:
        async for event in each:
            yield [event]


class _Judged(Exception):
    """Moderation ended the reply: what happened is on it."""


Update = Notice | Reply


class ChatService:
    """Answers one message at a time; one instance serves every user."""

    def __init__(self, routes: ServerRoutes, rounds: ToolRounds, *,
                 max_message_chars: int, observers: Sequence[ReplyObserver] = (),
                 documents: DocumentSearch | None = None, earlier_images: int = 4,
                 moderation: Moderation | None = None, router: Router | None = None) -> None:
        self.routes = routes  # the server's own; a visitor may bring one
        self.router = router  # Auto's routes, when the backends file has some
        self.backend = routes.default_route.backend
        self.moderation = moderation or Moderation()
        self.rounds = rounds
        self.preparer = TurnPreparer(rounds, max_message_chars=max_message_chars,
                                     documents=documents, earlier_images=earlier_images)
        self.observers = list(observers)
        self.active_replies = 0

    def update_interval(self, shown_chars: int = 0) -> float:
        """Seconds between updates of one reply, given the text already on screen."""
        busy = max(UPDATE_INTERVAL, self.active_replies * PER_ACTIVE_REPLY)
        return min(MAX_INTERVAL, busy + shown_chars / 1000 * PER_1000_CHARS_SHOWN)

    async def respond(self, message: Any, history: Sequence[Message],
                      options: TurnOptions = DEFAULT_OPTIONS, *, memories: Sequence[str] = (),
                      images: Sequence[Image] = (), place: Place | None = None,
                      charge: Charge | None = None, continues: bool = False,
                      route: Route | None = None,
                      shown_chars: int | None = None,
                      approve: Approver | None = None, paced: bool = True
                      ) -> AsyncIterator[Update]:
        """Yields the growing reply of `message`, after `history`.

        `place`: where the reply is kept (observers read it); `charge`: where its tokens
        count. `continues`: carry on the cut-off last reply of `history`, asking nothing new.
        `route`: the backend and adapters to use, when not the server's (a visitor's key).
        `shown_chars`: the text the page already shows (default: `history`'s), which
        makes each update dearer to draw, so they come less often. `approve`: asks the
        user about a call to a tool that asks first (without it, such calls are refused).
        `paced`: batch the updates for a page to draw; False (the API): each event at once.
        """
        # The choice as made ("Auto", "backend/model") stays in the options, which the chat
        # keeps; `model` is the model's own name on the backend the choice picks.
        decision, choice = None, options.model
        if route is None:
            if self.router is not None and is_auto(choice):
                decision = await self._decide(message, history, images, options, place,
                                              continues)
                choice = decision.models[0]
            route, model = self.routes.pick(choice)
        else:  # a visitor's own server: its default model stands in for Auto
            model = route.backend.default_model if is_auto(choice) else choice
        prepared = await self.preparer.prepare(
            message, history, options, route, memories=memories, images=images,
            place=place or Place(), charge=charge, continues=continues, shown_chars=shown_chars,
            model=model)
        if isinstance(prepared, Notice):
            yield prepared
        elif prepared is not None:
            pace = (lambda: self.update_interval(prepared.shown_chars)) if paced else None
            adapter = route.adapters[prepared.reply.api]
            if decision is not None:
                adapter = self._routed(prepared.reply, decision, options)
            async for update in self._stream(prepared.reply, prepared.request, pace, route,
                                             approve, adapter):
                yield update

    async def _decide(self, message: Any, history: Sequence[Message], images: Sequence[Image],
                      options: TurnOptions, place: Place | None, continues: bool) -> Decision:
        """Auto's route for the message (on Continue, for the message the reply answers),
        by what it has and what the model would get: documents only when the owner has
        some, tools only when some are on."""
        assert self.router is not None
        text = message if isinstance(message, str) and not continues else \
            next((m.text for m in reversed(history) if m.role == "user"), "")
        owner = place.owner if place is not None else None
        documents = self.preparer.documents
        grounded = bool(options.documents and owner and documents is not None
                        and await documents.has_documents(owner))
        tools = [t for t in options.tools if t and (grounded or t != SEARCH_TOOL)]
        asked = Asked(text, len(images), grounded, bool(tools or options.client_tools))
        default = self.routes.default_route.backend
        return await self.router.decide_async(asked) or Decision(
            "default", (f"{default.name}/{default.default_model}",), "no route matched")

    def _routed(self, reply: Reply, decision: Decision, options: TurnOptions) -> Adapter:
        """Folds where Auto sent the reply into it; the adapter that tries the route's
        models in turn."""
        candidates = []
        for choice in decision.models:
            route, model = self.routes.pick(choice)
            api = options.api if options.api and options.api in route.adapters \
                else route.backend.default_api
            candidates.append(Candidate(route.adapters[api], route.backend.name, model or "",
                                        route.backend.ensure_ready))
        first = candidates[0]
        reply.fold([Routed(first.backend, first.model, decision.why, decision.route)])
        return NextModelOnFailure(candidates)

    async def _stream(self, reply: Reply, request: ModelRequest,
                      pace: Callable[[], float] | None, route: Route,
                      approve: Approver | None, adapter: Adapter) -> AsyncIterator[Update]:
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
                              cleared=self._clearance(reply, check), approve=approve)
            events = self.rounds.stream(adapter, request, scope)
            if check is not None:
                events = until_judged(events, check)
            batched: AsyncGenerator[list[Event], None] = \
                Batches(events, pace).__aiter__() if pace is not None else _one_by_one(events)
            async with aclosing(batched) as batches:
                async for batch in batches:
                    update = self._update(reply, batch)
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
            if step.approval == "pending":  # stopped while it waited: never answered
                step.approval = "timed out"
        if reply.prompt_tokens is None:  # the server sent no usage: estimate it
            reply.prompt_tokens = messages_tokens(request.messages)
            reply.completion_tokens = reply.text_pieces
        self._notify("reply_finished", reply)

    @staticmethod
    def _update(reply: Reply, batch: list[Event]) -> Update | None:
        """Folds a batch of events into the reply; what to show, if anything changed."""
        folded = reply.fold(batch)
        if folded.text:
            return reply
        if (retrying := folded.retrying) is not None:
            return Notice("retrying", f"{retrying.failure.message} Retrying in "
                          f"{retrying.delay:.1f} s (attempt {retrying.attempt} of "
                          f"{retrying.of})…")
        return reply if folded.changed else None

    def _notify(self, method: str, reply: Reply) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(reply)
            except Exception:  # an observer must never break a reply
                log.exception("observer %s.%s failed", type(observer).__name__, method)
