"""'Download all my data' and 'Delete all my data', in the sidebar and as endpoints."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import shutil
import time
from pathlib import Path
from typing import Any

import gradio as gr

from ..identity.api_keys import ApiKeys
from ..storage.owner_data import OwnerFiles, delete_everything, write_archive
from ..storage.repository import Store
from .chat_list import chat_list_html
from .conversations_panel import ConversationPanel

CONFIRM = "delete everything"
ASK = ("This deletes all your chats, memories, documents, API keys and shared questions "
       "from this server for good. Press **Yes, delete everything** to go on.")
DONE = "🗑️ All your data was deleted."
CONSENT = "Help improve this assistant: let the operator see my questions"
CONSENT_INFO = ("Off unless you tick it. Questions you ask while it is on appear, without "
                "your name, in the operator's list of common topics. Untick it to remove "
                "them all at once.")


class YourDataPanel:
    def __init__(self, store: Store, files: OwnerFiles, panel: ConversationPanel,
                 keys: ApiKeys | None = None) -> None:
        self.store = store
        self.files = files
        self.panel = panel
        self.keys = keys  # whose cache must forget a deleted owner's keys at once

    def _owner(self, token: str, request: gr.Request | None) -> str:
        owner = self.panel.identity.owner(request, token)
        if owner is None:
            raise gr.Error("Sign in, or pass the token your browser keeps, to reach your data.")
        return owner

    async def archive(self, owner: str) -> Path:
        folder = self.panel.export_dir / f"archive-{secrets.token_hex(8)}"
        folder.mkdir(mode=0o700)
        return await asyncio.to_thread(write_archive, self.store, self.files, owner,
                                       folder / "my-data.zip")

    async def delete(self, owner: str, session_hash: str | None) -> int:
        conversations = await asyncio.to_thread(self.store.all_conversations, owner)
        removed = await asyncio.to_thread(delete_everything, self.store, self.files, owner)
        if self.keys is not None:
            self.keys.forget(owner)
        for conversation in conversations:  # the copies the page was served
            shutil.rmtree(self.panel.export_dir / conversation.id, ignore_errors=True)
            for message in conversation.messages:
                for image in message.images:
                    digest = hashlib.sha256(image.data).hexdigest()[:32]
                    for copy in self.panel.images_dir.glob(f"{digest}.*"):
                        copy.unlink(missing_ok=True)
        self.panel.identity.sessions.get(session_hash).open(None)
        return removed

    # The page ------------------------------------------------------------------------------

    def render(self) -> None:
        with gr.Accordion("Your data", open=False) as self.box:
            self.consent = gr.Checkbox(False, label=CONSENT, info=CONSENT_INFO,
                                       elem_id="consent")
            self.download = gr.Button("Download all my data", size="sm")
            self.file = gr.File(label="Your archive", visible=False, interactive=False)
            self.ask = gr.Button("Delete all my data", size="sm", variant="stop")
            self.warning = gr.Markdown(ASK, visible=False)
            self.confirm = gr.Button("Yes, delete everything", variant="stop", size="sm",
                                     visible=False)
            self.cancel = gr.Button("Cancel", size="sm", visible=False)

    def wire(self, token: gr.components.Component, chat: gr.ChatInterface) -> None:
        private: dict[str, Any] = {"api_visibility": "private"}
        asking = [self.warning, self.confirm, self.cancel]
        self.download.click(self._download, token, self.file, **private)
        self.ask.click(lambda: [gr.update(visible=True)] * 3, None, asking, queue=False, **private)
        self.cancel.click(lambda: [gr.update(visible=False)] * 3, None, asking, queue=False,
                          **private)
        self.box.expand(self._consent_now, token, self.consent, queue=False, **private)
        self.consent.input(self._set_consent, [self.consent, token], [self.consent, token],
                           queue=False, **private)
        self.confirm.click(self._delete, token,
                           [*asking, chat.chatbot, chat.chatbot_state, self.panel.conversations,
                            self.panel.memory.memories, self.consent], **private)
        self._register_api()

    async def _consent_now(self, token: str, request: gr.Request) -> bool:
        owner = self.panel.identity.owner(request, token)
        return owner is not None and await asyncio.to_thread(self.store.consents, owner)

    async def _set_consent(self, consents: bool, token: str,
                           request: gr.Request) -> tuple[bool, Any]:
        """A visitor who has not written yet gets their id now, so the answer is kept."""
        owner = self.panel.identity.owner_or_new(request, token)
        await asyncio.to_thread(self.store.set_consent, owner, bool(consents), time.time())
        return bool(consents), self.panel.identity.page_token(request, token)

    async def _download(self, token: str, request: gr.Request) -> Any:
        return gr.update(value=str(await self.archive(self._owner(token, request))), visible=True)

    async def _delete(self, token: str, request: gr.Request) -> tuple[Any, ...]:
        await self.delete(self._owner(token, request), request.session_hash)
        gr.Info(DONE)
        hidden = gr.update(visible=False)
        return hidden, hidden, hidden, [], [], chat_list_html([], [], None), \
            gr.update(choices=[], value=[]), False

    def _register_api(self) -> None:
        async def delete_my_data(confirm: str, token: str = "",
                                 request: gr.Request | None = None) -> dict[str, Any]:
            """Deletes all your chats, memories, documents, API keys and shared questions;
            `confirm` must be "delete everything"."""
            if confirm != CONFIRM:
                raise gr.Error(f"Nothing was deleted: pass confirm=“{CONFIRM}” to delete all your data.")
            owner = self._owner(token, request)
            return {"deleted": True,
                    "removed": await self.delete(owner, getattr(request, "session_hash", None))}

        gr.api(delete_my_data, api_name="delete_my_data", queue=False)
        token = gr.Textbox("", visible=False)  # "": optional to clients (signed-in: none)
        gr.Button(visible=False).click(self._download_api, token, gr.File(visible=False),
                                       api_name="download_my_data")

    async def _download_api(self, token: str, request: gr.Request) -> str:
        return str(await self.archive(self._owner(token, request)))
