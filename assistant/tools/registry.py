"""The tools a model may call: a name, a JSON schema, an async function and a timeout.

Adding a tool is one function:

    @toolbox.function(description="Reverses text.")
    def reverse(text: str) -> str:
        return text[::-1]

The schema is derived from the type hints (str, int, float, bool, list; a default
makes a parameter optional) unless one is given. A tool returns text for the model;
it raises ToolError (or anything else) to report a failure, which the model is told.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, get_type_hints

from ..domain.events import Approval
from ..domain.messages import ToolCall, ToolResult, ToolSpec
from ..domain.sources import Source
from .errors import ToolError
from .schema import check_arguments, schema_from_hints

NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Approver(Protocol):
    """Asks the user about a call to a tool that asks first."""

    async def answered(self, call: ToolCall, tool: Tool) -> Approval | None:
        """The answer given for good before (Always allow), if any: then nobody is asked."""
        ...

    def ask(self, call: ToolCall, tool: Tool) -> asyncio.Future[Approval]:
        """Asks now, before the question is shown; the future holds the answer."""
        ...

DEFAULT_TIMEOUT = 10.0


@dataclass
class ToolScope:
    """Whom a call works for, and the reply's sources, where a tool notes what it read."""
    owner: str | None = None
    sources: list[Source] = field(default_factory=list)
    # Awaited before any call runs; False: run none (the message did not pass moderation).
    cleared: Callable[[], Awaitable[bool]] | None = None
    # Asks the user about a call to a tool that asks first; None: nobody can answer, so
    # such a call is refused.
    approve: Approver | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    run: Callable[[dict[str, Any], ToolScope], Awaitable[str]]
    timeout: float = DEFAULT_TIMEOUT
    source: str = "built-in"  # or the MCP server's name
    asks: bool = False  # the user is asked before each call (a tool that changes things)

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)


def _as_async(fn: Callable[..., Any]) -> Callable[[dict[str, Any], ToolScope], Awaitable[str]]:
    async def run(arguments: dict[str, Any], scope: ToolScope) -> str:
        if inspect.iscoroutinefunction(fn):
            result = await fn(**arguments)
        else:  # a plain function may block: keep it off the event loop
            result = await asyncio.to_thread(fn, **arguments)
        return result if isinstance(result, str) else json.dumps(result, ensure_ascii=False)
    return run


class Toolbox:
    """Every tool the app offers, by name."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}  # replaced whole on each change: readers need no lock
        self._writing = threading.Lock()
        # Tools of MCP servers that are down: skipped when asked for, until they are back.
        self.unavailable: frozenset[str] = frozenset()

    def add(self, tool: Tool) -> Tool:
        if not NAME.match(tool.name):
            raise ValueError(f"tool names are 1-64 letters, digits, _ or -: {tool.name!r}")
        with self._writing:
            if tool.name in self._tools:
                raise ValueError(f"a tool named {tool.name!r} exists already")
            self._tools = {**self._tools, tool.name: tool}
        return tool

    def function(self, fn: Callable[..., Any] | None = None, *, name: str | None = None,
                 description: str | None = None, schema: dict[str, Any] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> Any:
        """Registers `fn` as a tool; usable bare (`@toolbox.function`) or with options."""
        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            hints = get_type_hints(fn)
            self.add(Tool(
                name=name or fn.__name__,
                description=description or inspect.getdoc(fn) or fn.__name__,
                parameters=schema or schema_from_hints(inspect.signature(fn), hints),
                run=_as_async(fn), timeout=timeout))
            return fn
        return register(fn) if fn is not None else register

    def remove(self, name: str) -> None:
        with self._writing:
            self._tools = {n: t for n, t in self._tools.items() if n != name}

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    @property
    def tools(self) -> list[Tool]:
        return list(self._tools.values())

    def specs(self, names: Iterable[str]) -> tuple[ToolSpec, ...]:
        tools = self._tools
        return tuple(tools[n].spec for n in names if n in tools)

    async def run(self, call: ToolCall, scope: ToolScope | None = None) -> ToolResult:
        """Runs one call; every failure becomes a result the model can read."""
        tool = self._tools.get(call.name)
        if tool is None:
            return ToolResult(call.call_id, call.name, f"Error: there is no tool named "
                              f"“{call.name}”.", failed=True)
        try:
            arguments = json.loads(call.arguments or "{}")
            check_arguments(arguments, tool.parameters)
            output = await asyncio.wait_for(tool.run(arguments, scope or ToolScope()),
                                            tool.timeout)
        except json.JSONDecodeError as exc:
            return _failed(call, f"the arguments are not valid JSON ({exc.msg}).")
        except ToolError as exc:
            return _failed(call, str(exc))
        except TimeoutError:
            return _failed(call, f"the tool took longer than {tool.timeout:g} s.")
        except Exception as exc:  # a tool's bug must not end the reply
            return _failed(call, f"the tool failed ({type(exc).__name__}).")
        return ToolResult(call.call_id, call.name, output)


def _failed(call: ToolCall, reason: str) -> ToolResult:
    return ToolResult(call.call_id, call.name, f"Error: {reason}", failed=True)
