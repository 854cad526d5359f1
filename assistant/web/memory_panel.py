"""The sidebar's Memory: facts the user saved, sent with every message when they ask.

Store calls block, so the handlers are plain functions that Gradio runs on worker threads.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from ..storage.repository import Store
from .callers import Identity


class MemoryPanel:
    def __init__(self, store: Store, identity: Identity) -> None:
        self.store = store
        self.identity = identity

    def saved_facts(self, owner: str) -> list[str]:
        """The facts to send with a turn; reads the database, so call it from a thread."""
        return [m.text for m in self.store.list_memories(owner)]

    def render(self) -> None:
        with gr.Accordion("Memory", open=False):
            self.use_memory = gr.Checkbox(
                label="Send my saved facts with every message", value=False,
                info="When on, the facts below are added to the system prompt.")
            self.memories = gr.CheckboxGroup(label="Saved facts (tick to delete)", choices=[])
            self.new_memory = gr.Textbox(placeholder="e.g. I prefer metric units", show_label=False,
                                         max_lines=2)
            with gr.Row():
                self.remember = gr.Button("Remember", size="sm")
                self.forget = gr.Button("Delete ticked", size="sm")

    def wire(self, token: gr.BrowserState) -> None:
        private: dict[str, Any] = {"api_visibility": "private"}
        self.remember.click(self._remember, [self.new_memory, token],
                            [self.memories, self.new_memory, token], **private)
        self.forget.click(self._forget, [self.memories, token], self.memories, **private)

    def choices(self, owner: str | None) -> dict[str, Any]:
        memories = self.store.list_memories(owner) if owner else []
        return gr.update(choices=[(m.text, m.id) for m in memories], value=[])

    def _remember(self, text: str, token: str, request: gr.Request) -> tuple[Any, ...]:
        if not (text or "").strip():
            return gr.update(), "", gr.update()
        owner = self.identity.owner_or_new(request, token)
        self.store.add_memory(owner, text.strip())
        return self.choices(owner), "", self.identity.page_token(request, token)

    def _forget(self, ticked: list[int], token: str, request: gr.Request) -> dict[str, Any]:
        owner = self.identity.owner(request, token)
        if owner is None:
            return self.choices(None)
        for memory_id in ticked or []:
            self.store.delete_memory(owner, int(memory_id))
        return self.choices(owner)
