"""One reply as it happens: its steps, how it folds the stream's events into itself, and
the observers that watch it (storage, metrics)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Sequence, get_args

from .events import (
    Approval,
    Event,
    Failed,
    Finished,
    HandedBack,
    ReasoningDelta,
    RefusalDelta,
    Retrying,
    Routed,
    TextDelta,
    ToolApproval,
    ToolCalls,
    ToolFinished,
    ToolsOff,
    ToolStarted,
    Usage,
)
from .failures import EMPTY, TOOLS_ONLY, Failure
from .messages import Image, ToolCall
from .moderation import Verdict
from .sources import Source
from .validation import ReplyOptions

Outcome = Literal["streaming", "complete", "refused", "stopped", "failed", "truncated",
                  "flagged"]


@dataclass
class Step:
    """Something the reply did on the way to its answer: reasoning, a tool call, or where
    it was routed (`name`: backend/model, `text`: why)."""
    kind: Literal["reasoning", "tool", "route"]
    text: str = ""  # the reasoning, or the tool's result
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    seconds: float | None = None  # when restored from storage, the time it took then
    at: int = 0  # how much of the reply's text came before it
    name: str = ""  # a tool call's tool, id and arguments
    call_id: str = ""
    arguments: str = ""
    failed: bool = False
    round: int = 0  # a tool call's round: calls of one round ran at once
    approval: Approval | None = None  # a tool that asks first: the user's answer
    server: str = ""  # the MCP server of a tool that asks first

    @property
    def done(self) -> bool:
        return self.ended is not None or self.seconds is not None

    def duration(self, now: float | None = None) -> float:
        """Seconds it took, or has taken so far."""
        if self.seconds is not None:
            return self.seconds
        return (self.ended if self.ended is not None else (now or time.monotonic())) - self.started

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"type": self.kind, "text": self.text, "at": self.at,
                                  "seconds": round(self.duration(), 3)}
        if self.kind == "route":
            record.update(name=self.name)
        if self.kind == "tool":
            record.update(name=self.name, call_id=self.call_id, arguments=self.arguments,
                          failed=self.failed, round=self.round)
            if self.approval is not None:
                record.update(approval=self.approval, server=self.server)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Step:
        kind: Literal["reasoning", "tool", "route"] = record["type"] \
            if record.get("type") in ("tool", "route") else "reasoning"
        return cls(kind, str(record.get("text") or ""),
                   seconds=float(record.get("seconds") or 0.0), at=int(record.get("at") or 0),
                   name=str(record.get("name") or ""), call_id=str(record.get("call_id") or ""),
                   arguments=str(record.get("arguments") or ""),
                   failed=bool(record.get("failed")), round=int(record.get("round") or 0),
                   approval=_approval(record.get("approval")),
                   server=str(record.get("server") or ""))


def _approval(value: Any) -> Approval | None:
    return next((a for a in get_args(Approval) if a == value), None)


class TokenMeter(Protocol):
    def record_tokens(self, keys: Sequence[str], tokens: int) -> None: ...


@dataclass(frozen=True)
class Charge:
    """Where a reply's tokens are counted: a meter, under the turn's keys."""
    meter: TokenMeter
    keys: tuple[str, ...]


@dataclass
class Place:
    """Where a reply is kept: an owner's chat, after a message of it."""
    owner: str | None = None  # None: nobody's (an anonymous API call), so not kept
    conversation_id: str | None = None  # None: a new chat, made when the reply starts
    parent_id: int | None = None  # the message the first new record follows
    asks: bool = True  # a new user message; False: a new reply to (or after) `parent_id`
    message_id: int | None = None  # the reply's own record, once written
    earlier: tuple[int, ...] = ()  # the versions already after `parent_id`, oldest first
    kept: bool = True  # False: an API reply not saved; its owner's documents still answer


@dataclass
class Reply:
    """Everything known about one reply; observers read it, only the turn writes it."""
    backend: str
    model: str
    options: ReplyOptions
    user_message: str
    api: str = "chat_completions"
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    ended: float | None = None
    text: str = ""
    steps: list[Step] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)  # passages given, as numbered
    images: tuple[Image, ...] = ()  # attached to the user's message
    text_pieces: int = 0  # streamed deltas: a token each from OpenAI, llama.cpp, vLLM, Ollama
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = True
    usages: list[tuple[int, int]] = field(default_factory=list)  # (prompt, completion) each request
    retries: int = 0
    refused: bool = False
    tool_calls_requested: int = 0
    tools_off: bool = False  # the server refused tools: asked again without them
    handed_back: tuple[ToolCall, ...] = ()  # calls to the API caller's own tools, unrun
    route: str | None = None  # the Auto route that chose the model
    outcome: Outcome = "streaming"
    failure: Failure | None = None
    moderation: Verdict | None = None  # the message's check, once it has answered
    place: Place = field(default_factory=Place)
    charge: Charge | None = None

    def fold(self, batch: Sequence[Event]) -> Folded:
        """Takes a batch of the stream's events into the reply (per batch: no I/O here)."""
        pieces: list[str] = []
        changed = False
        retrying: Retrying | None = None
        for event in batch:
            if isinstance(event, TextDelta):
                pieces.append(event.text)
            elif isinstance(event, ReasoningDelta):
                self._reason(pieces, event.text)
                changed = True
            elif isinstance(event, RefusalDelta):
                pieces.append(event.text)
                self.refused = True
            elif isinstance(event, Usage):  # one per request: tool rounds add up
                self.prompt_tokens = (self.prompt_tokens or 0) + event.prompt_tokens
                self.completion_tokens = (self.completion_tokens or 0) + event.completion_tokens
                self.usage_estimated = False
                self.usages.append((event.prompt_tokens, event.completion_tokens))
            elif isinstance(event, ToolStarted):
                self._tool_started(pieces, event)
                changed = True
            elif isinstance(event, ToolFinished):
                self._tool_finished(event)
                changed = True
            elif isinstance(event, ToolApproval):
                self._tool_approval(event)
                changed = True
            elif isinstance(event, ToolCalls):
                self.tool_calls_requested += len(event.calls)
            elif isinstance(event, HandedBack):
                self.handed_back = event.calls
                changed = True
            elif isinstance(event, ToolsOff):
                self.tools_off = changed = True
            elif isinstance(event, Retrying):
                self.retries += 1
                retrying = event
            elif isinstance(event, Routed):
                self._routed(pieces, event)
                changed = True
            elif isinstance(event, Finished):
                self._finish(pieces)
            elif isinstance(event, Failed):
                self.failure = event.failure
                self.outcome = "truncated" if event.failure.kind == "length" else "failed"
        if pieces:
            self._add_text(pieces)
        return Folded(bool(pieces), changed, retrying)

    def _reason(self, pieces: list[str], text: str) -> None:
        step = self.steps[-1] if self.steps else None
        if step is None or step.kind != "reasoning" or step.ended is not None:
            step = Step("reasoning", at=len(self.text) + sum(map(len, pieces)))
            self.steps.append(step)
            if self.first_token is None:
                self.first_token = step.started
        step.text += text
        self.text_pieces += 1

    def _tool_started(self, pieces: list[str], event: ToolStarted) -> None:
        now = time.monotonic()
        for step in self.steps:
            if step.kind == "reasoning" and step.ended is None:
                step.ended = now
        call = event.call
        self.steps.append(Step("tool", at=len(self.text) + sum(map(len, pieces)),
                               name=call.name, call_id=call.call_id, arguments=call.arguments,
                               round=event.round))

    def _routed(self, pieces: list[str], event: Routed) -> None:
        self.backend, self.model = event.backend, event.model
        self.route = event.route or self.route
        now = time.monotonic()
        self.steps.append(Step("route", event.reason, started=now, ended=now,
                               at=len(self.text) + sum(map(len, pieces)),
                               name=f"{event.backend}/{event.model}"))

    def _tool_approval(self, event: ToolApproval) -> None:
        """The latest call with that id (ids may repeat across rounds) that has not ended."""
        for step in reversed(self.steps):
            if step.kind == "tool" and step.call_id == event.call_id and step.ended is None:
                step.approval, step.server = event.state, event.server
                return

    def _tool_finished(self, event: ToolFinished) -> None:
        result = event.result
        for step in self.steps:
            if step.kind == "tool" and step.call_id == result.call_id and step.ended is None:
                step.text, step.failed = result.output, result.failed
                step.ended = step.started + event.seconds
                return

    def _add_text(self, pieces: list[str]) -> None:
        now = time.monotonic()
        if self.first_token is None:
            self.first_token = now
        last = self.steps[-1] if self.steps else None
        if last is not None and last.kind == "reasoning" and last.ended is None:
            last.ended = now
            if last.at == len(self.text):
                pieces[0] = pieces[0].lstrip()
        self.text += "".join(pieces)
        self.text_pieces += len(pieces)

    def _finish(self, pieces: list[str]) -> None:
        if self.text or any(pieces) or self.handed_back:
            self.outcome = "refused" if self.refused else "complete"
            return
        self.failure = TOOLS_ONLY if self.tool_calls_requested else EMPTY
        self.outcome = "failed"


@dataclass(frozen=True)
class Folded:
    """What a batch changed: text, anything else shown, or a retry to announce."""
    text: bool
    changed: bool
    retrying: Retrying | None


class ReplyObserver(Protocol):
    """Storage and metrics hook in here; called from the event loop, so keep them quick."""
    def reply_started(self, reply: Reply) -> None: ...
    def reply_progress(self, reply: Reply) -> None: ...
    def reply_finished(self, reply: Reply) -> None: ...
