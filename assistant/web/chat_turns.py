"""The page's handlers for a turn: send, stop, follow a running reply, restore a page.

No `from __future__ import annotations` here: Gradio reads each handler's type hints
on every call, and string hints would be evaluated again each time.
"""

import asyncio
import itertools
import secrets
from typing import Any, AsyncIterator, Awaitable, Callable

import gradio as gr

from ..conversation.actions import SEND, Action, Plan
from ..conversation.approvals import ANSWERS, Approvals, Choice
from ..conversation.prepare import TurnOptions
from ..conversation.remote_runs import RemoteRuns
from ..conversation.runs import Runs
from ..conversation.turn import ChatService, Update
from ..domain.reply import Charge, Place, Reply
from ..domain.validation import InvalidInput
from ..providers.routes import Route
from ..quotas.meter import Admission
from ..voice.recording import AudioProblem
from .attachments import Attachments
from .chat_actions import ActionMessage, OpenedElsewhere, action_of
from .chatbot_history import history_messages, mark_stopped, shown_chars
from .conversations_panel import ConversationPanel
from .documents_panel import DocumentsPanel
from .own_key_panel import NEEDS_KEY_NOTICE, OwnKeyPanel
from .render import RAW, as_yielded, notice, render, turn_versions
from .usage_limits import UsageLimits
from .voice_panel import is_audio

LIMIT_NOTICE_ID = "limit"
SUBMIT = gr.update(submit_btn=True, stop_btn=False)
STOPPABLE = gr.update(submit_btn=False, stop_btn=True)


def from_a_page(request: gr.Request) -> bool:
    """Browsers send Origin with every POST; API clients such as gradio_client send none."""
    return bool((request.headers or {}).get("origin"))


def ended(update: Update, below: list[Any]) -> list[Any]:
    """What goes under a reply once it has ended (a Stop mark comes before it)."""
    return below if isinstance(update, Reply) and update.ended is not None else []


class ChatTurns:
    """`runs`: the replies running in this process; `remote`: those that other processes
    sharing the database run (with replicas), followed through it."""

    def __init__(self, service: ChatService, panel: ConversationPanel,
                 documents: DocumentsPanel, attachments: Attachments, limits: UsageLimits,
                 own_keys: OwnKeyPanel, runs: Runs[Update],
                 remote: RemoteRuns | None = None, approvals: Approvals | None = None) -> None:
        self.service = service
        self.approvals = approvals or Approvals()
        self.panel = panel
        self.documents = documents
        self.attachments = attachments
        self.limits = limits
        self.own_keys = own_keys
        self.runs = runs
        self.remote = remote
        # A message's recordings, as words (voice_panel.py), when voice is on.
        self.hear: Callable[[list[str], gr.Request], Awaitable[str]] | None = None
        self._restores = itertools.count(1)  # a new value each time a restore finds a run

    async def chat(self, message: Any, history: list[Any], model: str, temperature: float,
                   system_prompt: str, history_turns: int, max_tokens: int,
                   use_memory: bool, api: str, tools: list[str] | None,
                   use_documents: bool | None, request: gr.Request) -> AsyncIterator[Any]:
        """ChatInterface's function, and /chat: the message, the history, the settings."""
        session = self.panel.identity.sessions.get(request.session_hash)
        if session.reply_stopped:  # Gradio may sync its history state before the Stop mark
            history, session.reply_stopped = mark_stopped(history), False
        action = action_of(message) or SEND
        files: list[str]
        if isinstance(message, ActionMessage):
            text, files = message.text, []
        else:
            text, files = self.attachments.split(message)
            if action.kind != "send":
                files = []  # the message's files were taken when it was first sent
            if self.hear is not None and (recordings := [f for f in files if is_audio(f)]):
                files = [f for f in files if f not in recordings]
                try:
                    text = " ".join(t for t in (text, await self.hear(recordings, request))
                                    if isinstance(t, str) and t.strip())
                except AudioProblem as problem:
                    yield notice(f"⚠️ {problem}", notice_id="invalid")
                    return
        if action.kind in ("send", "edit") and not files and \
                not (isinstance(text, str) and text.strip()):
            return
        owner = self.panel.identity.owner(request)
        if owner is None and from_a_page(request) and request.session_hash:
            owner = self.panel.identity.owner_or_new(request)  # the page keeps it after the turn
        if self.own_keys.needs_key(request.session_hash):
            yield notice(NEEDS_KEY_NOTICE, notice_id=LIMIT_NOTICE_ID)
            return
        route = self.own_keys.route(request.session_hash)
        admitted = await self.limits.admit_async(request, owner, own_key=route is not None)
        if isinstance(admitted, str):
            yield notice(admitted, notice_id=LIMIT_NOTICE_ID)  # nothing reaches the model
            return
        try:  # the slot is released when the turn ends, or by its run when it has one
            options = TurnOptions(model, temperature, system_prompt, history_turns, max_tokens,
                                  api, tuple(tools or ()), documents=use_documents is not False)
            async for shown in self._answer(text, files, history, action, options, use_memory,
                                            owner, session, request, admitted, route):
                yield shown
        finally:
            if not admitted.handed_over:
                admitted.release()

    async def _answer(self, text: Any, files: list[str], history: list[Any], action: Action,
                      options: TurnOptions, use_memory: bool, owner: str | None, session: Any,
                      request: gr.Request, admitted: Admission,
                      route: Route | None) -> AsyncIterator[Any]:
        panel, attachments = self.panel, self.attachments
        memories: list[str] = []
        images, said = await attachments.take(owner, files)
        if said and not (isinstance(text, str) and text.strip()) and not images:
            yield said  # documents added, nothing asked
            return
        try:
            planned = await panel.plan_turn(request, owner, action,
                                            text if isinstance(text, str) else "")
        except InvalidInput as exc:
            yield notice(f"⚠️ {exc}", notice_id="invalid")
            return
        if planned is None:  # nobody's chat: the context is what the caller sent
            place, steps = Place(), Plan(history_messages(
                history, await attachments.earlier_images(history)), None,
                continues=action.kind == "continue")
        else:
            place, steps = planned
        if steps.text is not None:  # a stored message asked again
            text = steps.text
        if steps.images:  # a stored message's images, asked again or edited
            images = list(steps.images)
        if place.owner and use_memory:
            memories = await asyncio.to_thread(panel.memory.saved_facts, place.owner)
        link = attachments.source_link(owner)
        shown_safe = panel.images if from_a_page(request) else RAW  # /chat keeps the model's text
        approve = self.approvals.asker(self._who(place.owner, request), place.conversation_id)
        updates = self.service.respond(text, steps.history, options, memories=memories,
                                       images=images, place=place,
                                       charge=Charge(admitted.meter, admitted.keys),
                                       continues=steps.continues, route=route,
                                       shown_chars=shown_chars(history), approve=approve)
        run = self.runs.start(place, updates, on_end=admitted.hand_over())
        above, below = turn_versions(place) if shown_safe is not RAW else ([], [])
        drawn_here = place.conversation_id if shown_safe is not RAW else None
        left = (lambda: session.conversation_id != drawn_here) if drawn_here else None
        try:
            async for update in run.follow(leave=left):  # the page may open another chat
                shown = render(update, link, shown_safe)
                yield as_yielded([*above, *said, *shown, *ended(update, below)])
            if left is not None and left():
                yield OpenedElsewhere()  # the reply goes on, drawn where its chat is opened
        except (asyncio.CancelledError, GeneratorExit):  # Stop, a closed tab or a reload
            if not (place.owner and from_a_page(request)):  # only a page comes back to follow
                run.stop()  # an API caller's cancel is its Stop, as before
                session.reply_stopped = True
            raise

    @staticmethod
    def _who(owner: str | None, request: gr.Request) -> str:
        """Who may answer a reply's questions: its owner, else the caller's session; for a
        call without either, nobody (its questions time out, denied)."""
        if owner:
            return owner
        return f"session:{request.session_hash}" if request.session_hash \
            else f"call:{secrets.token_urlsafe(12)}"

    def answer(self, choice: Choice, call_id: str, request: gr.Request) -> bool:
        """An answer from the page to its reply's question about a call, wherever the reply
        runs (blocks on the database when another process runs it)."""
        owner = self.panel.identity.owner(request)
        conversation_id = self.panel.identity.sessions.get(request.session_hash).conversation_id
        if self.approvals.answer(self._who(owner, request), choice, conversation_id, call_id):
            return True
        return bool(self.remote and owner and conversation_id
                    and self.remote.answer(owner, conversation_id, choice))

    def answer_api(self, choice: str, token: str, request: gr.Request) -> str:
        """/answer_tool_call: answers the oldest question of the caller's replies."""
        if choice not in ANSWERS:
            raise gr.Error(f"The answer must be one of: {', '.join(ANSWERS)}.")
        who = self._who(self.panel.identity.owner(request, token), request)
        if not self.approvals.answer(who, choice):
            raise gr.Error("No tool call is waiting for your answer.")
        return ANSWERS[choice]

    async def stop(self, history: list[Any], token: str,  # on the loop, where runs live
                   request: gr.Request) -> tuple[list[Any], list[Any]]:
        """Stop: the reply this tab shows, wherever it runs."""
        self.panel.identity.sessions.get(request.session_hash).reply_stopped = True
        owner, conversation_id = self.panel.current(token, request)
        if not self.runs.stop(owner, conversation_id) and self.remote and owner \
                and conversation_id:
            await self.remote.stop(owner, conversation_id)  # it runs in another process
        marked = mark_stopped(history)
        return marked, marked

    async def follow(self, token: str, request: gr.Request) -> AsyncIterator[Any]:
        """The reply still being written in the chat this tab opened, after a reload or
        from another tab: the stored chat before it, then the reply as it grows.
        Yields the chatbot, its state and the message box."""
        owner, conversation_id = self.panel.current(token, request)
        if owner is None or conversation_id is None:
            yield gr.skip(), gr.skip(), gr.skip()
            return
        run = self.runs.find(owner, conversation_id)
        if run is None:
            async for shown in self._follow_elsewhere(owner, conversation_id):
                yield shown
            return
        link = self.attachments.source_link(owner)
        before: list[Any] | None = None
        below = turn_versions(run.place)[1]
        yield gr.skip(), gr.skip(), STOPPABLE
        async for update in run.follow():
            if before is None:
                before = await self.panel.shown_before(owner, conversation_id, run.place)
            shown = [*before, *render(update, link, self.panel.images), *ended(update, below)]
            yield shown, shown, gr.skip()
        yield gr.skip(), gr.skip(), SUBMIT

    async def _follow_elsewhere(self, owner: str, conversation_id: str) -> AsyncIterator[Any]:
        """The reply another process writes in this chat, as it is saved there; with none,
        the stored chat again if a reply in it just ended here (the page may have read the
        chat while that reply ran, and drawn a part of it)."""
        remote = self.remote
        conversation = await asyncio.to_thread(self.panel.store.get_conversation, owner,
                                               conversation_id) if remote is not None else None
        reply = remote.streaming_elsewhere(conversation) if remote is not None else None
        if remote is None or conversation is None or reply is None:
            stored = await self.panel.stored_chat(owner, conversation_id) \
                if self.runs.ended_recently(owner, conversation_id) else None
            yield (stored, stored, gr.skip()) if stored is not None else \
                (gr.skip(), gr.skip(), gr.skip())
            return
        before = self.panel.chat_of(owner, conversation, leaf=reply.parent_id)
        yield gr.skip(), gr.skip(), STOPPABLE
        async for saved in remote.follow(owner, reply.id):
            shown = [*before, *self.panel.reply_of(owner, saved)]
            yield shown, shown, gr.skip()
        yield gr.skip(), gr.skip(), SUBMIT

    async def versions_after_turn(self, query: str, token: str,
                                  request: gr.Request) -> tuple[Any, Any]:
        """The versions control, and the chat list that counts branches, once the reply
        that Retry, Edit or an option started ends."""
        run = await self.runs.next(*self.panel.current(token, request), timeout=10)
        if run is not None:
            await run.ended()
        versions = await self.panel.versions_now(token, request)
        return versions, await asyncio.to_thread(self.panel.chat_list, query, token, request)

    def left_today(self, token: str, request: gr.Request) -> str:
        line = self.limits.left_today(
            request, self.panel.identity.owner(request, token),
            own_key=self.own_keys.route(request.session_hash) is not None)
        return f"⏳ {line}" if line else ""

    def restore(self, token: str, shown: str, request: gr.Request) -> tuple[Any, ...]:
        """A returning page: its chats, documents and usage line, and, when the chat it
        shows has a reply running, a new value for the page's `running` counter."""
        chats = self.panel.restore(token, shown, request)
        owner, conversation_id = self.panel.current(token, request)
        live = self.runs.find(owner, conversation_id) is not None or bool(
            self.remote and owner and conversation_id
            and self.remote.find(owner, conversation_id))
        return (*chats, *self.documents.restore(token, request), self.left_today(token, request),
                next(self._restores) if live else gr.skip())
