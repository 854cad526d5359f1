"""Questions to the user before a tool that changes things runs, and their answers.

A reply that calls such a tool pauses on `ask` until its owner answers (Allow once,
Always allow this tool in this chat, Deny) or the question times out, which counts as
a denial. Questions are keyed by who may answer: the reply's owner, or for a reply
kept in nobody's chat (an anonymous API caller) that caller's session. Nobody else's
answer reaches them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Literal

from ..domain.events import Approval
from ..domain.messages import ToolCall

Choice = Literal["allow", "always", "deny"]
DEFAULT_TIMEOUT = 300.0
ANSWERS: dict[Choice, Approval] = {"allow": "allowed", "always": "always", "deny": "denied"}


@dataclass
class Question:
    who: str  # who may answer
    chat: str | None  # the conversation, for "always allow in this chat"
    call: ToolCall
    server: str
    answer: asyncio.Future[Choice] = field(repr=False, compare=False,
                                           default_factory=lambda: asyncio.get_running_loop()
                                           .create_future())


class Approvals:
    """One per app. `ask` runs on the loop of the reply; `answer` may come from any thread."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self._waiting: list[Question] = []
        self._always: set[tuple[str, str, str]] = set()  # (who, chat, tool)
        self._lock = threading.Lock()

    async def ask(self, who: str, chat: str | None, call: ToolCall, server: str) -> Approval:
        """Waits for the answer about `call`; "always" once a chat allowed the tool."""
        if chat is not None and (who, chat, call.name) in self._always:
            return "always"
        question = Question(who, chat, call, server)
        with self._lock:
            self._waiting.append(question)
        try:
            choice = await asyncio.wait_for(asyncio.shield(question.answer), self.timeout)
        except TimeoutError:
            return "timed out"
        finally:
            with self._lock:
                self._waiting.remove(question)
        if choice == "always" and chat is not None:
            with self._lock:
                self._always.add((who, chat, call.name))
        return ANSWERS[choice]

    def waiting(self, who: str) -> list[Question]:
        """The questions `who` may answer, oldest first."""
        with self._lock:
            return [q for q in self._waiting if q.who == who and not q.answer.done()]

    def answer(self, who: str, choice: Choice, call_id: str | None = None) -> bool:
        """Answers `who`'s oldest question (or the one about `call_id`); False if none."""
        for question in self.waiting(who):
            if call_id is None or question.call.call_id == call_id:
                loop = question.answer.get_loop()
                loop.call_soon_threadsafe(_settle, question.answer, choice)
                return True
        return False


def _settle(answer: asyncio.Future[Choice], choice: Choice) -> None:
    if not answer.done():
        answer.set_result(choice)
