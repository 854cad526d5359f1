"""Compare: one message to two models at once, both replies streaming side by side.

Both replies are kept in the chat as versions of one answer to the message; picking one
makes it the version the chat goes on from, and the other stays a version beside it.
Each reply counts against the user's limits.
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from typing import Any, AsyncIterator

import gradio as gr

from ..conversation.prepare import Notice, TurnOptions
from ..conversation.turn import ChatService, Update
from ..domain.messages import Message
from ..domain.reply import Charge, Place, Reply
from ..quotas.meter import Admission
from ..storage.context import model_messages
from ..storage.repository import Store
from .conversations_panel import ConversationPanel
from .own_key_panel import NEEDS_KEY_NOTICE, OwnKeyPanel
from .reply_stats import format_stats
from .safe_markdown import markdown_text, safe_markdown
from .usage_limits import UsageLimits

WAITING = "…"
SIDES = ("A", "B")


class ComparePanel:
    def __init__(self, service: ChatService, panel: ConversationPanel, store: Store,
                 limits: UsageLimits, own_keys: OwnKeyPanel) -> None:
        self.service, self.panel, self.store, self.limits = service, panel, store, limits
        self.own_keys = own_keys  # a visitor's own key answers their comparisons too

    def render(self, model_choices: list[str], first: str) -> None:
        with gr.Accordion("Compare two models", open=False, elem_id="compare"):
            with gr.Row():
                self.models = [gr.Dropdown(label=f"Model {side}", choices=model_choices,
                                           value=first, allow_custom_value=True,
                                           filterable=True) for side in SIDES]
            self.message = gr.Textbox(label="Message", lines=2, elem_id="compare-message",
                                      placeholder="One message, answered by both models")
            self.go = gr.Button("Compare", variant="primary", size="sm")
            with gr.Row(equal_height=False):
                self.replies, self.stats, self.keeps = [], [], []
                for side in SIDES:
                    with gr.Column():
                        self.replies.append(gr.Markdown(elem_id=f"compare-{side.lower()}"))
                        self.stats.append(gr.Markdown(elem_id=f"compare-stats-{side.lower()}"))
                        self.keeps.append(gr.Button(f"Continue with {side}", size="sm",
                                                    interactive=False))
            self.kept = gr.State(None)  # (conversation id, reply A's id, reply B's id)
            self.reopen = gr.State(None)  # the chat to show once a reply is picked

    def wire(self, opened: list[Any]) -> None:
        """`opened`: what shows a chat."""
        panel = self.panel
        private: dict[str, Any] = {"api_visibility": "private"}
        self.go.click(self.compare, [self.message, *self.models, self.panel.token],
                      [*self.replies, *self.stats, *self.keeps, self.kept, self.panel.token],
                      concurrency_limit=None, **private)
        for index, keep in enumerate(self.keeps):
            keep.click(self.keep, [gr.State(index), self.kept, panel.token], self.reopen,
                       **private).then(panel.reopen, [self.reopen, panel.token], opened,
                                       **private).then(
                panel.chat_list, [panel.search, panel.token], panel.conversations, **private)

    async def compare(self, text: str, model_a: str, model_b: str, token: str,
                      request: gr.Request) -> AsyncIterator[tuple[Any, ...]]:
        off = gr.update(interactive=False)
        if not (text or "").strip():
            yield ("", "", "⚠️ Write a message to compare.", "", off, off, None, gr.update())
            return
        if self.own_keys.needs_key(request.session_hash):
            yield ("", "", NEEDS_KEY_NOTICE, "", off, off, None, gr.update())
            return
        route = self.own_keys.route(request.session_hash)
        owner = self.panel.identity.owner_or_new(request, token)
        session = self.panel.identity.sessions.get(request.session_hash)
        admitted: list[Admission] = []
        for _ in SIDES:
            admission = await self.limits.admit_async(request, owner, own_key=route is not None)
            if isinstance(admission, str):
                for held in admitted:
                    held.release()
                yield ("", "", f"⚠️ {admission}", "", off, off, None, gr.update())
                return
            admitted.append(admission)
        try:
            conversation_id, question, history = await asyncio.to_thread(
                self._ask, owner, session.conversation_id, text.strip())
            session.open(conversation_id)
            places = [Place(owner, conversation_id, parent_id=question, asks=False)
                      for _ in SIDES]
            shown: list[str] = ["", ""]
            last: list[Reply | None] = [None, None]
            async for side, update in _both([
                self.service.respond(text.strip(), history,
                                     TurnOptions(model=model), place=place, route=route,
                                     charge=Charge(admission.meter, admission.keys))
                    for model, place, admission in zip((model_a, model_b), places, admitted)]):
                shown[side] = self._shown(update, shown[side])
                if isinstance(update, Reply):
                    last[side] = update
                yield (*shown, "", "", off, off, None, gr.update())
            on = gr.update(interactive=True)
            ids = (conversation_id, *(p.message_id for p in places))
            yield (*shown, *(stats_line(r) for r in last), on, on, ids,
                   session.token or gr.update())
        finally:
            for admission in admitted:
                admission.release()

    def _ask(self, owner: str, conversation_id: str | None, text: str
             ) -> tuple[str, int, list[Message]]:
        """The chat to answer in (a new one when none is open), the message asked, and
        what the models see before it: the stored chat, never what the page shows."""
        self.store.flush()  # the chat's last writes come first
        conversation = self.store.get_conversation(owner, conversation_id) \
            if conversation_id is not None else None
        if conversation is None:
            conversation_id = self.store.create_conversation(owner, text[:60])
        assert conversation_id is not None
        history = model_messages(conversation.path()) if conversation is not None else []
        return (conversation_id, self.store.add_message(owner, conversation_id, "user", text),
                history)

    def _shown(self, update: Update, before: str) -> str:
        if isinstance(update, Notice):  # a server's words may be in it: shown as text
            return f"⚠️ {markdown_text(update.message)}" if update.kind != "retrying" \
                else before
        text = safe_markdown(update.text, self.panel.images) or WAITING
        if update.failure is not None:
            text += f"\n\n⚠️ {markdown_text(update.failure.message)}"
        return text

    def keep(self, index: int, kept: tuple[str, int | None, int | None] | None, token: str,
             request: gr.Request) -> str | None:
        """Makes the picked reply the one the chat goes on from; the chat to show again."""
        owner = self.panel.identity.owner(request, token)
        if not kept or owner is None:
            return None
        conversation_id, *replies = kept
        if replies[index] is None:
            return None
        self.store.flush()
        self.store.set_active(owner, conversation_id, replies[index])
        return conversation_id


async def _both(streams: list[AsyncIterator[Update]]) -> AsyncIterator[tuple[int, Update]]:
    """The updates of both replies as they come, marked by side."""
    queue: asyncio.Queue[tuple[int, Update | None]] = asyncio.Queue()

    async def pump(side: int, stream: AsyncIterator[Update]) -> None:
        try:
            async for update in stream:
                await queue.put((side, update))
        finally:
            await queue.put((side, None))
    tasks = [asyncio.ensure_future(pump(i, s)) for i, s in enumerate(streams)]
    try:
        running = len(tasks)
        while running:
            side, update = await queue.get()
            if update is None:
                running -= 1
            else:
                yield side, update
    finally:
        for task in tasks:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)


def stats_line(reply: Reply | None) -> str:
    return f"*{format_stats(reply)}*" if reply is not None else ""
