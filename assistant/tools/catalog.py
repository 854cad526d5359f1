"""The tools the app offers: the built-ins, and those of the MCP servers it is given."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from .builtins import (
    CALCULATOR_DESCRIPTION,
    CALCULATOR_SCHEMA,
    CURRENT_TIME_DESCRIPTION,
    CURRENT_TIME_SCHEMA,
    calculator,
    current_time,
)
from .mcp_client import DEFAULT_BACKOFF, Backoff, McpTool, McpTools, ServerStatus
from .mcp_config import ServerConfig
from .registry import Tool, Toolbox, ToolScope

log = logging.getLogger(__name__)
T = TypeVar("T")
START_TIMEOUT = 30.0


def builtin_toolbox(timeout: float) -> Toolbox:
    toolbox = Toolbox()
    toolbox.function(calculator, description=CALCULATOR_DESCRIPTION, schema=CALCULATOR_SCHEMA,
                     timeout=timeout)
    toolbox.function(current_time, name="current_time", description=CURRENT_TIME_DESCRIPTION,
                     schema=CURRENT_TIME_SCHEMA, timeout=timeout)
    return toolbox


class McpRuntime:
    """The MCP connections on an event loop of their own, so they live as long as the app
    and any loop (Gradio's) can call their tools. The toolbox offers the tools of the
    servers running: a server's tools leave it when it dies and come back with it."""

    def __init__(self, servers: list[ServerConfig], timeout: float,
                 backoff: Backoff = DEFAULT_BACKOFF) -> None:
        self.servers = servers
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp", daemon=True)
        self.client = McpTools(servers, timeout=START_TIMEOUT / 3, backoff=backoff,
                               on_change=self._offer)
        self._toolbox: Toolbox | None = None
        self._offered: dict[str, McpTool] = {}
        self._unavailable: list[McpTool] = []  # a snapshot, made on the MCP loop

    @property
    def problems(self) -> dict[str, str]:
        return self.client.problems

    def statuses(self) -> list[ServerStatus]:
        return self.client.statuses()

    def unavailable(self) -> list[McpTool]:
        """The tools of servers that are down, as they last listed them."""
        return self._unavailable

    def start(self, toolbox: Toolbox) -> None:
        """Connects to every server (blocking, bounded) and offers their tools in `toolbox`."""
        if not self.servers:
            return
        self._toolbox = toolbox
        self._thread.start()
        self._run(self.client.start()).result(START_TIMEOUT)
        self._run(self._offer_now()).result(START_TIMEOUT)

    async def _offer_now(self) -> None:
        self._offer()

    def _offer(self) -> None:
        """Makes the toolbox offer exactly the tools of the servers running (on the MCP loop)."""
        toolbox = self._toolbox
        if toolbox is None:
            return
        tools = {tool.name: tool for tool in self.client.tools}
        for name, offered in self._offered.items():
            if tools.get(name) != offered:  # gone, or changed (list_changed)
                toolbox.remove(name)
        for name, tool in tools.items():
            if self._offered.get(name) != tool:
                toolbox.add(Tool(name=tool.name, description=tool.description or tool.name,
                                 parameters=tool.parameters, run=self._caller(tool.name),
                                 timeout=self.timeout, source=tool.server, asks=tool.asks))
                log.info("MCP tool %s from server %s", tool.name, tool.server)
        self._offered = tools
        self._unavailable = [t for t in self.client.known_tools() if t.name not in tools]
        toolbox.unavailable = frozenset(t.name for t in self._unavailable)

    def until(self, condition: Callable[[], bool], timeout: float) -> None:
        """Blocks until `condition()` holds, checked at each change of a server's state."""
        self._run(self.client.until(condition, timeout)).result(timeout + 1)

    def restart(self) -> None:
        """Starts again at once the servers that are stopped or waiting to restart."""
        if self._thread.is_alive():
            self._run(self.client.restart()).result(5)

    def _caller(self, name: str) -> Any:
        async def run(arguments: dict[str, Any], scope: ToolScope) -> str:
            return await asyncio.wrap_future(self._run(self.client.call(name, arguments)))
        return run

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        try:
            self._run(self.client.close()).result(10)
        except Exception:  # shutting down: a server that will not close is left to the OS
            log.warning("an MCP server did not close cleanly")
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
