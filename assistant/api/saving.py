"""Where an API reply is kept: nowhere, a new chat of the key's owner, or one of their
chats named by id, and what the model then sees."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any, Callable

from ..domain.messages import Message
from ..domain.reply import Place
from ..storage.context import model_messages
from ..storage.records import auto_title, new_conversation_id
from ..storage.repository import Store
from .errors import ApiError, bad_input
from .requests import ApiRequest

CHAT_HEADER = "x-assistant-chat"
CHAT_FIELD = "assistant_chat"
NEW = "new"
Written = Callable[[str], "Future[Any] | None"]


def chat_named(headers: Any, request: ApiRequest) -> str | None:
    """The chat the request names: `X-Assistant-Chat`, else metadata `assistant_chat`."""
    named = headers.get(CHAT_HEADER) or request.metadata.get(CHAT_FIELD)
    return named.strip() if isinstance(named, str) and named.strip() else None


class ChatSaving:
    def __init__(self, store: Store, written: Written) -> None:
        self.store = store
        self.written = written

    async def place(self, owner: str | None, chat: str | None, request: ApiRequest
                    ) -> tuple[Place, list[Message]]:
        """Where the reply goes, and the history before the new message."""
        if chat is None:
            return Place(owner, kept=False), request.history
        if owner is None:
            raise ApiError(401, "Saving a chat needs an API key: it is kept for the key's "
                           "owner.", param=f"metadata.{CHAT_FIELD}", code="invalid_api_key")
        if request.answers_tools:
            raise bad_input("A saved chat goes on with user messages; tool results of your "
                            "own tools cannot be saved.", "messages")
        if chat == NEW:
            return await asyncio.to_thread(self._new_chat, owner, request)
        pending = self.written(chat)
        if pending is not None:
            await asyncio.wait([asyncio.wrap_future(pending)])
        conversation = await asyncio.to_thread(self.store.get_conversation, owner, chat)
        if conversation is None:  # another owner's chat is as missing as a deleted one
            raise ApiError(404, f"No chat with the id “{chat[:64]}”.",
                           param=f"metadata.{CHAT_FIELD}", code="chat_not_found")
        path = conversation.path()
        parent = path[-1].id if path else None
        earlier = tuple(m.id for m in conversation.messages if m.parent_id == parent)
        # Only the new message sent: the stored chat is the context; else the request's.
        history = model_messages(path) if not request.history else request.history
        return Place(owner, chat, parent, True, earlier=earlier), history

    def _new_chat(self, owner: str, request: ApiRequest) -> tuple[Place, list[Message]]:
        """A new chat holding the conversation sent before the new message."""
        chat = self.store.create_conversation(owner, auto_title(request.text),
                                              conversation_id=new_conversation_id())
        parent: int | None = None
        for message in request.history:
            if message.role in ("user", "assistant") and message.text:
                parent = self.store.add_message(owner, chat, message.role, message.text,
                                                parent_id=parent)
        return Place(owner, chat, parent, True), request.history
