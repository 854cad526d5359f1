"""A small MCP server over stdio for the tests: add, fail and crash.

Run as `python tests/mcp_servers/calc_server.py`.
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("calc", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool()
def fail() -> str:
    """Always fails."""
    # ToolError's text reaches the client; any other exception's text stays on the server.
    raise ToolError("the calculator refuses")


@server.tool()
def crash() -> str:
    """Kills this server's process, as a server that dies mid-session would."""
    os._exit(1)


if __name__ == "__main__":
    server.run("stdio")
