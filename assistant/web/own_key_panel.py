"""A visitor's own API key: the sidebar field and the API that set it for one session.

The key goes into a client kept in server memory for the session (providers/routes.py)
and nowhere else: the field is emptied at once and only says that a key is set.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Literal

import gradio as gr

from ..providers.backends import Backend
from ..providers.routes import OwnKeyRoutes, Route

Mode = Literal["off", "allowed", "required"]
MAX_SESSIONS = 20_000
KEY_SET = "🔑 Your own key is in use for this session. It is kept only in the server's memory."
KEY_UNSET = "The server's key is in use."
KEY_NEEDED = "This app runs on visitors' own keys: enter yours under **Your API key** to chat."
NEEDS_KEY_NOTICE = ("🔑 This app needs your own API key. Enter it in the sidebar under "
                    "Your API key, then send your message again.")


class OwnKeyPanel:
    def __init__(self, routes: OwnKeyRoutes, server: Backend, mode: Mode, *,
                 custom_servers: bool) -> None:
        self.routes = routes
        self.server = server
        self.mode = mode
        self.custom_servers = custom_servers
        self._sessions: OrderedDict[str, Route] = OrderedDict()

    def route(self, session_hash: str | None) -> Route | None:
        """The session's own-key route; None when it uses the server's key."""
        return self._sessions.get(session_hash) if session_hash else None

    def needs_key(self, session_hash: str | None) -> bool:
        return self.mode == "required" and self.route(session_hash) is None

    def set_key(self, session_hash: str | None, key: str, base_url: str = "") -> Route:
        if self.mode == "off":
            raise gr.Error("This app does not take visitors' API keys.")
        key, base_url = (key or "").strip(), (base_url or "").strip()
        if not key or len(key) > 500 or any(c.isspace() for c in key):
            raise gr.Error("That does not look like an API key.")
        if base_url and not self.custom_servers:
            raise gr.Error("This app does not let visitors choose another server.")
        if base_url and not base_url.startswith(("https://", "http://")):
            raise gr.Error("The base URL must start with https:// or http://.")
        if not session_hash:  # a bare HTTP call: the key would be every such caller's
            raise gr.Error("Your own key is kept per session: set it from the page, or "
                           "from gradio_client.")
        route = self.routes.route(key, base_url or None)
        self._sessions[session_hash] = route
        self._sessions.move_to_end(session_hash)
        if len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return route

    def clear(self, session_hash: str | None) -> None:
        if session_hash:
            self._sessions.pop(session_hash, None)

    def backend(self, session_hash: str | None) -> Backend:
        route = self.route(session_hash)
        return route.backend if route is not None else self.server

    # The page --------------------------------------------------------------------------

    def render(self) -> None:
        self.visible = self.mode != "off"
        with gr.Accordion("Your API key", open=self.mode == "required", visible=self.visible):
            self.status = gr.Markdown(KEY_NEEDED if self.mode == "required" else KEY_UNSET,
                                      elem_id="own-key-status")
            self.key = gr.Textbox(label="Your API key", type="password", value="",
                                  placeholder="sk-…", elem_id="own-key")
            self.base_url = gr.Textbox(label="Base URL (optional)", value="",
                                       placeholder="https://api.openai.com/v1",
                                       visible=self.custom_servers)
            with gr.Row():
                self.use = gr.Button("Use my key", size="sm", elem_id="own-key-use")
                self.forget = gr.Button("Clear", size="sm", elem_id="own-key-clear")

    def wire(self, model: gr.Dropdown) -> None:
        private: dict[str, Any] = {"api_visibility": "private", "queue": False}
        self.use.click(self._use, [self.key, self.base_url, model],
                       [self.key, self.status, model], **private)
        self.key.submit(self._use, [self.key, self.base_url, model],
                        [self.key, self.status, model], **private)
        self.forget.click(self._clear, model, [self.key, self.status, model], **private)
        self._register_api()

    async def _models(self, backend: Backend, current: str) -> dict[str, Any]:
        choices = await backend.model_choices()
        value = current if current in choices or not choices else backend.default_model or choices[0]
        return gr.update(choices=choices or [value], value=value)

    async def _use(self, key: str, base_url: str, current: str,
                   request: gr.Request) -> tuple[Any, ...]:
        try:
            route = self.set_key(request.session_hash, key, base_url)
        except gr.Error as exc:
            return "", f"⚠️ {exc.message}", gr.update()
        return "", KEY_SET, await self._models(route.backend, current)

    async def _clear(self, current: str, request: gr.Request) -> tuple[Any, ...]:
        self.clear(request.session_hash)
        status = KEY_NEEDED if self.mode == "required" else KEY_UNSET
        return "", status, await self._models(self.server, current)

    def _register_api(self) -> None:
        async def set_api_key(key: str, base_url: str = "",
                              request: gr.Request | None = None) -> dict[str, Any]:
            """Use your own API key for this session (kept in memory only); lists its models."""
            route = self.set_key(getattr(request, "session_hash", None), key, base_url)
            return {"own_key": True, "models": await route.backend.model_choices()}

        def clear_api_key(request: gr.Request | None = None) -> dict[str, Any]:
            """Go back to the server's key for this session."""
            self.clear(getattr(request, "session_hash", None))
            return {"own_key": False}

        gr.api(set_api_key, api_name="set_api_key", queue=False)
        gr.api(clear_api_key, api_name="clear_api_key", queue=False)
