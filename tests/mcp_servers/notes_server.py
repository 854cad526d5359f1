"""An MCP server over stdio for the tests whose tools say what they do: `read_note` is
read-only, `delete_note` destructive (MCP tool annotations). Notes live in memory;
`delete_note` also writes the deleted name to the file NOTES_DELETED names, so that a
test can see whether it ran.

Run as `python tests/mcp_servers/notes_server.py`.
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

server = MCPServer("notes", log_level="WARNING")
notes = {"todo": "buy milk", "plan": "ship it"}


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
def read_note(name: str) -> str:
    """Reads a note."""
    return notes.get(name, "no such note")


@server.tool(annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True))
def delete_note(name: str) -> str:
    """Deletes a note."""
    notes.pop(name, None)
    with open(os.environ["NOTES_DELETED"], "a", encoding="utf-8") as deleted:
        deleted.write(name + "\n")
    return f"deleted {name}"


if __name__ == "__main__":
    server.run("stdio")
