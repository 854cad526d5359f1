"""Where a turn goes: one of the server's backends, or one made for a visitor's own key.

A visitor's key lives only here, in memory, inside the client made for it; it is never
stored, logged or sent back. Its failures say that it was *their* key that failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Mapping, Sequence

from .backends import Backend, Connection, host_of, select_backend
from .base import Adapter, Upstream
from .protocols import build_adapters
from .retrying import RetryPolicy

log = logging.getLogger(__name__)
VISITOR_KEY = "visitor-key"  # the backend name of every reply on a visitor's own key
MAX_ROUTES = 1_000  # visitors' clients kept; the least recently used is closed


@dataclass(frozen=True)
class Route:
    backend: Backend
    adapters: Mapping[str, Adapter]
    own_key: bool = False


class ServerRoutes:
    """The server's backends by name. With several, a model is chosen as "backend/model"
    (a model name may hold "/" itself: only a backend's name before it picks that backend)."""

    def __init__(self, routes: Sequence[Route], default: str | None = None) -> None:
        self.by_name = {route.backend.name: route for route in routes}
        self.default_route = routes[0]
        if default:
            self.default_route, model = self.pick(default)
            self.default_route.backend.default_model = model or \
                self.default_route.backend.default_model

    @property
    def several(self) -> bool:
        return len(self.by_name) > 1

    @property
    def backends(self) -> list[Backend]:
        return [route.backend for route in self.by_name.values()]

    def pick(self, model: str | None) -> tuple[Route, str | None]:
        """The route a model choice names, and the model's own name."""
        if model:
            name, sep, rest = model.strip().partition("/")
            if sep and rest and name in self.by_name:
                return self.by_name[name], rest
        return self.default_route, model

    def names(self, choice: str) -> bool:
        """Whether `choice` ("backend/model") names one of these backends."""
        name, sep, rest = choice.strip().partition("/")
        return bool(sep and rest and name in self.by_name)

    def choice(self, backend: Backend, model: str) -> str:
        """How a model of `backend` is chosen: "backend/model" when there are several."""
        return f"{backend.name}/{model}" if self.several else model

    def default_choice(self) -> str:
        backend = self.default_route.backend
        return self.choice(backend, backend.default_model) if backend.default_model else ""

    async def model_choices(self) -> list[str]:
        """Every backend's models, grouped by backend; the default backend first."""
        routes = [self.default_route, *(r for r in self.by_name.values()
                                         if r is not self.default_route)]
        listed = await asyncio.gather(*(r.backend.model_choices() for r in routes))
        return [self.choice(r.backend, m) for r, models in zip(routes, listed) for m in models]

    def status(self) -> str:
        """The backends, and those that do not answer, in a line."""
        return ", ".join(b.name + (f" ({b.down})" if b.down else "") for b in self.backends)


class OwnKeyRoutes:
    """Makes (and reuses) a client per visitor key and base URL."""

    def __init__(self, connection: Connection, retry: RetryPolicy, *,
                 default_base_url: str | None) -> None:
        # The visitor's requests go where the server's do, unless they name a server.
        self.connection = replace(connection, api_key=None, base_url=None, model=None)
        self.retry = retry
        self.default_base_url = default_base_url
        self._routes: OrderedDict[str, Route] = OrderedDict()
        self._closing: set[asyncio.Task[None]] = set()

    def route(self, key: str, base_url: str | None = None) -> Route:
        url = base_url or self.default_base_url
        ident = hashlib.sha256(f"{key}\0{url}".encode()).hexdigest()
        route = self._routes.get(ident)
        if route is not None:
            self._routes.move_to_end(ident)
            return route
        backend = select_backend(replace(self.connection, api_key=key, base_url=url))
        backend.label = f"{backend.label} (your key)"
        backend.name = VISITOR_KEY  # what it costs is the visitor's, not the operator's
        upstream = Upstream(client=backend.client, host=host_of(str(backend.client.base_url)),
                            read_timeout=self.connection.read_timeout, secrets=(key,),
                            own_key=True)
        route = self._routes[ident] = Route(backend, build_adapters(upstream, self.retry), True)
        if len(self._routes) > MAX_ROUTES:
            _, old = self._routes.popitem(last=False)
            self._close_later(old.backend)
        return route

    def _close_later(self, backend: Backend) -> None:
        try:
            task = asyncio.get_running_loop().create_task(backend.client.close())
        except RuntimeError:  # no loop: its connections close with the process
            return
        self._closing.add(task)  # the loop keeps only a weak reference
        task.add_done_callback(self._closing.discard)

    async def aclose(self) -> None:
        """Closes every visitor's client, on the loop that used them."""
        routes, self._routes = list(self._routes.values()), OrderedDict()
        results = await asyncio.gather(*self._closing, *(r.backend.client.close() for r in routes),
                                       return_exceptions=True)
        for failed in (r for r in results if isinstance(r, Exception)):
            log.warning("closing a visitor's client failed: %s", failed)
