"""The tests' `add` tool over Streamable HTTP, at http://127.0.0.1:PORT/mcp.

Run as `python tests/mcp_servers/http_server.py PORT` (0 picks a free port). Prints
"ready PORT" once the port is listening, so a test can wait for that line.
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer

server = MCPServer("calc-http", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Adds two integers."""
    return a + b


if __name__ == "__main__":
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # restarted on its old port
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(64)  # connections made from now on wait in the backlog until uvicorn serves them
    print("ready", sock.getsockname()[1], flush=True)
    config = uvicorn.Config(server.streamable_http_app(), log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])
