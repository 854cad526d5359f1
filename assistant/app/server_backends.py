"""The server's backends: the one of the old settings, or those of ASSISTANT_BACKENDS plus
the embedded model; each checked at start, so that one that is down is named."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from ..providers.backends import (
    Backend,
    BackendUnavailable,
    backend_from_entry,
    host_of,
    select_backend,
    start_local_backend,
)
from ..providers.base import Upstream
from ..providers.protocols import build_adapters
from ..providers.retrying import RetryPolicy
from ..providers.routes import Route, ServerRoutes
from .setting_checks import BadSetting
from .settings import Settings

log = logging.getLogger(__name__)


def server_backends(settings: Settings) -> list[Backend]:
    connection = settings.connection()
    listed = settings.backends_file
    if listed is None:
        return [select_backend(connection)]
    backends = [backend_from_entry(entry, connection) for entry in listed.backends]
    with ThreadPoolExecutor(max_workers=8) as pool:  # each waits at most a few seconds
        list(pool.map(Backend.probe, backends))
    for backend in backends:
        if backend.down:
            log.warning("backend %s is down at start (%s); the others serve",
                        backend.label, backend.down)
    if settings.embedded_model:
        try:
            backends.append(start_local_backend(connection))
        except BackendUnavailable as exc:
            log.warning("the embedded model is not one of the backends: %s", exc)
    return backends


def server_routes(settings: Settings, backends: list[Backend], retry: RetryPolicy,
                  secrets: tuple[str, ...]) -> ServerRoutes:
    routes = [Route(backend, build_adapters(Upstream(
        client=backend.client, host=host_of(str(backend.client.base_url)),
        read_timeout=settings.read_timeout, secrets=secrets), retry)) for backend in backends]
    listed = settings.backends_file
    served = ServerRoutes(routes, None)
    if listed is not None:
        named = [("default", listed.default)] if listed.default else []
        named += [(f"the route “{r.name}” (line {r.line})", m) for r in listed.routes
                  for m in r.models]
        for where, choice in named:
            if choice and not served.names(choice):
                raise BadSetting(f"--backends (ASSISTANT_BACKENDS): {where} names {choice}, "
                                 f"but the backend {choice.partition('/')[0]} is not running "
                                 "(the embedded model is off or not installed).")
    return ServerRoutes(routes, listed.default if listed else None)


def backend_secrets(settings: Settings) -> tuple[str, ...]:
    """Every server key, for the logs to hide."""
    listed = settings.backends_file
    keys = [settings.openai_api_key, *(e.api_key for e in listed.backends)] if listed else \
        [settings.openai_api_key]
    return tuple(k for k in keys if k)
