"""The sidebar's Share box: a read-only link to the chat shown, with only what the owner
ticks; their links, to revoke; and "Continue this chat" for whoever opens one."""

from __future__ import annotations

import time
from typing import Any

import gradio as gr

from ..storage.records import NotFound
from ..storage.snapshots import ShareOptions, share_chat
from .conversations_panel import ConversationPanel
from .share_page import CONTINUE_PARAMETER, PATH

SHARE_BOX_ID = "share-box"
CONTINUE_ID = "continue-shared"
INCLUDED = {"System prompt and saved facts": "system_prompt",
            "Tool arguments and results": "tools",
            "Documents' passages and files": "documents", "Images": "images"}
EXPIRY_DAYS = {"Never": None, "1 day": 1, "7 days": 7, "30 days": 30}
AUDIENCES = {"Anyone with the link": "anyone", "Signed-in users only": "signed_in"}
# Read once, then taken off the address, so that a reload does not copy the chat again.
TAKE_CONTINUE = ("(shared, token) => { const url = new URL(window.location.href);"
                 f" const wanted = url.searchParams.get('{CONTINUE_PARAMETER}') || '';"
                 f" url.searchParams.delete('{CONTINUE_PARAMETER}');"
                 " window.history.replaceState(null, '', url); return [wanted, token]; }")
CONTINUE_IF_ASKED = (f"() => {{ if (new URLSearchParams(window.location.search).has("
                     f"'{CONTINUE_PARAMETER}')) document.getElementById('{CONTINUE_ID}')"
                     "?.click(); return []; }")


class SharePanel:
    def __init__(self, panel: ConversationPanel, sharing: bool) -> None:
        self.panel = panel
        self.store = panel.store
        self.identity = panel.identity
        self.sharing = sharing
        panel.sharing = sharing  # the chat list then offers 🔗 on each chat

    def render(self) -> None:
        with gr.Accordion("Share", open=False, elem_id=SHARE_BOX_ID) as self.box:
            if not self.sharing:
                gr.Markdown("Sharing is off on this app (ASSISTANT_SHARING).")
                return
            self.included = gr.CheckboxGroup(
                label="Also share", choices=list(INCLUDED), value=[],
                info="The messages' text is always shared; the rest only when ticked.")
            audiences = list(AUDIENCES) if self.identity.signs_in else list(AUDIENCES)[:1]
            self.audience = gr.Radio(label="Who can open it", choices=audiences,
                                     value=audiences[0])
            self.expiry = gr.Dropdown(label="Expires", choices=list(EXPIRY_DAYS), value="Never")
            self.create = gr.Button("Create share link", size="sm")
            self.link = gr.Textbox(label="Link (a snapshot: it does not change when the chat "
                                   "goes on)", buttons=["copy"], interactive=False,
                                   visible=False, elem_id="share-link")
            self.links = gr.Dropdown(label="Your share links", choices=[], elem_id="share-links")
            self.revoke = gr.Button("Revoke", size="sm", variant="stop")

    def wire(self, demo: gr.Blocks, token: Any, opened: list[Any]) -> None:
        private: dict[str, Any] = {"api_visibility": "private"}
        shared, continue_button = gr.Textbox(visible=False), \
            gr.Button(visible="hidden", elem_id=CONTINUE_ID)
        continue_button.click(self._continue, [shared, token],
                              [self.panel.conversations, *opened, token], js=TAKE_CONTINUE,
                              **private)
        demo.load(None, None, None, js=CONTINUE_IF_ASKED)
        if not self.sharing:
            return
        self.create.click(self._create, [self.included, self.audience, self.expiry, token],
                          [self.link, self.links], **private)
        self.revoke.click(self._revoke, [self.links, token], [self.links, self.link], **private)
        self.box.expand(self._links, token, self.links, **private)  # not on load: no cost

    def _create(self, included: list[str], audience: str, expiry: str, token: str,
                request: gr.Request) -> tuple[Any, Any]:
        owner, conversation_id = self.panel.current(token, request)
        if owner is None or conversation_id is None:
            raise gr.Error("Open a chat with messages first.")
        options = ShareOptions(**{INCLUDED[name]: True for name in included or []
                                  if name in INCLUDED})
        days = EXPIRY_DAYS.get(expiry)
        try:
            made = share_chat(
                self.store, owner, conversation_id, options,
                AUDIENCES.get(audience, "anyone") if self.identity.signs_in else "anyone",
                None if days is None else time.time() + days * 86400)
        except NotFound:
            raise gr.Error("This chat no longer exists.") from None
        except ValueError:
            raise gr.Error("Open a chat with messages first.") from None
        return gr.update(value=share_url(request, made), visible=True), self._links(token, request)

    def _links(self, token: str, request: gr.Request) -> dict[str, Any]:
        owner = self.identity.owner(request, token)
        shares = self.store.list_shares(owner) if owner else []
        choices = [(f"{s.title or 'Chat'} · {time.strftime('%Y-%m-%d', time.localtime(s.created))}"
                    f"{' · signed-in only' if s.audience == 'signed_in' else ''}"
                    f"{' · expires ' + time.strftime('%Y-%m-%d', time.localtime(s.expires)) if s.expires else ''}",
                    s.token) for s in shares]
        return gr.update(choices=choices, value=None)

    def _revoke(self, chosen: str | None, token: str, request: gr.Request) -> tuple[Any, Any]:
        owner = self.identity.owner(request, token)
        if not (owner and chosen):
            raise gr.Error("Choose one of your links first.")
        self.store.revoke_share(owner, chosen)
        gr.Info("The link is revoked: it now shows nothing.")
        return self._links(token, request), gr.update(value="", visible=False)

    def _continue(self, shared_token: str, token: str, request: gr.Request) -> tuple[Any, ...]:
        """Copies an opened snapshot into the visitor's own chats, and opens the copy."""
        shared = self.store.open_share(shared_token) if self.sharing and shared_token else None
        signed_in = (self.identity.owner(request) or "").startswith(("user:", "hf:"))
        if shared is None or shared.snapshot is None or \
                (shared.audience == "signed_in" and not signed_in):
            raise gr.Error("This shared chat is gone, or not shared with you.")
        owner = self.identity.owner_or_new(request, token)
        copy = self.store.import_json(owner, shared.snapshot["chat"])
        opened = self.panel.reopen(copy, token, request)
        return (self.panel.chat_list("", token, request), *opened,
                self.identity.page_token(request, token))


def share_url(request: gr.Request | None, token: str) -> str:
    base = str(getattr(getattr(request, "request", None), "base_url", "") or "/")
    return f"{base.rstrip('/')}/{PATH}/{token}"
