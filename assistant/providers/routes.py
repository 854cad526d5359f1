"""Where a turn goes: the server's backend, or one made for a visitor's own key.

A visitor's key lives only here, in memory, inside the client made for it; it is never
stored, logged or sent back. Its failures say that it was *their* key that failed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Mapping

from .backends import Backend, Connection, host_of, select_backend
from .base import Adapter, Upstream
from .protocols import build_adapters
from .retrying import RetryPolicy

log = logging.getLogger(__name__)
MAX_ROUTES = 1_000  # visitors' clients kept; the least recently used is closed


@dataclass(frozen=True)
class Route:
    backend: Backend
    adapters: Mapping[str, Adapter]
    own_key: bool = False


class OwnKeyRoutes:
    """Makes (and reuses) a client per visitor key and base URL."""

    def __init__(self, connection: Connection, retry: RetryPolicy, *,
                 default_base_url: str | None) -> None:
        # The visitor's requests go where the server's do, unless they name a server.
        self.connection = replace(connection, api_key=None, base_url=None, model=None)
        self.retry = retry
        self.default_base_url = default_base_url
        self._routes: OrderedDict[str, Route] = OrderedDict()

    def route(self, key: str, base_url: str | None = None) -> Route:
        url = base_url or self.default_base_url
        ident = hashlib.sha256(f"{key}\0{url}".encode()).hexdigest()
        route = self._routes.get(ident)
        if route is not None:
            self._routes.move_to_end(ident)
            return route
        backend = select_backend(replace(self.connection, api_key=key, base_url=url))
        backend.label = f"{backend.label} (your key)"
        upstream = Upstream(client=backend.client, host=host_of(str(backend.client.base_url)),
                            read_timeout=self.connection.read_timeout, secrets=(key,),
                            own_key=True)
        route = self._routes[ident] = Route(backend, build_adapters(upstream, self.retry), True)
        if len(self._routes) > MAX_ROUTES:
            _, old = self._routes.popitem(last=False)
            _close_later(old.backend)
        return route

    def close(self) -> None:
        for route in self._routes.values():
            _close_later(route.backend)
        self._routes.clear()


def _close_later(backend: Backend) -> None:
    try:
        asyncio.get_running_loop().create_task(backend.client.close())
    except RuntimeError:  # no loop: its connections close with the process
        pass
