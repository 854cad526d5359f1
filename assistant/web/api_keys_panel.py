"""The sidebar's API keys: a signed-in user makes a key (shown once), lists and revokes theirs.

Store calls block, so the handlers are plain functions: Gradio runs them on worker
threads. Each finds its owner in the request alone (the sign-in, never a token the page
sends), so a handler can only ever show or revoke the keys of whoever is signed in.
"""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from ..identity.api_keys import ApiKeys
from ..identity.owners import SIGNED_IN
from ..storage.records import ApiKey
from .callers import Identity
from .safe_markdown import markdown_text

SIGN_IN = "API keys are for signed-in users: sign in to make one."
SHOWN_ONCE = "Copy it now: it is not shown again."
NONE_YET = "*No keys yet.*"


def describe(key: ApiKey) -> str:
    created = time.strftime("%Y-%m-%d %H:%M", time.localtime(key.created))
    return f"`{key.id}` · {markdown_text(key.name) or '*no name*'} · created {created}"


class ApiKeysPanel:
    def __init__(self, keys: ApiKeys, identity: Identity) -> None:
        self.keys = keys
        self.identity = identity

    def signed_in(self, request: gr.Request) -> str | None:
        owner = self.identity.owner(request)
        return owner if owner is not None and owner.startswith(SIGNED_IN) else None

    def render(self) -> None:
        with gr.Accordion("API keys", open=False) as self.box:
            # With sign-in, whether this visitor is signed in is known once they open it.
            self.note = gr.Markdown("" if self.identity.signs_in else SIGN_IN,
                                    elem_id="api-keys-note")
            with gr.Column(visible=False) as self.controls:
                self.name = gr.Textbox(label="Name", placeholder="e.g. laptop script",
                                       max_lines=1, elem_id="api-key-name")
                self.create = gr.Button("Create key", size="sm", elem_id="api-key-create")
                with gr.Column(visible=False) as self.fresh:
                    self.new_key = gr.Textbox(label="Your new key", interactive=False,
                                              max_lines=1, buttons=["copy"],
                                              elem_id="api-key-new")
                    gr.Markdown(SHOWN_ONCE)
                self.listing = gr.Markdown(NONE_YET, elem_id="api-keys-list")
                with gr.Row():
                    self.chosen = gr.Dropdown(label="Key", choices=[], scale=3,
                                              elem_id="api-key-chosen")
                    self.revoke = gr.Button("Revoke", size="sm", variant="stop", scale=1,
                                            elem_id="api-key-revoke")

    def wire(self) -> None:
        if not self.identity.signs_in:
            return  # nobody can sign in: the note is all there is
        private: dict[str, Any] = {"api_visibility": "private"}
        listed = [self.listing, self.chosen]
        self.box.expand(self._show, None, [self.note, self.controls, *listed], **private)
        self.create.click(self._create, self.name,
                          [self.name, self.new_key, self.fresh, *listed], **private)
        self.revoke.click(self._revoke, self.chosen, [self.new_key, self.fresh, *listed],
                          **private)

    def _listed(self, owner: str) -> tuple[str, Any]:
        keys = self.keys.list(owner)
        return ("\n".join(f"- {describe(k)}" for k in keys) or NONE_YET,
                gr.update(choices=[(f"{k.name or 'no name'} ({k.id})", k.id) for k in keys],
                          value=None))

    def _show(self, request: gr.Request) -> tuple[Any, ...]:
        owner = self.signed_in(request)
        if owner is None:
            return SIGN_IN, gr.update(visible=False), gr.update(), gr.update()
        return "", gr.update(visible=True), *self._listed(owner)

    def _create(self, name: str, request: gr.Request) -> tuple[Any, ...]:
        owner = self.signed_in(request)
        if owner is None:
            return (gr.update(),) * 5
        key, _ = self.keys.create(owner, name or "")
        return "", key, gr.update(visible=True), *self._listed(owner)

    def _revoke(self, key_id: str | None, request: gr.Request) -> tuple[Any, ...]:
        owner = self.signed_in(request)
        if owner is None:
            return (gr.update(),) * 4
        if key_id:
            self.keys.revoke(owner, key_id)
        return "", gr.update(visible=False), *self._listed(owner)
