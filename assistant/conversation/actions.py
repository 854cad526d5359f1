"""What the user asked for, as an action on the stored path, and what the turn then sends.

Send, Edit, Retry, Regenerate and Continue are actions, never words: a user who types
"Continue" sends that word. Each action names where its records go in the tree, so an
earlier version is never thrown away: Retry adds a sibling reply, Edit a sibling message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence

from ..domain.messages import Image, Message
from ..domain.validation import InvalidInput
from ..storage.context import model_messages
from ..storage.records import Message as Record

ActionKind = Literal["send", "edit", "retry", "continue"]


@dataclass(frozen=True)
class Action:
    kind: ActionKind = "send"
    exchange: int | None = None  # which user message of the path (0 first); None: the last
    # The text the page shows for that message: it finds the message when the page holds
    # turns that stored nothing (a limit hit, a refused file) and the count is off.
    said: str | None = None


SEND = Action()


@dataclass(frozen=True)
class Plan:
    """The turn an action makes on a path."""
    history: list[Message]  # what the model sees before the message
    parent_id: int | None  # the record the new ones follow
    asks: bool = True  # a new user message is kept
    continues: bool = False  # carry on the cut-off last reply of `history`
    text: str | None = None  # the message to answer, when not the one the user sent now
    images: tuple[Image, ...] = field(default=())


def plan(action: Action, path: Sequence[Record]) -> Plan:
    """What `action` means on `path` (the stored messages the chat shows, in order)."""
    if action.kind == "send":
        return Plan(model_messages(path), path[-1].id if path else None)
    if action.kind == "continue":
        if not path or path[-1].role != "assistant":
            raise InvalidInput("There is no reply to continue.")
        return Plan(model_messages(path), path[-1].id, asks=False, continues=True)
    chosen = _find(action, path)
    if chosen is None:
        if action.said is None:
            raise InvalidInput("That message is no longer in this chat.")
        # Never stored: asked again, or as edited, after the path.
        return Plan(model_messages(path), path[-1].id if path else None,
                    text=action.said if action.kind == "retry" else None)
    message, before = path[chosen], path[:chosen]
    images = tuple(Image(i.media_type, i.data, i.name) for i in message.images)
    if action.kind == "edit":  # a sibling of the message, with what the user wrote now
        return Plan(model_messages(before), message.parent_id, images=images)
    return Plan(model_messages(before), message.id, asks=False, text=message.content,
                images=images)


def _find(action: Action, path: Sequence[Record]) -> int | None:
    """The index in `path` of the user message the action is about."""
    asked = [i for i, m in enumerate(path) if m.role == "user"]
    at = action.exchange if action.exchange is not None else len(asked) - 1
    if 0 <= at < len(asked) and action.said in (None, path[asked[at]].content):
        return asked[at]
    same = [i for i in asked[:at + 1] if path[i].content == action.said]
    return same[-1] if same else None
