"""A stored conversation as the page shows it: its path as Chatbot messages, and the
versions control for its last message that has several."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import gradio as gr

from ..domain.reply import Step
from ..domain.sources import Source
from ..storage.records import Conversation, StoredImage
from .image_policy import ImagePolicy
from .render import NO_IMAGES, SourceLink, stored_reply
from .safe_markdown import safe_markdown


def chat_messages(conversation: Conversation, link: SourceLink | None = None,
                  images_dir: Path | None = None, images: ImagePolicy = NO_IMAGES,
                  leaf: int | None = None) -> list[Any]:
    """A stored conversation's path to `leaf` (default: the active path) as Chatbot
    messages, shown as the live chat showed them."""
    messages: list[Any] = []
    for message in conversation.path(leaf):
        if message.role == "user":
            files = [{"path": str(_image_file(i, images_dir))} for i in message.images] \
                if images_dir is not None else []
            text = safe_markdown(message.content, images)
            content = [*files, text] if files else text
            messages.append({"role": "user", "content": content})
        else:
            steps = [Step.from_record(step) for step in message.steps]
            sources = [Source.from_record(s) for s in message.sources]
            messages += stored_reply(message.content, steps, message.status, message.reason,
                                     sources, link, images)
    return messages


NO_VERSIONS: dict[str, Any] = {"__type__": "update", "visible": False, "choices": [],
                               "value": None}


def versions_choice(conversation: Conversation) -> dict[str, Any]:
    """The versions control for a conversation: its last message with other versions."""
    found = conversation.last_versions()
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
