"""What every store derives from reading one conversation: its exports and an owner's archive."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Mapping

from .export import Imported, parse_export, to_json, to_markdown
from .records import Conversation, ConversationSummary, NotFound, check_owner


class WholeConversations:
    """Mixed into a store that implements get_conversation and list_conversations."""

    def get_conversation(self, owner: str, conversation_id: str) -> Conversation | None:
        raise NotImplementedError

    def list_conversations(self, owner: str, query: str | None = None,
                           limit: int = 100) -> list[ConversationSummary]:
        raise NotImplementedError

    def import_json(self, owner: str, data: Mapping[str, Any] | str | bytes) -> str:
        raise NotImplementedError

    def branch_conversation(self, owner: str, conversation_id: str,
                            up_to: int | None = None) -> str:
        """A new conversation of `owner` holding the path to message `up_to` (default: the
        path the chat shows); NotFound if the conversation or the message is not theirs."""
        conversation = self._owned(owner, conversation_id)
        if up_to is not None and all(m.id != up_to for m in conversation.messages):
            raise NotFound(str(up_to))
        path = conversation.path(up_to)
        branch = dataclasses.replace(conversation, messages=path,
                                     active_id=path[-1].id if path else None,
                                     title=f"{conversation.title or 'Chat'} (branch)")
        return self.import_json(owner, to_json(branch, time.time()))

    def all_conversations(self, owner: str) -> list[Conversation]:
        """Every conversation of `owner`, whole, newest first (for their archive)."""
        found = [self.get_conversation(owner, c.id)
                 for c in self.list_conversations(owner, limit=1_000_000)]
        return [c for c in found if c is not None]

    def export_json(self, owner: str, conversation_id: str) -> dict[str, Any]:
        """The conversation in the versioned export format; NotFound if not the owner's."""
        return to_json(self._owned(owner, conversation_id), time.time())

    def export_markdown(self, owner: str, conversation_id: str) -> str:
        return to_markdown(self._owned(owner, conversation_id))

    def _owned(self, owner: str, conversation_id: str) -> Conversation:
        conversation = self.get_conversation(owner, conversation_id)
        if conversation is None:
            raise NotFound(conversation_id)
        return conversation


def read_import(owner: str, data: Mapping[str, Any] | str | bytes, now: float) -> Imported:
    """An export to import as a new conversation: its row, message rows, their parents and
    the active one (see parse_export), or a ValueError that says what is wrong."""
    check_owner(owner)
    if isinstance(data, (str, bytes)):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise ValueError(f"the file is not valid JSON ({exc})") from None
    return parse_export(data, now)
