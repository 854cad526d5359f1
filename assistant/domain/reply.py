"""One reply as it happens, and the observers that watch it (storage, metrics)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import Failure
from .validation import ReplyOptions


@dataclass
class Reply:
    """Everything known about one reply; observers read it, only chat.py writes it."""
    backend: str
    model: str
    options: ReplyOptions
    user_message: str
    started: float = field(default_factory=time.monotonic)
    first_token: float | None = None
    ended: float | None = None
    text: str = ""
    text_pieces: int = 0  # streamed deltas: a token each from OpenAI, llama.cpp, vLLM, Ollama
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    usage_estimated: bool = True
    retries: int = 0
    outcome: str = "streaming"  # complete | stopped | failed | truncated
    failure: Failure | None = None
    context: dict[str, Any] = field(default_factory=dict)


class ReplyObserver(Protocol):
    """Storage and metrics hook in here; called from the event loop, so keep them quick."""
    def reply_started(self, reply: Reply) -> None: ...
    def reply_progress(self, reply: Reply) -> None: ...
    def reply_finished(self, reply: Reply) -> None: ...
