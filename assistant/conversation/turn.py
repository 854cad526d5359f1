"""One user turn, end to end: validate, build the messages, stream, yield to Gradio.

This is the only module that speaks Gradio's message shapes. What it yields:
- the reply so far, as a string, while text streams and when it completes;
- a list of messages when there is something to say about the reply: the text
  (if any) followed by a notice (a message with a metadata title, which
  `history.exchanges` never sends back to the model).
"""

from __future__ import annotations

import logging
import time
from contextlib import aclosing
from typing import Any, AsyncIterator, Sequence

from .backends import Backend, BackendUnavailable, host_of
from .coalesce import Batches
from .errors import Failure
from .history import (CONTINUE, INCOMPLETE_NOTICE_ID, REGENERATE, DoesNotFit, build_messages,
                      estimate_tokens, prepare_turn)
from .retry import RetryPolicy
from .settings import Settings
from .reply import Reply, ReplyObserver
from .reply_stats import format_stats
from .streaming import (ChatRequest, Failed, Finished, Retrying, TextDelta, Upstream, Usage,
                        stream_chat)
from .validation import InvalidInput, check_message, check_options

log = logging.getLogger(__name__)

# Each update re-renders the whole chat in Gradio (~0.4 ms short, ~5 ms with 200 long
# messages), so updates thin out as more replies stream at once and as the chat grows.
UPDATE_INTERVAL = 0.04  # at most 25 updates a second per reply
PER_ACTIVE_REPLY = 0.0005  # 200 replies streaming at once: 0.1 s
PER_1000_CHARS_SHOWN = 0.0012  # 200 messages of 1,000 characters: +0.24 s
MAX_INTERVAL = 0.5
STATS_NOTICE_ID = "stats"


def notice(title: str, *, notice_id: str, text: str = "", pending: bool = False,
           options: Sequence[str] = ()) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "metadata": {"title": title, "id": notice_id, "status": "pending" if pending else "done"},
    }
    if options:
        message["options"] = [{"value": value} for value in options]
    return message


def incomplete_notice(reason: str, has_text: bool) -> dict[str, Any]:
    """The mark under a reply that did not finish, with what the user can do next."""
    if has_text:
        return notice(f"⚠️ Reply incomplete: {reason}", notice_id=INCOMPLETE_NOTICE_ID,
                      options=[CONTINUE, REGENERATE])
    return notice(f"⚠️ {reason}", notice_id=INCOMPLETE_NOTICE_ID, options=[REGENERATE])


STOPPED = "You stopped this reply."


def mark_stopped(history: list[Any]) -> list[Any]:
    """The chat after Stop: a reply cut short by the user gets the incomplete mark."""
    if not history:
        return history
    last = history[-1]
    role = last.get("role") if isinstance(last, dict) else getattr(last, "role", None)
    metadata = (last.get("metadata") if isinstance(last, dict) else getattr(last, "metadata", None))
    if role != "assistant" or (metadata or {}).get("title"):
        return history
    return [*history, incomplete_notice(STOPPED, has_text=True)]


def with_memories(system_prompt: str, memories: Sequence[str]) -> str:
    if not memories:
        return system_prompt
    facts = "\n".join(f"- {fact}" for fact in memories)
    return f"{system_prompt}\n\nFacts the user asked you to remember:\n{facts}".strip()


class ChatService:
    """Answers one message at a time; one instance serves every user."""

    def __init__(self, settings: Settings, backend: Backend,
                 observers: Sequence[ReplyObserver] = ()) -> None:
        self.settings = settings
        self.backend = backend
        self.observers = list(observers)
        self.active_replies = 0
        self.upstream = Upstream(
            client=backend.client,
            host=host_of(str(backend.client.base_url)),
            read_timeout=settings.read_timeout,
            retry=RetryPolicy(max_retries=settings.max_retries, budget=settings.retry_budget),
            secrets=tuple(s for s in (settings.openai_api_key,) if s),
        )

    def update_interval(self, shown_chars: int = 0) -> float:
        """Seconds between updates of one reply, given the text already on screen."""
        busy = max(UPDATE_INTERVAL, self.active_replies * PER_ACTIVE_REPLY)
        return min(MAX_INTERVAL, busy + shown_chars / 1000 * PER_1000_CHARS_SHOWN)

    async def respond(self, message: Any, history: list[Any], model: str | None = None,
                      temperature: float = 0.7, system_prompt: str = "",
                      history_turns: int = 10, max_tokens: int = 1024, *,
                      memories: Sequence[str] = (),
                      context: dict[str, Any] | None = None) -> AsyncIterator[Any]:
        """Yields the growing reply; `context` is handed to observers (owner, conversation)."""
        try:
            text = check_message(message, self.settings.max_message_chars)
            if not text.strip():
                return  # nothing to answer, nothing sent upstream
            options = check_options(model, temperature, system_prompt, history_turns, max_tokens)
            past, user_text = prepare_turn(history, text)
            model_name = await self.backend.resolve_model(options.model)
            messages = build_messages(
                system_prompt=with_memories(options.system_prompt, memories), history=past,
                user_message=user_text, history_turns=options.history_turns,
                max_tokens=options.max_tokens,
                context_window=self.backend.context_window_for(model_name))
        except InvalidInput as exc:
            yield notice(f"⚠️ {exc}", notice_id="invalid")
            return
        except DoesNotFit as exc:
            yield notice(f"⚠️ This message is too long for the model: {exc}.", notice_id="invalid")
            return
        except BackendUnavailable as exc:
            yield incomplete_notice(f"The model is unavailable: {exc}.", has_text=False)
            return

        reply = Reply(backend=self.backend.kind, model=model_name, options=options,
                      user_message=text,
                      context=context if context is not None else {})
        request = ChatRequest(model_name, messages, options.temperature, options.max_tokens)
        shown = sum(len(e.user) + len(e.assistant) for e in past)
        async for update in self._stream(reply, request, shown):
            yield update

    async def _stream(self, reply: Reply, request: ChatRequest, shown_chars: int
                      ) -> AsyncIterator[Any]:
        self.active_replies += 1
        self._notify("reply_started", reply)
        try:
            await self.backend.ensure_ready()
            events = stream_chat(self.upstream, request)
            pace = lambda: self.update_interval(shown_chars)  # noqa: E731
            async with aclosing(Batches(events, pace).__aiter__()) as batches:
                async for batch in batches:
                    update = self._apply(reply, batch)
                    if update is not None:
                        self._notify("reply_progress", reply)
                        yield update
            if reply.outcome == "streaming":  # the stream ended without a verdict
                reply.outcome = "failed"
        except BackendUnavailable as exc:
            reply.outcome, reply.failure = "failed", Failure("unavailable", str(exc))
        except BaseException:  # Stop, a closed tab, or a bug: the reply ends here
            if reply.outcome == "streaming":
                reply.outcome = "stopped"
            raise
        finally:
            self._end(reply, request)
        yield self._final(reply)

    def _end(self, reply: Reply, request: ChatRequest) -> None:
        self.active_replies -= 1
        reply.ended = time.monotonic()
        if reply.prompt_tokens is None:  # the server sent no usage: estimate it
            reply.prompt_tokens = sum(estimate_tokens(m["content"]) for m in request.messages)
            reply.completion_tokens = reply.text_pieces
        self._notify("reply_finished", reply)

    def _final(self, reply: Reply) -> Any:
        """The last update: the whole text, its stats line, and why it is incomplete if it is."""
        stats = format_stats(reply) if reply.text else ""
        if reply.failure is None:
            return [reply.text, notice(stats, notice_id=STATS_NOTICE_ID)] if stats else reply.text
        mark = incomplete_notice(reply.failure.message, has_text=bool(reply.text))
        if stats:
            mark["metadata"]["log"] = stats
        return [reply.text, mark] if reply.text else mark

    def _apply(self, reply: Reply, batch: list[Any]) -> Any:
        """Folds a batch of events into the reply; returns what to show, if anything changed."""
        pieces: list[str] = []
        retrying: Retrying | None = None
        for event in batch:
            if isinstance(event, TextDelta):
                pieces.append(event.text)
            elif isinstance(event, Usage):
                reply.prompt_tokens = event.prompt_tokens
                reply.completion_tokens = event.completion_tokens
                reply.usage_estimated = False
            elif isinstance(event, Retrying):
                reply.retries += 1
                retrying = event
            elif isinstance(event, Finished):
                reply.outcome = "complete"
            elif isinstance(event, Failed):
                reply.failure = event.failure
                reply.outcome = "truncated" if event.failure.kind == "length" else "failed"
        if pieces:
            if reply.first_token is None:
                reply.first_token = time.monotonic()
            reply.text += "".join(pieces)
            reply.text_pieces += len(pieces)
            return reply.text
        if retrying is not None:
            policy = self.upstream.retry
            return notice(
                f"⏳ {retrying.failure.message} Retrying in {retrying.delay:.1f} s "
                f"(attempt {retrying.attempt} of {policy.max_retries + 1})…",
                notice_id="retrying", pending=True)
        return None

    def _notify(self, method: str, reply: Reply) -> None:
        for observer in self.observers:
            try:
                getattr(observer, method)(reply)
            except Exception:  # an observer must never break a reply
                log.exception("observer %s.%s failed", type(observer).__name__, method)
