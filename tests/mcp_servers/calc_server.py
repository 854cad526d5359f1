"""A small MCP server over stdio for the tests: add, fail, crash, and grow (which adds a
tool, `double`, and tells the client that its tools changed). Its tools say they are
read-only, so none asks the user first.

Run as `python tests/mcp_servers/calc_server.py`.
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

server = MCPServer("calc", log_level="WARNING")
READ_ONLY = ToolAnnotations(read_only_hint=True)  # so that no call asks first


@server.tool(annotations=READ_ONLY)
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


@server.tool(annotations=READ_ONLY)
def fail() -> str:
    """Always fails."""
    # ToolError's text reaches the client; any other exception's text stays on the server.
    raise ToolError("the calculator refuses")


@server.tool(annotations=READ_ONLY)
def crash() -> str:
    """Kills this server's process, as a server that dies mid-session would."""
    os._exit(1)


def double(n: int) -> int:
    """Doubles an integer."""
    return 2 * n


@server.tool(annotations=READ_ONLY)
async def grow(ctx: Context) -> str:
    """Adds the tool `double`."""
    server.add_tool(double, annotations=READ_ONLY)
    await ctx.session.send_tool_list_changed()
    return "grown"


if __name__ == "__main__":
    server.run("stdio")
