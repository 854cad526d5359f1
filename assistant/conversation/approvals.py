"""Questions to the user before a tool that changes things runs, and their answers.

A reply that calls such a tool pauses on `ask` until its owner answers (Allow once,
Always allow this tool in this chat, Deny) or the question times out, which counts as
a denial. "Always" is kept in the chat's settings, so it lasts. Questions are keyed by
who may answer: the reply's owner, or for a reply kept in nobody's chat (an anonymous
API caller) that caller's session. Nobody else's answer reaches them.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from typing import Literal

from ..domain.events import Approval
from ..domain.messages import ToolCall
from ..storage.repository import Store
from ..tools.registry import Tool

Choice = Literal["allow", "always", "deny"]
DEFAULT_TIMEOUT = 300.0
ANSWERS: dict[Choice, Approval] = {"allow": "allowed", "always": "always", "deny": "denied"}


@dataclass
class Question:
    who: str  # who may answer
    chat: str | None  # the conversation, for "always allow in this chat"
    call: ToolCall
    answer: asyncio.Future[Choice] = field(repr=False, compare=False,
                                           default_factory=lambda: asyncio.get_running_loop()
                                           .create_future())


class Approvals:
    """One per app. `ask` runs on the loop of the reply; `answer` may come from any thread."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, store: Store | None = None) -> None:
        self.timeout = timeout
        self.store = store  # where a chat's "always" answers are kept
        self._waiting: list[Question] = []
        self._always: set[tuple[str, str, str]] = set()  # (who, chat, tool), without a store
        self._lock = threading.Lock()

    def asker(self, who: str, chat: str | None) -> ReplyQuestions:
        """What one reply asks through (tools/registry.py's Approver)."""
        return ReplyQuestions(self, who, chat)

    async def answered(self, who: str, chat: str | None, tool: str) -> Approval | None:
        """"always" once the chat allowed the tool for good; else None: ask."""
        if chat is not None and tool in await asyncio.to_thread(self._allowed, who, chat):
            return "always"
        return None

    def ask(self, who: str, chat: str | None, call: ToolCall) -> asyncio.Future[Approval]:
        """Asks about `call` at once (an answer counts from now on, even before the page
        shows the question); the future holds the answer."""
        question = Question(who, chat, call)
        with self._lock:
            self._waiting.append(question)
        waiting = asyncio.ensure_future(self._answer_to(question))
        waiting.add_done_callback(lambda _: self._forget(question))
        return waiting

    async def _answer_to(self, question: Question) -> Approval:
        try:
            choice = await asyncio.wait_for(asyncio.shield(question.answer), self.timeout)
        except asyncio.TimeoutError:
            return "timed out"
        if choice == "always" and question.chat is not None:
            await asyncio.to_thread(self._remember, question.who, question.chat,
                                    question.call.name)
        return ANSWERS[choice]

    def _forget(self, question: Question) -> None:
        with self._lock:
            self._waiting.remove(question)

    def _allowed(self, who: str, chat: str) -> set[str]:
        if self.store is None:
            with self._lock:
                return {tool for w, c, tool in self._always if (w, c) == (who, chat)}
        conversation = self.store.get_conversation(who, chat)
        allowed = conversation.settings.get("allowed_tools") if conversation else None
        return set(allowed) if isinstance(allowed, list) else set()

    def _remember(self, who: str, chat: str, tool: str) -> None:
        if self.store is None:
            with self._lock:
                self._always.add((who, chat, tool))
            return
        self.store.flush()  # the chat's row is written in the background
        allowed = self._allowed(who, chat) | {tool}
        self.store.update_settings(who, chat, {"allowed_tools": sorted(allowed)})

    def waiting(self, who: str) -> list[Question]:
        """The questions `who` may answer, oldest first."""
        with self._lock:
            return [q for q in self._waiting if q.who == who and not q.answer.done()]

    def answer(self, who: str, choice: Choice, chat: str | None = None,
               call_id: str | None = None) -> bool:
        """Answers `who`'s oldest question (in `chat`, and about `call_id`, when given);
        False if none waits."""
        for question in self.waiting(who):
            if (chat is None or question.chat == chat) and \
                    (call_id is None or question.call.call_id == call_id):
                loop = question.answer.get_loop()
                loop.call_soon_threadsafe(_settle, question.answer, choice)
                return True
        return False


def _settle(answer: asyncio.Future[Choice], choice: Choice) -> None:
    if not answer.done():
        answer.set_result(choice)


@dataclass(frozen=True)
class ReplyQuestions:
    """The questions of one reply: its owner (or caller) and its chat."""
    approvals: Approvals
    who: str
    chat: str | None

    async def answered(self, call: ToolCall, tool: Tool) -> Approval | None:
        return await self.approvals.answered(self.who, self.chat, call.name)

    def ask(self, call: ToolCall, tool: Tool) -> asyncio.Future[Approval]:
        return self.approvals.ask(self.who, self.chat, call)
