"""A stored conversation as the page shows it: its path as Chatbot messages, and the
versions control for the message picked in it, or for its last message that has several."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import gradio as gr

from ..domain.reply import Step
from ..domain.reply_figures import ReplyFigures
from ..domain.sources import Source
from ..storage.records import Conversation, Message, StoredImage
from .image_policy import ImagePolicy
from .render import NO_IMAGES, SourceLink, stored_reply, versions_notice
from .reply_stats import format_figures
from .safe_markdown import safe_markdown


def chat_messages(conversation: Conversation, link: SourceLink | None = None,
                  images_dir: Path | None = None, images: ImagePolicy = NO_IMAGES,
                  leaf: int | None = None) -> list[Any]:
    """A stored conversation's path to `leaf` (default: the active path) as Chatbot
    messages, shown as the live chat showed them."""
    return [shown for _, shown in chat_entries(conversation, link, images_dir, images, leaf)]


def message_at(conversation: Conversation, index: int) -> Message | None:
    """The stored message that the chat's Chatbot message at `index` shows."""
    entries = chat_entries(conversation)
    found = entries[index][0] if 0 <= index < len(entries) else None
    return next((m for m in conversation.messages if m.id == found), None)


def chat_entries(conversation: Conversation, link: SourceLink | None = None,
                 images_dir: Path | None = None, images: ImagePolicy = NO_IMAGES,
                 leaf: int | None = None) -> list[tuple[int, Any]]:
    """`chat_messages`, each with the id of the stored message it shows (a reply shows
    as several: its steps, its text, its notices)."""
    messages: list[tuple[int, Any]] = []
    versions: dict[int | None, list[int]] = {}
    for m in conversation.messages:
        versions.setdefault(m.parent_id, []).append(m.id)
    for message in conversation.path(leaf):
        if message.role == "user":
            files = [{"path": str(_image_file(i, images_dir))} for i in message.images] \
                if images_dir is not None else []
            text = safe_markdown(message.content, images)
            content = [*files, text] if files else text
            messages.append((message.id, {"role": "user", "content": content}))
        else:
            messages += [(message.id, shown) for shown in reply_messages(message, link, images)]
        siblings = versions[message.parent_id]
        if len(siblings) > 1:
            messages.append((message.id, versions_notice(message.role, siblings,
                                                         siblings.index(message.id))))
    return messages


def reply_messages(message: Message, link: SourceLink | None = None,
                   images: ImagePolicy = NO_IMAGES) -> list[Any]:
    """A stored reply as Chatbot messages: its steps, its text, its notices."""
    steps = [Step.from_record(step) for step in message.steps]
    sources = [Source.from_record(s) for s in message.sources]
    figures = ReplyFigures.from_record(message.figures)
    stats = format_figures(figures, steps) if figures is not None and message.content else ""
    return stored_reply(message.content, steps, message.status, message.reason, sources,
                        link, images, stats)


NO_VERSIONS: dict[str, Any] = {"__type__": "update", "visible": False, "choices": [],
                               "value": None}


def versions_choice(conversation: Conversation, picked: Message | None = None) -> dict[str, Any]:
    """The versions control for a conversation: those of the message picked in the chat
    if it has several, else those of its last message that has."""
    versions = conversation.siblings(picked) if picked is not None else ()
    found = (picked, versions) if picked is not None and len(versions) > 1 \
        else conversation.last_versions()
    if found is None:
        return NO_VERSIONS
    shown, versions = found
    whose = "this reply" if shown.role == "assistant" else "your message"
    return gr.update(visible=True, label=f"Versions of {whose}", value=shown.id,
                     choices=[(f"{i} / {len(versions)}", m.id)
                              for i, m in enumerate(versions, 1)])


def _image_file(image: StoredImage, folder: Path) -> Path:
    """The image as a file Gradio can serve, named by its content (written once)."""
    suffix = {"image/png": ".png", "image/gif": ".gif", "image/webp": ".webp"}.get(
        image.media_type, ".jpg")
    path = folder / (hashlib.sha256(image.data).hexdigest()[:32] + suffix)
    if not path.exists():
        path.write_bytes(image.data)
    return path
