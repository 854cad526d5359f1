"""What a share link shows: the path a chat shows, up to a message, with only what the
owner ticked. The snapshot is the export format (export.py), so "Continue this chat"
imports it like a file."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from .export import to_json
from .records import Conversation, NotFound

if TYPE_CHECKING:
    from .repository import Store


@dataclass(frozen=True)
class ShareOptions:
    """What a snapshot keeps besides the messages' text; nothing unless ticked."""
    system_prompt: bool = False  # the chat's system prompt and the owner's saved facts
    tools: bool = False  # steps: tool calls with their arguments and results, reasoning
    documents: bool = False  # the passages a reply cites
    images: bool = False  # images attached to messages


def snapshot(conversation: Conversation, options: ShareOptions, up_to: int | None = None,
             facts: Sequence[str] = ()) -> dict[str, Any]:
    """The chat's shown path up to message `up_to` (default: all of it), as a snapshot."""
    path = tuple(dataclasses.replace(
        m, steps=m.steps if options.tools else (),
        sources=m.sources if options.documents else (),
        images=m.images if options.images else (), settings=None)
        for m in conversation.path(up_to))
    prompt = conversation.settings.get("system_prompt") if options.system_prompt else None
    shown = dataclasses.replace(conversation, id="", messages=path,
                                active_id=path[-1].id if path else None,
                                settings={"system_prompt": prompt} if prompt else {})
    return {"title": conversation.title, "chat": to_json(shown, time.time()),
            "facts": list(facts) if options.system_prompt else []}


def share_chat(store: Store, owner: str, conversation_id: str, options: ShareOptions,
               audience: str = "anyone", expires: float | None = None) -> str:
    """A link to a snapshot of the owner's chat, as it shows now: its token. NotFound for
    a chat that is not theirs; ValueError for an empty one or an unknown audience."""
    conversation = store.get_conversation(owner, conversation_id)
    if conversation is None:
        raise NotFound(conversation_id)
    if not conversation.messages:
        raise ValueError("The chat has no messages to share yet.")
    facts = [m.text for m in store.list_memories(owner)] if options.system_prompt else []
    return store.create_share(owner, conversation.id, snapshot(conversation, options,
                                                               facts=facts), audience, expires)
