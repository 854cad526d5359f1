"""Conversations and memories as API endpoints (gradio_client, scripts).

The owner is the logged-in user name, else the anonymous `token` the page keeps
in the browser. Nobody reaches another owner's data: someone else's id answers
exactly like a missing one.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from ..storage.records import Conversation, NotFound
from ..storage.repository import Store
from ..storage.snapshots import ShareOptions, share_chat
from .callers import Identity
from .share_panel import share_url

SHARE_PARTS = ("system_prompt", "tools", "documents", "images")


def register_api(store: Store, identity: Identity, sharing: bool = False) -> None:
    """Call inside the Blocks context."""

    def owner_of(request: gr.Request | None, token: str) -> str:
        owner = identity.owner(request, token)
        if owner is None:
            raise gr.Error("Log in, or pass the token your browser keeps, to use your chats.")
        return owner

    def list_conversations(query: str = "", token: str = "", request: gr.Request = None
                           ) -> list[dict[str, Any]]:
        """Your chats, most recent first; `query` searches titles and messages."""
        return [{"id": c.id, "title": c.title, "updated": c.updated, "branches": c.branches,
                 "pinned": c.pinned, "folder_id": c.folder_id}
                for c in store.list_conversations(owner_of(request, token), query or None)]

    def export_conversation(conversation_id: str, token: str = "",
                            request: gr.Request = None) -> dict[str, Any]:
        """One chat in the JSON export format (the same file the Export button gives)."""
        try:
            return store.export_json(owner_of(request, token), conversation_id)
        except LookupError:
            raise gr.Error("No such chat.") from None

    def export_markdown(conversation_id: str, token: str = "", request: gr.Request = None) -> str:
        """One chat as Markdown."""
        try:
            return store.export_markdown(owner_of(request, token), conversation_id)
        except LookupError:
            raise gr.Error("No such chat.") from None

    def import_conversation(data: str, token: str = "", request: gr.Request = None) -> str:
        """Imports a JSON export as a new chat of yours; returns its id."""
        try:
            return store.import_json(owner_of(request, token), data)
        except ValueError as exc:
            raise gr.Error(f"This cannot be imported: {exc}") from None

    def rename_conversation(conversation_id: str, title: str, token: str = "",
                            request: gr.Request = None) -> bool:
        """Renames one of your chats; False if there is no such chat."""
        try:
            return store.rename_conversation(owner_of(request, token), conversation_id, title)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None

    def delete_conversation(conversation_id: str, token: str = "",
                            request: gr.Request = None) -> bool:
        """Deletes one of your chats for good; False if there is no such chat."""
        return store.delete_conversation(owner_of(request, token), conversation_id)

    def owned(conversation_id: str, token: str, request: gr.Request | None) -> Conversation:
        conversation = store.get_conversation(owner_of(request, token), conversation_id)
        if conversation is None:
            raise gr.Error("No such chat.")
        return conversation

    def list_versions(conversation_id: str, token: str = "",
                      request: gr.Request = None) -> dict[str, Any]:
        """The chat as a tree: every message with its parent (messages with one parent are
        versions of each other), whether the chat shows it, and the last one shown."""
        conversation = owned(conversation_id, token, request)
        shown = {m.id for m in conversation.path()}
        return {"active": conversation.active_id, "messages": [
            {"id": m.id, "parent": m.parent_id, "role": m.role, "status": m.status,
             "text": m.content, "shown": m.id in shown} for m in conversation.messages]}

    def show_version(conversation_id: str, message_id: int, token: str = "",
                     request: gr.Request = None) -> list[int]:
        """Shows that version of a message and the newest branch below it, as the page's
        Versions control does; the next message continues from there. Returns the ids of
        the messages now shown."""
        conversation = owned(conversation_id, token, request)
        if all(m.id != message_id for m in conversation.messages):
            raise gr.Error("No such message in this chat.")
        leaf = conversation.newest_leaf(int(message_id))
        store.set_active(owner_of(request, token), conversation.id, leaf)
        return [m.id for m in conversation.path(leaf)]

    def branch_conversation(conversation_id: str, message_id: int | None = None,
                            token: str = "", request: gr.Request = None) -> str:
        """A new chat holding the path up to `message_id` (default: the path shown);
        returns its id."""
        try:
            return store.branch_conversation(owner_of(request, token), conversation_id,
                                             None if message_id is None else int(message_id))
        except LookupError:
            raise gr.Error("No such chat or message.") from None

    def search_messages(query: str, token: str = "", request: gr.Request = None
                        ) -> list[dict[str, Any]]:
        """Your messages holding every word of `query` (the last as a prefix), best first;
        the snippet marks each match between U+0002 and U+0003."""
        return [{"conversation_id": h.conversation_id, "title": h.title,
                 "message_id": h.message_id, "role": h.role, "snippet": h.snippet}
                for h in store.search_messages(owner_of(request, token), query)]

    def pin_conversation(conversation_id: str, pinned: bool = True, token: str = "",
                         request: gr.Request = None) -> bool:
        """Pins one of your chats to the top of the list (or unpins it)."""
        return store.set_pinned(owner_of(request, token), conversation_id, bool(pinned))

    def list_folders(token: str = "", request: gr.Request = None) -> list[dict[str, Any]]:
        """Your folders, by name; list_conversations gives each chat's folder."""
        return [{"id": f.id, "name": f.name} for f in store.list_folders(owner_of(request, token))]

    def create_folder(name: str, token: str = "", request: gr.Request = None) -> str:
        """Your folder of that name, made if needed; returns its id."""
        try:
            return store.create_folder(owner_of(request, token), name)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None

    def rename_folder(folder_id: str, name: str, token: str = "",
                      request: gr.Request = None) -> bool:
        try:
            return store.rename_folder(owner_of(request, token), folder_id, name)
        except ValueError as exc:
            raise gr.Error(str(exc)) from None

    def delete_folder(folder_id: str, token: str = "", request: gr.Request = None) -> bool:
        """Deletes a folder of yours; its chats stay, outside any folder."""
        return store.delete_folder(owner_of(request, token), folder_id)

    def move_conversation(conversation_id: str, folder_id: str = "", token: str = "",
                          request: gr.Request = None) -> bool:
        """Puts one of your chats in one of your folders ("" takes it out of its folder)."""
        return store.move_conversation(owner_of(request, token), conversation_id,
                                       folder_id or None)

    def list_memories(token: str = "", request: gr.Request = None) -> list[dict[str, Any]]:
        """The facts you asked the assistant to remember."""
        return [{"id": m.id, "text": m.text} for m in store.list_memories(owner_of(request, token))]

    def add_memory(text: str, token: str = "", request: gr.Request = None) -> int:
        """Saves a fact; it is sent with your messages when memory is on."""
        if not text.strip():
            raise gr.Error("The fact is empty.")
        return store.add_memory(owner_of(request, token), text.strip())

    def delete_memory(memory_id: int, token: str = "", request: gr.Request = None) -> bool:
        """Deletes a saved fact for good."""
        return store.delete_memory(owner_of(request, token), int(memory_id))

    def share_conversation(conversation_id: str, include: list[str] | None = None,
                           audience: str = "anyone", expires_in_days: float | None = None,
                           token: str = "", request: gr.Request = None) -> dict[str, Any]:
        """A read-only link to a snapshot of one of your chats as it shows now. `include`
        names what is shared besides the text: system_prompt (with your saved facts),
        tools, documents, images. `audience`: anyone, or signed_in."""
        owner = owner_of(request, token)
        if not sharing:
            raise gr.Error("Sharing is off on this app (ASSISTANT_SHARING).")
        unknown = sorted(set(include or []) - set(SHARE_PARTS))
        if unknown:
            raise gr.Error(f"“{unknown[0][:40]}” cannot be shared; choose from: "
                           f"{', '.join(SHARE_PARTS)}.")
        if audience == "signed_in" and not identity.signs_in:
            raise gr.Error("Nobody signs in on this app: share with anyone, or not at all.")
        if expires_in_days is not None and not 0 < expires_in_days <= 3650:
            raise gr.Error("expires_in_days must be between 0 and 3650.")
        try:
            made = share_chat(store, owner, conversation_id,
                              ShareOptions(**{part: True for part in include or []}), audience,
                              None if expires_in_days is None
                              else time.time() + expires_in_days * 86400)
        except NotFound:
            raise gr.Error("No such conversation.") from None
        except ValueError as exc:
            raise gr.Error(str(exc)) from None
        return {"token": made, "url": share_url(request, made)}

    def list_shares(token: str = "", request: gr.Request = None) -> list[dict[str, Any]]:
        """Your share links that still open."""
        return [{"token": s.token, "conversation_id": s.conversation_id, "title": s.title,
                 "audience": s.audience, "created": s.created, "expires": s.expires}
                for s in store.list_shares(owner_of(request, token))]

    def revoke_share(share_token: str, token: str = "", request: gr.Request = None) -> bool:
        """Revokes one of your share links: it then opens nothing."""
        return store.revoke_share(owner_of(request, token), share_token)

    for endpoint in (list_conversations, export_conversation, export_markdown, import_conversation,
                     rename_conversation, delete_conversation, list_versions, show_version,
                     branch_conversation, search_messages, pin_conversation, list_folders,
                     create_folder, rename_folder, delete_folder, move_conversation,
                     list_memories, add_memory, delete_memory, share_conversation, list_shares,
                     revoke_share):
        gr.api(endpoint, api_name=endpoint.__name__, queue=False)
