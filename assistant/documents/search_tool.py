"""`search_documents`: the tool through which a model reads its user's documents."""

from __future__ import annotations

from typing import Any

from ..domain.sources import SEARCH_TOOL, cite
from ..tools.errors import ToolError
from ..tools.registry import Tool, ToolScope
from .library import Library

NAME = SEARCH_TOOL
RESULTS = 5
DESCRIPTION = ("Searches the documents the user uploaded and returns the best passages, "
               "each numbered. Cite what you use by its number in brackets, like [1].")
SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"query": {"type": "string", "description": "what to look for, in words"}},
    "required": ["query"],
    "additionalProperties": False,
}


def search_documents_tool(library: Library, timeout: float) -> Tool:
    async def run(arguments: dict[str, Any], scope: ToolScope) -> str:
        if not scope.owner:
            raise ToolError("there are no documents to search in this chat.")
        found = await library.search(scope.owner, str(arguments["query"]), RESULTS)
        if not found:
            return "No passage in the user's documents matches that search."
        sources = [cite(scope.sources, p.id, p.document_id, p.document_name, p.page, p.heading,
                        p.text) for p in found]
        return "\n\n".join(f"[{s.number}] {s.place}\n{s.text}" for s in sources)

    return Tool(NAME, DESCRIPTION, SCHEMA, run, timeout, source="documents")
