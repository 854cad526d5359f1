"""The "mcpServers" config: the JSON that Claude Desktop and Cursor use, plus which
tools ask the user first.

    {"mcpServers": {"calc": {"command": "python", "args": ["calc.py"], "env": {}},
                    "web": {"url": "http://host/mcp", "headers": {"Authorization": "..."}},
                    "files": {"command": "...", "ask": ["read_secret"], "allow": true}}}
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ServerConfig:
    name: str
    command: str | None = None
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    # Tools (as the server names them) that ask the user first, or never do; True: all.
    ask: frozenset[str] | bool = frozenset()
    allow: frozenset[str] | bool = frozenset()

    def asks(self, tool: str, read_only: bool) -> bool:
        """A tool asks before it runs unless it is read-only, or the operator allows it;
        the operator's `ask` wins."""
        if self.ask is True or (not isinstance(self.ask, bool) and tool in self.ask):
            return True
        allowed = self.allow is True or (not isinstance(self.allow, bool) and tool in self.allow)
        return not (read_only or allowed)


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{what} must be an object of strings.")
    return dict(value)


def _tool_names(value: Any, what: str) -> frozenset[str] | bool:
    if value is None:
        return frozenset()
    if isinstance(value, bool):
        return value
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be true, false or a list of tool names.")
    return frozenset(value)


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
                                    url, _strings(entry.get("headers"), f'{where}\'s "headers"'),
                                    _tool_names(entry.get("ask"), f'{where}\'s "ask"'),
                                    _tool_names(entry.get("allow"), f'{where}\'s "allow"')))
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
