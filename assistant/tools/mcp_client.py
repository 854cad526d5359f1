"""Tools from MCP servers: the connections, kept up, and the calls.

A server with a command is run over stdio; one with a url is reached over Streamable HTTP
(the config: mcp_config.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, Literal, TextIO, cast

import anyio
import httpx2
from mcp import ClientSession, MCPError, StdioServerParameters, stdio_client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CONNECTION_CLOSED

from .errors import ToolError
from .mcp_config import ServerConfig
from .mcp_failures import ConnectionLost, bounded, failure_reason, last_words, unreachable

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class McpTool:
    name: str  # as the model sees it: unique across servers
    server: str
    tool: str  # as the server knows it
    description: str
    parameters: dict[str, Any]
    asks: bool = True  # asks the user before it runs


def _text(content: types.ContentBlock) -> str:
    if isinstance(content, types.TextContent):
        return content.text
    if isinstance(content, types.EmbeddedResource) and isinstance(content.resource, types.TextResourceContents):
        return content.resource.text
    if isinstance(content, types.ResourceLink):
        return f"[resource {content.uri}]"
    return f"[{content.type}]"


ServerState = Literal["starting", "running", "restarting", "stopped"]


@dataclass(frozen=True)
class Backoff:
    """When a server that died is started again: after `first` s, doubling up to `longest`;
    after `tries` failures in a row it is left stopped. A run of `stable` s or more
    forgives the failures before it. A running server is pinged every `ping_every` s."""
    first: float = 1.0
    longest: float = 60.0
    tries: int = 5
    stable: float = 30.0
    ping_every: float = 5.0

    def delay(self, failures: int) -> float:
        return float(min(self.first * 2 ** max(failures - 1, 0), self.longest))


@dataclass(frozen=True)
class ServerStatus:
    name: str
    state: ServerState
    problem: str = ""  # why it is not running, as a sentence
    retry_in: float | None = None  # seconds until it is started again
    tools: int = 0


DEFAULT_BACKOFF = Backoff()


class _Server:
    """One server, connected again and again: each connection is held open by a task of
    its own, as anyio needs a context exited in the task that entered it."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.session: ClientSession | None = None
        self.tools: list[types.Tool] = []  # as it last listed them
        self.state: ServerState = "starting"
        self.problem = ""
        self.retry_at: float | None = None
        self.failures = 0  # in a row
        self.ever_ran = False
        self.decided = asyncio.Event()  # the first try has succeeded or failed
        self.wake = asyncio.Event()  # Restart, or the app closing
        self.poke = asyncio.Event()  # the connection has news: lost, or tools changed
        self.lost = False
        self.tools_changed = False
        self.closed = asyncio.Event()  # the app is closing
        self.task: asyncio.Task[None] | None = None

    def nudge(self, *, lost: bool = False, tools_changed: bool = False) -> None:
        self.lost = self.lost or lost
        self.tools_changed = self.tools_changed or tools_changed
        self.poke.set()

    async def _notified(self, message: Any) -> None:
        if isinstance(message, types.ToolListChangedNotification):
            self.nudge(tools_changed=True)

    async def connect(self, timeout: float, ping_every: float, on_ready: Callable[[], None],
                      errlog: IO[bytes]) -> None:
        """One connection, from start to end; returns when closing, raises when it dies."""
        c = self.config
        self.lost = self.tools_changed = False
        async with contextlib.AsyncExitStack() as stack:
            # Entered first, so exited last: a timeout unwinds the transport within anyio's rules.
            deadline = stack.enter_context(anyio.CancelScope(deadline=anyio.current_time() + timeout))
            if c.command is not None:
                params = StdioServerParameters(command=c.command, args=list(c.args), env=dict(c.env) or None)
                streams = await stack.enter_async_context(stdio_client(params, errlog=cast(TextIO, errlog)))
            else:
                assert c.url is not None
                http = await stack.enter_async_context(httpx2.AsyncClient(
                    headers=dict(c.headers), timeout=httpx2.Timeout(30, read=300)))
                streams = await stack.enter_async_context(streamable_http_client(c.url, http_client=http))
            session = await stack.enter_async_context(ClientSession(*streams, message_handler=self._notified))
            await session.initialize()
            self.tools = await _list_tools(session)
            deadline.deadline = math.inf
            self.session = session
            on_ready()
            try:
                await self._watch(session, timeout, ping_every, on_ready, errlog)
            finally:
                self.session = None
        if deadline.cancelled_caught:
            raise TimeoutError

    async def _watch(self, session: ClientSession, timeout: float, ping_every: float,
                     on_tools: Callable[[], None], errlog: IO[bytes]) -> None:
        while not self.closed.is_set():
            with anyio.move_on_after(ping_every) as idle:
                await self.poke.wait()
            self.poke.clear()
            if self.closed.is_set():
                return
            if self.lost:
                raise ConnectionLost
            if self.tools_changed:
                self.tools_changed = False
                with anyio.fail_after(timeout):
                    self.tools = await _list_tools(session)
                on_tools()
            elif idle.cancelled_caught:
                with anyio.fail_after(timeout):
                    await session.send_ping()
                bounded(errlog)


async def _list_tools(session: ClientSession) -> list[types.Tool]:
    tools: list[types.Tool] = []
    page: types.PaginatedRequestParams | None = None
    while True:
        listed = await session.list_tools(params=page)
        tools += listed.tools
        if not listed.next_cursor:
            return tools
        page = types.PaginatedRequestParams(cursor=listed.next_cursor)


class McpTools:
    """The tools of every configured MCP server, kept connected for the app's lifetime: a
    server that dies steps aside and is started again with backoff (see Backoff).

    start(), call(), restart() and close() are coroutines for the one event loop that runs
    start(); call() may run in any task of it. Other threads submit to that loop (see
    catalog.McpRuntime). `on_change` is called on that loop whenever the tools offered change.
    """

    def __init__(self, servers: list[ServerConfig], timeout: float = DEFAULT_TIMEOUT,
                 backoff: Backoff = DEFAULT_BACKOFF, on_change: Callable[[], None] = lambda: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.backoff = backoff
        self.on_change = on_change
        self.clock = clock
        self._servers = {config.name: _Server(config) for config in servers}
        self._names: dict[tuple[str, str], str] = {}  # (server, tool) -> the model's name
        self._by_name: dict[str, tuple[str, str]] = {}
        self._change = asyncio.Event()  # set, and replaced, at each change of a server's state

    @property
    def tools(self) -> list[McpTool]:
        """The tools offered now: those of the servers running, in the config's order."""
        return [self._tool(server, tool) for server in self._servers.values()
                if server.state == "running" for tool in server.tools]

    def known_tools(self) -> list[McpTool]:
        """Every tool a server has listed, running or not."""
        return [self._tool(server, tool) for server in self._servers.values()
                for tool in server.tools]

    @property
    def problems(self) -> dict[str, str]:
        """Why each server that is not running is down, by server name."""
        return {name: s.problem for name, s in self._servers.items() if s.problem}

    def statuses(self) -> list[ServerStatus]:
        now = self.clock()
        return [ServerStatus(name, s.state, s.problem,
                             max(0.0, s.retry_at - now) if s.retry_at is not None else None,
                             len(s.tools) if s.state == "running" else 0)
                for name, s in self._servers.items()]

    def _tool(self, server: _Server, tool: types.Tool) -> McpTool:
        key = (server.config.name, tool.name)
        name = self._names.get(key)
        if name is None:
            name = base = _UNSAFE.sub("_", f"{server.config.name}__{tool.name}")[:64]
            n = 1
            while name in self._by_name:
                n += 1
                name = f"{base[:64 - len(str(n)) - 1]}_{n}"
            self._names[key], self._by_name[name] = name, key
        hints = tool.annotations
        read_only = bool(hints is not None and hints.read_only_hint)
        return McpTool(name, server.config.name, tool.name, tool.description or "",
                       dict(tool.input_schema), server.config.asks(tool.name, read_only))

    async def start(self) -> None:
        """Starts every server, and returns once each has started or failed its first try."""
        for server in self._servers.values():
            server.task = asyncio.create_task(self._supervise(server),
                                              name=f"mcp-{server.config.name}")
        await asyncio.gather(*(server.decided.wait() for server in self._servers.values()))
        self.known_tools()  # names in the config's order, whichever server answered first

    async def _supervise(self, server: _Server) -> None:
        name = server.config.name
        while not server.closed.is_set():
            began = self.clock()
            error: BaseException | None = None
            with tempfile.TemporaryFile("a+b") as errlog:  # appended to: it can be emptied
                try:
                    await server.connect(self.timeout, self.backoff.ping_every,
                                         lambda: self._running(server), errlog)
                except Exception as exc:
                    error = exc
                said = last_words(errlog)
            was_running, server.state = server.state == "running", "starting"
            if was_running:
                self._changed()
            if server.closed.is_set():
                return
            reason = failure_reason(error, server.config, self.timeout) if error is not None \
                else "it closed the connection"
            if said:
                reason += f" (it said: {said})"
            log.debug("The MCP server %r ended.", name, exc_info=error)
            if was_running and self.clock() - began >= self.backoff.stable:
                server.failures = 0
            server.failures += 1
            happened = f"stopped: {reason}" if server.ever_ran else f"could not start: {reason}"
            if server.failures >= self.backoff.tries and not unreachable(error, server.config):
                self._down(server, "stopped", f"The MCP server '{name}' {happened}. It was left "
                                               f"stopped after {server.failures} tries in a row.")
                await server.wake.wait()
                server.failures = 0
            else:
                delay = self.backoff.delay(server.failures)
                self._down(server, "restarting", f"The MCP server '{name}' {happened}.", delay)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(server.wake.wait(), delay)
            server.wake.clear()
            server.state, server.retry_at = "starting", None
            self._changed()

    def _running(self, server: _Server) -> None:
        if server.state == "running" or server.problem:
            log.info("The MCP server %r is running, with %d tools.", server.config.name,
                     len(server.tools))
        server.state, server.problem, server.retry_at, server.ever_ran = "running", "", None, True
        server.decided.set()
        self._changed()

    def _down(self, server: _Server, state: ServerState, problem: str,
              delay: float | None = None) -> None:
        server.state, server.problem = state, problem
        server.retry_at = self.clock() + delay if delay is not None else None
        server.decided.set()
        log.warning("%s%s", problem, f" Trying again in {delay:g} s." if delay is not None else "")
        self._changed()

    def _changed(self) -> None:
        self.on_change()
        self._change.set()
        self._change = asyncio.Event()

    async def until(self, condition: Callable[[], bool], timeout: float) -> None:
        """Waits until `condition()` holds, checked at each change of a server's state."""
        async def changes() -> None:
            while not condition():
                await self._change.wait()
        await asyncio.wait_for(changes(), timeout)

    async def restart(self) -> None:
        """Starts again at once every server that is down: one left stopped with its tries
        counted afresh, one waiting to restart without (so presses cannot start it forever)."""
        for server in self._servers.values():
            if server.state in ("stopped", "restarting"):
                server.wake.set()

    async def call(self, name: str, arguments: dict[str, Any]) -> str:
        key = self._by_name.get(name)
        server = self._servers[key[0]] if key is not None else None
        if key is None or server is None:
            raise ToolError(f"There is no MCP tool named '{name}'.")
        gone = f"The MCP server '{key[0]}' is not running."
        try:
            if server.session is None or server.state != "running":
                raise ToolError(gone)
            result = await server.session.call_tool(key[1], arguments)
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise ToolError(exc.message) from exc
            server.nudge(lost=True)  # the process exited or the connection dropped
            raise ToolError(gone) from None
        except ToolError:
            raise
        except Exception as exc:
            raise ToolError(f"The MCP server '{key[0]}' failed: {failure_reason(exc, server.config, 0)}.") from exc
        text = "\n".join(_text(content) for content in result.content)
        if not result.content and result.structured_content is not None:
            text = json.dumps(result.structured_content, ensure_ascii=False)
        if result.is_error:
            raise ToolError(text or f"The MCP tool '{key[1]}' failed.")
        return text

    async def close(self) -> None:
        for server in self._servers.values():
            server.closed.set()
            server.wake.set()
            server.poke.set()
        tasks = [server.task for server in self._servers.values() if server.task is not None]
        _, late = await asyncio.wait(tasks, timeout=5) if tasks else (set(), set())
        for task in late:  # still starting: its process is ended by the task's own cleanup
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):  # already reported, as a start or a call failed
                log.debug("An MCP server did not close cleanly.", exc_info=result)
