"""Why an MCP server failed, as a sentence for the page, and what a stdio server last
wrote to its stderr."""

from __future__ import annotations

import asyncio
import os
from typing import IO

import httpx2
from mcp import MCPError
from mcp.types import CONNECTION_CLOSED

from .mcp_config import ServerConfig

STDERR_KEPT = 1 << 20  # bytes of a stdio server's stderr kept, to find its last words


class ConnectionLost(Exception):
    """A call found the server's connection closed."""


def innermost(exc: BaseException) -> BaseException:
    while getattr(exc, "exceptions", None):  # an exception group: its first member
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    return exc


def unreachable(exc: BaseException | None, config: ServerConfig) -> bool:
    """Nothing answers at a server's URL: tried again until it does (a deploy, a reboot)."""
    return exc is not None and config.url is not None and \
        isinstance(innermost(exc), httpx2.ConnectError)


def failure_reason(exc: BaseException, config: ServerConfig, timeout: float) -> str:
    """One line saying why a server failed, from the innermost useful exception."""
    exc = innermost(exc)
    if isinstance(exc, ConnectionLost):
        return "it closed the connection"
    if isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        return f"it did not answer within {timeout:g} s"
    if isinstance(exc, FileNotFoundError) and config.command:
        return f"its command {config.command!r} was not found"
    if isinstance(exc, httpx2.ConnectError) and config.url:
        return f"nothing answers at {config.url}"
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "it closed the connection before answering"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def last_words(errlog: IO[bytes]) -> str:
    """The last line a stdio server wrote to its stderr, if any."""
    size = errlog.seek(0, os.SEEK_END)
    errlog.seek(max(0, size - 4000))
    text = errlog.read().decode("utf-8", errors="replace")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def bounded(errlog: IO[bytes]) -> None:
    """Empties a long-running server's stderr file before it grows past STDERR_KEPT."""
    if errlog.seek(0, os.SEEK_END) > STDERR_KEPT:
        errlog.truncate(0)
