"""The tools the app offers: the built-ins, and those of the MCP servers it is given."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from .builtins import (
    CALCULATOR_DESCRIPTION,
    CALCULATOR_SCHEMA,
    CURRENT_TIME_DESCRIPTION,
    CURRENT_TIME_SCHEMA,
    calculator,
    current_time,
)
from .mcp_client import McpTools, ServerConfig
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
    and any loop (Gradio's) can call their tools."""

    def __init__(self, servers: list[ServerConfig], timeout: float) -> None:
        self.servers = servers
        self.timeout = timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcp", daemon=True)
        self.client = McpTools(servers, timeout=START_TIMEOUT / 3)

    @property
    def problems(self) -> dict[str, str]:
        return self.client.problems

    def start(self, toolbox: Toolbox) -> None:
        """Connects to every server (blocking, bounded) and adds their tools to `toolbox`."""
        if not self.servers:
            return
        self._thread.start()
        self._run(self.client.start()).result(START_TIMEOUT)
        for tool in self.client.tools:
            toolbox.add(Tool(name=tool.name, description=tool.description or tool.name,
                             parameters=tool.parameters, run=self._caller(tool.name),
                             timeout=self.timeout, source=tool.server))
            log.info("MCP tool %s from server %s", tool.name, tool.server)

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
