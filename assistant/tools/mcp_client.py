"""Tools from MCP servers: the "mcpServers" config, the connections, and the calls.

The config is the JSON that Claude Desktop and Cursor use:

    {"mcpServers": {"calc": {"command": "python", "args": ["calc.py"], "env": {}},
                    "web": {"url": "http://host/mcp", "headers": {"Authorization": "..."}}}}

A server with a command is run over stdio; one with a url is reached over Streamable HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CONNECTION_CLOSED

from .errors import ToolError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class ServerConfig:
    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class McpTool:
    name: str  # as the model sees it: unique across servers
    server: str
    tool: str  # as the server knows it
    description: str
    parameters: dict[str, Any]


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{what} must be an object of strings.")
    return dict(value)


def parse_servers(text: str) -> list[ServerConfig]:
    """The servers in an "mcpServers" JSON text; ValueError says what is wrong with it."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The MCP server config is not valid JSON: {exc}.") from None
    if not isinstance(data, dict) or not isinstance(data.get("mcpServers"), dict):
        raise ValueError('The MCP server config must be an object with an "mcpServers" object.')
    servers = []
    for name, entry in data["mcpServers"].items():
        where = f"The MCP server '{name}'"
        if not name.strip():
            raise ValueError("An MCP server has an empty name.")
        if not isinstance(entry, dict):
            raise ValueError(f"{where} must be an object.")
        command, url, args = entry.get("command"), entry.get("url"), entry.get("args", [])
        if (command is None) == (url is None):
            raise ValueError(f'{where} needs either a "command" or a "url", not both or neither.')
        if command is not None and (not isinstance(command, str) or not command.strip()):
            raise ValueError(f'{where} has a "command" that is not a non-empty string.')
        if url is not None and (not isinstance(url, str) or not url.startswith(("http://", "https://"))):
            raise ValueError(f'{where} has a "url" that is not an http:// or https:// address.')
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ValueError(f'{where} has "args" that are not a list of strings.')
        servers.append(ServerConfig(name, command, tuple(args), _strings(entry.get("env"), f'{where}\'s "env"'),
                                    url, _strings(entry.get("headers"), f'{where}\'s "headers"')))
    return servers


def load_servers(value: str | None) -> list[ServerConfig]:
    """`value` is a path to a JSON file or the JSON itself (as ASSISTANT_MCP_SERVERS holds)."""
    if not value or not value.strip():
        return []
    if value.lstrip().startswith("{"):
        return parse_servers(value)
    try:
        with open(os.path.expanduser(value.strip()), encoding="utf-8") as file:
            return parse_servers(file.read())
    except OSError as exc:
        raise ValueError(f"The MCP server config file {value.strip()!r} cannot be read: {exc.strerror}.") from None


def _reason(exc: BaseException, config: ServerConfig, timeout: float) -> str:
    """One line saying why a server failed, from the innermost useful exception."""
    while getattr(exc, "exceptions", None):  # an exception group: its first member
        exc = exc.exceptions[0]  # type: ignore[attr-defined]
    if isinstance(exc, TimeoutError):
        return f"it did not answer within {timeout:g} s"
    if isinstance(exc, FileNotFoundError) and config.command:
        return f"its command {config.command!r} was not found"
    if isinstance(exc, httpx2.ConnectError) and config.url:
        return f"nothing answers at {config.url}"
    if isinstance(exc, MCPError) and exc.code == CONNECTION_CLOSED:
        return "it closed the connection before answering"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _text(content: types.ContentBlock) -> str:
    if isinstance(content, types.TextContent):
        return content.text
    if isinstance(content, types.EmbeddedResource) and isinstance(content.resource, types.TextResourceContents):
        return content.resource.text
    if isinstance(content, types.ResourceLink):
        return f"[resource {content.uri}]"
    return f"[{content.type}]"


class _Server:
    """One connection, held open by a task of its own: anyio needs a context exited in the task that entered it."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.session: ClientSession | None = None
        self.tools: list[types.Tool] = []
        self.ready = asyncio.Event()
        self.stop = asyncio.Event()
        self.running = False
        self.task: asyncio.Task[None] | None = None

    async def run(self, timeout: float) -> None:
        c = self.config
        try:
            async with contextlib.AsyncExitStack() as stack:
                # Entered first, so exited last: a timeout unwinds the transport within anyio's rules.
                deadline = stack.enter_context(anyio.CancelScope(deadline=anyio.current_time() + timeout))
                if c.command is not None:
                    params = StdioServerParameters(command=c.command, args=list(c.args), env=dict(c.env) or None)
                    streams = await stack.enter_async_context(stdio_client(params))
                else:
                    assert c.url is not None
                    http = await stack.enter_async_context(httpx2.AsyncClient(
                        headers=dict(c.headers), timeout=httpx2.Timeout(30, read=300)))
                    streams = await stack.enter_async_context(streamable_http_client(c.url, http_client=http))
                session = await stack.enter_async_context(ClientSession(*streams))
                await session.initialize()
                params_page: types.PaginatedRequestParams | None = None
                while True:
                    listed = await session.list_tools(params=params_page)
                    self.tools += listed.tools
                    if not listed.next_cursor:
                        break
                    params_page = types.PaginatedRequestParams(cursor=listed.next_cursor)
                deadline.deadline = math.inf
                self.session, self.running = session, True
                self.ready.set()
                await self.stop.wait()
            if deadline.cancelled_caught:
                raise TimeoutError
        finally:
            self.running = False


class McpTools:
    """The tools of every configured MCP server, connected for the app's lifetime.

    start(), call() and close() are coroutines for the one event loop that runs start(); call() may
    run in any task of it. Other threads submit to that loop (see catalog.McpRuntime).
    """

    def __init__(self, servers: list[ServerConfig], timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.problems: dict[str, str] = {}
        self._servers = {config.name: _Server(config) for config in servers}
        self._tools: dict[str, McpTool] = {}

    @property
    def tools(self) -> list[McpTool]:
        return list(self._tools.values())

    async def start(self) -> None:
        await asyncio.gather(*(self._start(server) for server in self._servers.values()))
        for server in self._servers.values():
            for tool in server.tools:
                name = base = _UNSAFE.sub("_", f"{server.config.name}__{tool.name}")[:64]
                n = 1
                while name in self._tools:
                    n += 1
                    name = f"{base[:64 - len(str(n)) - 1]}_{n}"
                self._tools[name] = McpTool(name, server.config.name, tool.name, tool.description or "",
                                            dict(tool.input_schema))

    async def _start(self, server: _Server) -> None:
        server.task = asyncio.create_task(server.run(self.timeout), name=f"mcp-{server.config.name}")
        ready = asyncio.ensure_future(server.ready.wait())
        try:
            await asyncio.wait({ready, server.task}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ready.cancel()
        if server.ready.is_set():
            return
        error = server.task.exception() if not server.task.cancelled() else None
        log.debug("The MCP server %r failed to start.", server.config.name, exc_info=error)
        reason = _reason(error, server.config, self.timeout) if error else "it stopped at once"
        self._problem(server, f"The MCP server '{server.config.name}' could not start: {reason}.")

    def _problem(self, server: _Server, sentence: str) -> None:
        if server.config.name not in self.problems:
            self.problems[server.config.name] = sentence
            log.warning("%s", sentence)

    async def call(self, name: str, arguments: dict[str, Any]) -> str:
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"There is no MCP tool named '{name}'.")
        server = self._servers[tool.server]
        gone = f"The MCP server '{tool.server}' is not running."
        try:
            if server.session is None or not server.running:
                raise MCPError(CONNECTION_CLOSED, "Connection closed")
            result = await server.session.call_tool(tool.tool, arguments)
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise ToolError(exc.message) from exc
            self._problem(server, gone)  # the process exited or the connection dropped
            raise ToolError(gone) from None
        except Exception as exc:
            raise ToolError(f"The MCP server '{tool.server}' failed: {_reason(exc, server.config, 0)}.") from exc
        text = "\n".join(_text(content) for content in result.content)
        if not result.content and result.structured_content is not None:
            text = json.dumps(result.structured_content, ensure_ascii=False)
        if result.is_error:
            raise ToolError(text or f"The MCP tool '{tool.tool}' failed.")
        return text

    async def close(self) -> None:
        for server in self._servers.values():
            server.stop.set()
        tasks = [server.task for server in self._servers.values() if server.task is not None]
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):  # already reported, as a start or a call failed
                log.debug("An MCP server did not close cleanly.", exc_info=result)
