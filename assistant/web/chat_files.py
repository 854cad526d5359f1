"""The open chat as a file to download (JSON or Markdown), and a JSON file read back as a
new chat of the caller's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

if TYPE_CHECKING:
    from .conversations_panel import ConversationPanel


class ChatFiles:
    def __init__(self, panel: ConversationPanel) -> None:
        self.panel = panel
        self.store = panel.store

    def export(self, kind: str, token: str, request: gr.Request) -> dict[str, Any]:
        owner, conversation_id = self.panel.current(token, request)
        if not (owner and conversation_id):
            raise gr.Error("Open a chat first.")
        conversation = self.store.get_conversation(owner, conversation_id)
        if conversation is None:
            raise gr.Error("This chat no longer exists.")
        name = "".join(ch if ch.isalnum() else "-" for ch in (conversation.title or "chat"))[:40]
        path = self.panel.export_dir / conversation_id / f"{name or 'chat'}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        if kind == "json":
            path.write_text(json.dumps(self.store.export_json(owner, conversation_id),
                                       ensure_ascii=False, indent=2))
        else:
            path.write_text(self.store.export_markdown(owner, conversation_id))
        return gr.update(value=str(path), visible=True)

    def import_chat(self, file: Any, token: str, request: gr.Request) -> tuple[Any, ...]:
        identity = self.panel.identity
        owner = identity.owner_or_new(request, token)
        try:
            data = Path(file if isinstance(file, str) else file.name).read_bytes()
            conversation_id = self.store.import_json(owner, data)
        except ValueError as exc:
            raise gr.Error(f"This file cannot be imported: {exc}") from None
        opened = self.panel.reopen(conversation_id, token, request)
        return (self.panel.chat_list("", token, request), *opened,
                identity.page_token(request, token))
