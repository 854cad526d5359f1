"""The sidebar's conversation list (and its Memory, memory_panel.py): wiring between the
page and the store.

Store calls block, so every handler here is a plain function: Gradio runs those on
worker threads, never on the event loop that streams replies.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from concurrent.futures import Future
from pathlib import Path
from typing import Any, Callable

import gradio as gr

from ..conversation.actions import Action, Plan, plan
from ..domain.reply import Place
from ..identity.owners import Session
from ..storage.recorder import log_write_failure
from ..storage.records import (
    Conversation,
    Message,
    NotFound,
    auto_title,
    new_conversation_id,
)
from ..storage.repository import Store
from .callers import Identity
from .chat_files import ChatFiles
from .chat_list import CHAT_LIST_ID, CHAT_LIST_SCRIPT, chat_list_html, search_results_html
from .chat_list_actions import ChatListActions
from .image_policy import ImagePolicy
from .memory_panel import MemoryPanel
from .page_style import NEW_CHAT_ID
from .render import NO_IMAGES, VERSION_LINK, SourceLink
from .source_links import SourceLinks
from .stored_chat import (
    NO_VERSIONS,
    chat_messages,
    message_at,
    reply_messages,
    versions_choice,
)

VERSION_SWITCH_ID = "version-switch"
TAKE_WANTED_VERSION = "(wanted, token) => [window.assistantVersion ?? null, token]"
# A click on a "◀ ▶" link in a versions notice's title (web/render.py) switches, on the
# page; a reply's text is never in a title, so a model's link to "#version-" does nothing.
SWITCH_ON_VERSION_LINKS = (
    "() => { document.addEventListener('click', (event) => {"
    " const link = event.target.closest && event.target.closest('a[href^=\"" + VERSION_LINK
    + "\"]'); if (!link || !link.closest('.thought-group > [role=button]')) return;"
    " event.preventDefault(); event.stopPropagation();"
    " window.assistantVersion = Number(link.getAttribute('href').slice("
    + str(len(VERSION_LINK)) + ")); document.getElementById('" + VERSION_SWITCH_ID
    + "')?.click(); }, true); return []; }")
Written = Callable[[str], "Future[Any] | None"]  # a chat's pending write, if any


class ConversationPanel:
    """Renders inside the sidebar; `wire` connects it to the chat once both exist."""

    def __init__(self, store: Store, identity: Identity, storage_key: str,
                 links: SourceLinks | None = None, images: ImagePolicy = NO_IMAGES,
                 written: Written = lambda _: None) -> None:
        self.store = store
        self.written = written
        self.images = images  # the image hosts a chat may show (ASSISTANT_IMAGE_HOSTS)
        self.identity = identity
        self.storage_key = storage_key  # public: it is in the page's config
        self.links = links
        self.sharing = False  # share links are on (set by web/share_panel.py)
        self.export_dir = Path(tempfile.mkdtemp(prefix="assistant-exports-"))
        self.images_dir = self.export_dir / "images"
        self.images_dir.mkdir(mode=0o700)
        self.memory = MemoryPanel(store, identity)

    def close(self) -> None:
        shutil.rmtree(self.export_dir, ignore_errors=True)

    # --- what the chat function asks for each turn ---------------------------------

    async def plan_turn(self, request: Any, owner: str | None, action: Action,
                        message: str) -> tuple[Place, Plan] | None:
        """Where the turn's records go and what the model sees, from the stored chat the
        session shows; None for an anonymous API caller, whose chat is not kept."""
        if owner is None:
            return None
        session = self.identity.sessions.get(request.session_hash)
        started: list[str] = []

        def start() -> str:
            started.append(self._start_conversation(owner, message))
            return started[0]
        conversation_id = self.identity.sessions.ensure_conversation(request.session_hash, start)
        conversation = None if started else await self._stored(owner, conversation_id)
        if conversation is None and not started:  # deleted meanwhile (in another tab):
            session.open(None)  # the message starts a new chat
            return await self.plan_turn(request, owner, Action(), message)
        planned = plan(action, conversation.path() if conversation is not None else ())
        earlier = tuple(m.id for m in conversation.messages
                        if m.parent_id == planned.parent_id) if conversation is not None else ()
        return Place(owner, conversation_id, planned.parent_id, planned.asks,
                     earlier=earlier), planned

    async def _stored(self, owner: str, conversation_id: str) -> Conversation | None:
        """The conversation as stored, once this process's writes to it have landed."""
        pending = self.written(conversation_id)
        if pending is not None:
            await asyncio.wait([asyncio.wrap_future(pending)])
        return await asyncio.to_thread(self.store.get_conversation, owner, conversation_id)

    def _start_conversation(self, owner: str, first_message: str) -> str:
        conversation_id = new_conversation_id()
        self.store.defer(lambda: self.store.create_conversation(
            owner, auto_title(first_message), conversation_id=conversation_id),
        ).add_done_callback(log_write_failure)
        return conversation_id

    def undo(self, token: str, request: gr.Request) -> None:
        """Undo: the chat shows the path up to before its last message; nothing is deleted."""
        owner, conversation_id = self.current(token, request)
        conversation = self.store.get_conversation(owner, conversation_id) \
            if owner and conversation_id else None
        if owner and conversation is not None:
            asked = [m for m in conversation.path() if m.role == "user"]
            if asked:
                self.store.set_active(owner, conversation.id, asked[-1].parent_id)

    async def shown_before(self, owner: str, conversation_id: str, place: Place) -> list[Any]:
        """The stored chat as shown up to the message the reply kept at `place` answers."""
        conversation = await self._stored(owner, conversation_id)
        if conversation is None:
            return []
        reply = next((m for m in conversation.messages if m.id == place.message_id), None)
        if reply is None:  # not written yet: it will follow the active message
            return self.chat_of(owner, conversation)
        return self.chat_of(owner, conversation, leaf=reply.parent_id)

    async def stored_chat(self, owner: str, conversation_id: str) -> list[Any] | None:
        """The chat as the page shows it, once this process's writes to it have landed."""
        conversation = await self._stored(owner, conversation_id)
        return self.chat_of(owner, conversation) if conversation is not None else None

    def chat_of(self, owner: str, conversation: Conversation,
              leaf: int | None = None) -> list[Any]:
        """The owner's stored chat as the page shows it, up to `leaf` (default: all of it)."""
        return chat_messages(conversation, self._link(owner), self.images_dir, self.images,
                             leaf=leaf)

    def reply_of(self, owner: str, reply: Message) -> list[Any]:
        """One stored reply of the owner's as the page shows it."""
        return reply_messages(reply, self._link(owner), self.images)

    def _link(self, owner: str) -> SourceLink | None:
        """Where a cited source of `owner`'s opens, if source links are on."""
        links = self.links
        return (lambda s: links.url(owner, s.passage_id)) if links else None

    # --- rendering -------------------------------------------------------------------

    def render_versions(self) -> None:
        """Under the chat: the versions of the message clicked in it (else of its last
        message that has several), and a new chat from the message clicked."""
        with gr.Row(equal_height=True):
            self.versions = gr.Radio(label="Versions", choices=[], visible=False,
                                     elem_id="versions", scale=4)
            self.branch_here = gr.Button("Branch into a new chat up to the message clicked",
                                         visible=False, size="sm", scale=1,
                                         elem_id="branch-here")
        # The "◀ ▶" links under a message: the page's script puts the version clicked here.
        self.version_wanted = gr.Number(visible="hidden", precision=0)
        self.version_switch = gr.Button(visible="hidden", elem_id=VERSION_SWITCH_ID)

    def render(self) -> None:
        self.token = gr.BrowserState("", storage_key="assistant-owner", secret=self.storage_key)
        # The chat the page shows, to open again after a reload (if it is still the owner's).
        self.shown = gr.BrowserState("", storage_key="assistant-chat", secret=self.storage_key)
        self.new_chat = gr.Button("+ New chat", variant="primary", size="sm", elem_id=NEW_CHAT_ID)
        self.search = gr.Textbox(placeholder="Search all messages…", label="Search all messages",
                                 show_label=False, container=False, elem_id="chat-search")
        self.conversations = gr.HTML(chat_list_html([], [], None), elem_id=CHAT_LIST_ID, js_on_load=CHAT_LIST_SCRIPT,
                                     max_height=480, padding=False)
        with gr.Accordion("This chat", open=False):
            self.title = gr.Textbox(label="Title", max_lines=1)
            with gr.Row():
                self.rename = gr.Button("Rename", size="sm")
                self.delete = gr.Button("Delete", size="sm", variant="stop")
            with gr.Row():
                self.export_json = gr.Button("Export JSON", size="sm")
                self.export_md = gr.Button("Export Markdown", size="sm")
            self.branch = gr.Button("Branch into a new chat", size="sm")
            self.export_file = gr.File(label="Export", visible=False, interactive=False)
            self.import_file = gr.UploadButton("Import JSON", file_types=[".json"], size="sm")
        self.memory.render()

    # --- events ----------------------------------------------------------------------

    def wire(self, demo: gr.Blocks, chat: gr.ChatInterface,
             settings: dict[str, gr.components.Component]) -> list[Any]:
        """`settings`: the sidebar's components, by the names a conversation saves them under.
        Returns the events after which the chat shows another conversation."""
        self.setting_names = list(settings)
        opened = [chat.chatbot, chat.chatbot_state, self.title, self.versions, self.shown,
                  *settings.values()]
        private: dict[str, Any] = {"api_visibility": "private"}
        self.restored = [self.conversations, self.memory.memories, *opened]
        self.new_chat.click(self._new_chat, [self.search, self.token],
                            [self.conversations, *opened[:5]], **private)
        chosen = self.conversations.click(ChatListActions(self).act, [self.search, self.token],
                                          [self.conversations, *opened], **private)
        # The API opens by id; the radio only accepts the ids this session was shown. The
        # token's "" makes it optional to clients: signed-in callers need none.
        open_id, token = gr.Textbox(visible=False), gr.Textbox("", visible=False)
        gr.Button(visible=False).click(self._open, [open_id, token], opened,
                                       api_name="open_conversation")
        self.search.change(self.chat_list, [self.search, self.token], self.conversations, **private)
        self.rename.click(self._rename, [self.title, self.search, self.token], self.conversations,
                          **private)
        self.delete.click(self._delete, [self.search, self.token],
                          [self.conversations, *opened[:5]], **private)
        branched = self.branch.click(self._branch, [gr.State(False), self.search, self.token],
                                     [self.conversations, *opened], **private)
        branched_here = self.branch_here.click(
            self._branch, [gr.State(True), self.search, self.token],
            [self.conversations, *opened], **private)
        chat.chatbot.select(self._pick, self.token, [self.versions, self.branch_here],
                            **private)
        files = ChatFiles(self)
        self.export_json.click(files.export, [gr.State("json"), self.token], self.export_file, **private)
        self.export_md.click(files.export, [gr.State("md"), self.token], self.export_file, **private)
        self.import_file.upload(files.import_chat, [self.import_file, self.token],
                                [self.conversations, *opened, self.token], **private)
        self.memory.wire(self.token)
        chat.textbox.submit(self._list_after_submit, [self.search, self.token],
                            [self.conversations, self.token, self.shown], **private)
        self.versions.input(self._switch, [self.versions, self.token],
                            [chat.chatbot, chat.chatbot_state, self.versions], **private)
        self.version_switch.click(self._switch, [self.version_wanted, self.token],
                                  [chat.chatbot, chat.chatbot_state, self.versions],
                                  js=TAKE_WANTED_VERSION, **private)
        return [chosen, branched, branched_here]

    def restore(self, token: str, shown: str, request: gr.Request) -> tuple[Any, ...]:
        """A returning page: its chats, its facts, and the chat it showed (or the most
        recent one) opened."""
        owner = self.identity.owner(request, token)
        session = self.identity.sessions.get(request.session_hash)
        session.owner = owner
        conversation = self._owned(owner, shown)
        if conversation is None:  # gone, or not theirs
            recent = self.store.list_conversations(owner, limit=1) if owner else []
            conversation = self._owned(owner, recent[0].id) if recent else None
        if conversation is not None and owner is not None:
            # Straight to the chat, never None between: a reply drawing in it would stop.
            opened = self._shown(owner, conversation, session)
        else:  # nothing to restore: leave the chat alone, a quick first message may be in it
            session.open(None)
            opened = tuple(gr.update() for _ in range(5 + len(self.setting_names)))
        return (self.chat_list("", token, request), self.memory.choices(owner), *opened)

    def cleared(self) -> tuple[Any, ...]:
        return ([], [], "", NO_VERSIONS, "", *[gr.update() for _ in self.setting_names])

    def _open(self, conversation_id: str | None, token: str, request: gr.Request) -> tuple[Any, ...]:
        owner = self.identity.owner(request, token)
        conversation = self._owned(owner, conversation_id)
        if owner is None or conversation is None:
            return self.cleared()
        return self._shown(owner, conversation, self.identity.sessions.get(request.session_hash))

    def _owned(self, owner: str | None, conversation_id: str | None) -> Conversation | None:
        return self.store.get_conversation(owner, conversation_id) \
            if owner and conversation_id else None

    def _shown(self, owner: str, conversation: Conversation, session: Session) -> tuple[Any, ...]:
        """The chat opened in the session, as the page shows it."""
        session.open(conversation.id)
        messages = self.chat_of(owner, conversation)
        saved = [conversation.settings.get(key) for key in self.setting_names]
        return (messages, messages, conversation.title, versions_choice(conversation),
                conversation.id, *[gr.update() if value is None else value for value in saved])

    def reopen(self, conversation_id: str | None, token: str,
               request: gr.Request) -> tuple[Any, ...]:
        """The chat shown again after something outside the chat changed it (Compare)."""
        return self._open(conversation_id, token, request)

    def _switch(self, version: Any, token: str, request: gr.Request) -> tuple[Any, ...]:
        """Shows another version of a message, and the newest branch below it."""
        owner, conversation_id = self.current(token, request)
        conversation = self.store.get_conversation(owner, conversation_id) \
            if owner and conversation_id else None
        if owner is None or conversation is None or not isinstance(version, int) \
                or not self.store.set_active(owner, conversation.id,
                                             conversation.newest_leaf(version)):
            return gr.skip(), gr.skip(), gr.skip()
        messages, _, _, choice, *_ = self._open(conversation.id, token, request)
        return messages, messages, choice

    async def versions_now(self, token: str, request: gr.Request) -> dict[str, Any]:
        """The versions control for the chat as stored, once this process's writes landed."""
        owner, conversation_id = self.current(token, request)
        conversation = await self._stored(owner, conversation_id) \
            if owner and conversation_id else None
        return versions_choice(conversation) if conversation is not None else NO_VERSIONS

    def chat_list(self, query: str, token: str, request: gr.Request) -> str:
        """The owner's chats, or while `query` is typed, their messages that match it."""
        owner = self.identity.owner(request, token)
        query = (query or "").strip()
        if query:
            return search_results_html(query, self.store.search_messages(owner, query)
                                       if owner else [])
        current = self.identity.sessions.get(request.session_hash).conversation_id
        return chat_list_html(self.store.list_conversations(owner, limit=500) if owner else [],
                              self.store.list_folders(owner) if owner else [], current,
                              sharing=self.sharing)

    def _new_chat(self, query: str, token: str, request: gr.Request) -> tuple[Any, ...]:
        self.identity.sessions.get(request.session_hash).open(None)
        return self.chat_list(query, token, request), [], [], "", NO_VERSIONS, ""

    def _list_after_submit(self, query: str, token: str,
                           request: gr.Request) -> tuple[Any, Any, Any]:
        """The list once the turn's chat exists (the chat function creates it as it starts),
        the page's new token if the turn gave it one, and the chat it shows."""
        session = self.identity.sessions.get(request.session_hash)
        session.has_conversation.wait(timeout=10)
        self.store.flush(timeout=10)  # its row is written in the background
        return (self.chat_list(query, token, request), self.identity.page_token(request, token),
                session.conversation_id or gr.skip())

    def current(self, token: str, request: gr.Request) -> tuple[str | None, str | None]:
        owner = self.identity.owner(request, token)
        return owner, self.identity.sessions.get(request.session_hash).conversation_id

    def _rename(self, title: str, query: str, token: str, request: gr.Request) -> str:
        owner, conversation_id = self.current(token, request)
        if not (owner and conversation_id):
            raise gr.Error("Open a chat first.")
        if not (title or "").strip():
            raise gr.Error("The title is empty.")
        self.store.rename_conversation(owner, conversation_id, title)
        return self.chat_list(query, token, request)

    def _delete(self, query: str, token: str, request: gr.Request) -> tuple[Any, ...]:
        owner, conversation_id = self.current(token, request)
        if owner and conversation_id:
            self.store.delete_conversation(owner, conversation_id)
        self.identity.sessions.get(request.session_hash).open(None)
        return self.chat_list(query, token, request), [], [], "", NO_VERSIONS, ""

    async def _pick(self, token: str, selected: gr.SelectData,
                    request: gr.Request) -> tuple[Any, Any]:
        """A message clicked in the chat: its versions, and a branch up to it, are offered."""
        owner, conversation_id = self.current(token, request)
        conversation = await self._stored(owner, conversation_id) \
            if owner and conversation_id else None
        index = selected.index[0] if isinstance(selected.index, (list, tuple)) \
            else selected.index
        picked = message_at(conversation, index) \
            if conversation is not None and isinstance(index, int) else None
        if conversation is None or picked is None:
            return gr.skip(), gr.skip()
        self.identity.sessions.get(request.session_hash).picked = picked.id
        return versions_choice(conversation, picked), gr.update(visible=True)

    def _branch(self, up_to_picked: bool, query: str, token: str,
                request: gr.Request) -> tuple[Any, ...]:
        """Opens a new chat that holds the path this one shows (or the path up to the
        message clicked), to go on from there."""
        owner, conversation_id = self.current(token, request)
        if not (owner and conversation_id):
            raise gr.Error("Open a chat first.")
        picked = self.identity.sessions.get(request.session_hash).picked
        if up_to_picked and picked is None:
            raise gr.Error("Click a message of the chat first.")
        try:
            branch = self.store.branch_conversation(owner, conversation_id,
                                                    picked if up_to_picked else None)
        except NotFound:
            raise gr.Error("This chat or message is gone.") from None
        opened = self._open(branch, token, request)
        return (self.chat_list(query, token, request), *opened)
