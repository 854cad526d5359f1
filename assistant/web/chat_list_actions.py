"""What a click in the chat list does (web/chat_list.py draws it): open a chat or a
search hit, pin, rename, move, delete, and the folders' own actions.

Every action goes through the store with the caller's owner, so an id from someone
else's list does nothing but say that the chat is gone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from ..storage.records import NotFound
from .chat_list import scroll_mark

if TYPE_CHECKING:
    from .conversations_panel import ConversationPanel

GONE = "This chat or folder is gone."


class ChatListActions:
    def __init__(self, panel: ConversationPanel) -> None:
        self.panel = panel
        self.store = panel.store

    def act(self, query: str, token: str, event: gr.EventData,
            request: gr.Request) -> tuple[Any, ...]:
        """The list after the action, then what the chat shows (unchanged unless the
        action opened a chat or deleted the one shown)."""
        data = event._data if isinstance(event._data, dict) else {}
        act, target, text = str(data.get("act", "")), str(data.get("id", "")), \
            str(data.get("text", ""))
        owner = self.panel.identity.owner(request, token)
        if owner is None:
            raise gr.Error("Your chats are not found: reload the page.")
        session = self.panel.identity.sessions.get(request.session_hash)
        opened: tuple[Any, ...] | None = None
        found = ""
        if act in ("open", "hit"):
            if act == "hit":
                found = self._show_message(owner, target, data.get("message"))
            opened = self.panel.reopen(target, token, request)
            if opened[4] != target:
                raise gr.Error(GONE)
        elif act == "delete":
            self._done(self.store.delete_conversation(owner, target))
            if session.conversation_id == target:
                session.open(None)
                opened = self.panel.cleared()
        else:
            self._change(act, owner, target, text)
            if act == "rename" and session.conversation_id == target:
                opened = (gr.skip(), gr.skip(), text.strip(),
                          *[gr.skip() for _ in range(len(self.panel.cleared()) - 3)])
        if opened is None:
            opened = tuple(gr.skip() for _ in self.panel.cleared())
        return (self.panel.chat_list(query, token, request) + found, *opened)

    def _show_message(self, owner: str, conversation_id: str, message: Any) -> str:
        """A search hit opens its chat on the path that holds the message; returns the
        mark that has the page scroll the chat to it."""
        conversation = self.store.get_conversation(owner, conversation_id)
        if conversation is None or not isinstance(message, (int, float)) \
                or all(m.id != int(message) for m in conversation.messages):
            raise gr.Error(GONE)
        leaf = conversation.newest_leaf(int(message))
        self.store.set_active(owner, conversation.id, leaf)
        path = conversation.path(leaf)
        upto = next(i for i, m in enumerate(path) if m.id == int(message))
        asked = sum(m.role == "user" for m in path[:upto + 1])
        return scroll_mark(max(0, asked - 1), reply=path[upto].role == "assistant")

    def _change(self, act: str, owner: str, target: str, text: str) -> None:
        changes: dict[str, Callable[[], bool]] = {
            "pin": lambda: self.store.set_pinned(owner, target, True),
            "unpin": lambda: self.store.set_pinned(owner, target, False),
            "rename": lambda: self.store.rename_conversation(owner, target, text),
            "move": lambda: self.store.move_conversation(
                owner, target, self.store.create_folder(owner, text) if text.strip() else None),
            "new-folder": lambda: bool(self.store.create_folder(owner, text)),
            "rename-folder": lambda: self.store.rename_folder(owner, target, text),
            "delete-folder": lambda: self.store.delete_folder(owner, target),
        }
        if act not in changes:
            raise gr.Error("Unknown action.")
        try:
            self._done(changes[act]())
        except (ValueError, NotFound) as exc:
            raise gr.Error(f"{str(exc)[:1].upper()}{str(exc)[1:]}.") from None

    @staticmethod
    def _done(changed: bool) -> None:
        if not changed:
            raise gr.Error(GONE)
