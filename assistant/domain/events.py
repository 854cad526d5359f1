"""What a model stream turns into, whatever its protocol: a few typed events."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .failures import Failure
from .messages import ToolCall, ToolResult


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class RefusalDelta:
    text: str


@dataclass(frozen=True)
class ToolCalls:
    """The model asks for these calls; complete, with their arguments."""
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class HandedBack:
    """Calls to the API caller's own tools: the reply ends with them, for the caller to run."""
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True)
class ToolStarted:
    call: ToolCall
    round: int = 0


@dataclass(frozen=True)
class ToolFinished:
    result: ToolResult
    seconds: float


Approval = Literal["pending", "allowed", "always", "denied", "timed out"]
APPROVED: frozenset[Approval] = frozenset(("allowed", "always"))


@dataclass(frozen=True)
class ToolApproval:
    """A call to a tool that asks first: waiting for the user, or what they decided."""
    call_id: str
    state: Approval
    server: str = ""


@dataclass(frozen=True)
class ToolsOff:
    """The server refused a request with tools: this model is asked without them from now on."""
    model: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Retrying:
    attempt: int  # the attempt about to be made, from 2
    of: int  # attempts allowed in all
    delay: float
    failure: Failure


@dataclass(frozen=True)
class Finished:
    reason: str  # stop | tool_calls | …


@dataclass(frozen=True)
class Failed:
    failure: Failure


@dataclass(frozen=True)
class Moderated:
    """The message's moderation check has answered (the turn holds its verdict)."""


@dataclass(frozen=True)
class Routed:
    """The reply goes to `model` of `backend`, because of `reason` (Auto, or a fallback)."""
    backend: str
    model: str
    reason: str
    route: str = ""  # the Auto route's name


Event = (TextDelta | ReasoningDelta | RefusalDelta | ToolCalls | HandedBack | ToolStarted
         | ToolFinished | ToolApproval | ToolsOff | Usage | Retrying | Finished | Failed | Moderated
         | Routed)
