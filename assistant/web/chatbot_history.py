"""The chat history an API caller sends with /chat, read as our messages.

It is the caller's input, as an OpenAI request's messages are: a stored chat's context
comes from its records (storage/context.py), never from here. Gradio gives a history
in either of two shapes; steps and notices in it are not sent to the model.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from ..domain.messages import Image, Message, Text
from .render import (
    FLAGGED_NOTICE_ID,
    INCOMPLETE_NOTICE_ID,
    STEP_ID_PREFIX,
    STOPPED,
    incomplete_notice,
)


def message_text(content: Any) -> str:
    """The text of a message's content, whichever shape Gradio gave it."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if content.get("type", "text") == "text" and isinstance(content.get("text"), str):
            return str(content["text"])
        return ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return ""  # files and components carry no text for the model


def field(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, dict) else getattr(message, name, None)


def file_paths(content: Any) -> list[str]:
    """The paths of the files in a message's content, whichever shape Gradio gave it."""
    if isinstance(content, (list, tuple)):
        return [path for part in content for path in file_paths(part)]
    if isinstance(content, dict):
        if content.get("type") == "file":
            inner = content.get("file")
            return [inner] if isinstance(inner, str) else file_paths(inner)
        path = content.get("path")
        return [path] if isinstance(path, str) and content.get("type") != "text" else []
    inner = getattr(content, "file", None)
    path = getattr(inner if inner is not None else content, "path", None)
    return [path] if isinstance(path, str) else []


def shown_chars(history: Iterable[Any]) -> int:
    """How much text a chat shows: what each update of a reply below it costs to draw."""
    lengths: list[int] = [len(message_text(field(item, "content"))) for item in history or ()]
    return sum(lengths)


def history_files(history: Iterable[Any]) -> list[str]:
    """The paths of the files users sent in `history`."""
    return [path for item in history or () if field(item, "role") == "user"
            for path in file_paths(field(item, "content"))]


def history_messages(history: Iterable[Any], images: Mapping[str, Image] | None = None
                     ) -> list[Message]:
    """Gradio's history (either shape) as our messages: one per turn and role.

    Notices and steps are dropped; an incomplete mark flags the reply before it. A
    user's file becomes an image part when `images` has its path.
    """
    result: list[Message] = []
    for item in history or ():
        role = field(item, "role")
        metadata = field(item, "metadata") or {}
        if role == "assistant" and (metadata.get("title") or metadata.get("id")):
            if metadata.get("id") == FLAGGED_NOTICE_ID:
                while result and result[-1].role == "assistant":
                    result.pop()
                if result:
                    result.pop()  # the message moderation flagged
            elif metadata.get("id") == INCOMPLETE_NOTICE_ID and result:
                last = result[-1]
                if last.role == "assistant":
                    result[-1] = Message("assistant", last.parts, incomplete=True)
                else:
                    result.append(Message("assistant", (), incomplete=True))
            continue
        text = message_text(field(item, "content"))
        sent = tuple(images[path] for path in file_paths(field(item, "content"))
                     if path in images) if images and role == "user" else ()
        if role == "assistant" and result and result[-1].role == "assistant":
            last = result[-1]
            result[-1] = Message("assistant", (Text(last.text + text),), last.incomplete)
        elif role == "user" and result and result[-1].role == "user" \
                and not (result[-1].text and text):  # a file, and its message's text
            last = result[-1]
            joined = last.text or text
            result[-1] = Message("user", (*(Text(joined),) * bool(joined), *last.images, *sent))
        elif role in ("user", "assistant"):
            result.append(Message(role, (*(Text(text),) * bool(text), *sent)))
    return result


def mark_stopped(history: list[Any]) -> list[Any]:
    """The chat after Stop: a reply cut short by the user gets the incomplete mark."""
    if not history:
        return history
    last = history[-1]
    role = field(last, "role")
    notice_id = str((field(last, "metadata") or {}).get("id") or "")
    if role != "assistant" or (notice_id and not notice_id.startswith(STEP_ID_PREFIX)):
        return history
    return [*history, incomplete_notice(STOPPED, has_text=True)]
