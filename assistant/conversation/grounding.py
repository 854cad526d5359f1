"""Answering from the user's documents without tools: the best passages go in the prompt."""

from __future__ import annotations

from typing import Protocol, Sequence

from ..domain.sources import Source
from ..storage.records import StoredPassage
from .history import estimate_tokens
from .untrusted import as_data

PASSAGES = 5
MAX_SHARE = 4  # the passages take at most a quarter of the context window
MAX_TOKENS = 3000
CITE_INSTRUCTION = ("Answer from the passages of the user's documents below when they are "
                    "relevant, and cite each passage you use by its number in brackets, "
                    "like [1].")


class DocumentSearch(Protocol):
    async def has_documents(self, owner: str) -> bool: ...

    async def search(self, owner: str, query: str, k: int = 5) -> list[StoredPassage]: ...


def passages_budget(context_window: int) -> int:
    return min(MAX_TOKENS, context_window // MAX_SHARE)


def with_passages(system_prompt: str, passages: Sequence[StoredPassage], budget: int,
                  sources: list[Source]) -> str:
    """The system prompt with as many of the passages as fit; numbers them into `sources`."""
    blocks: list[str] = []
    used = estimate_tokens(CITE_INSTRUCTION)
    for p in passages:
        source = Source(len(sources) + 1, p.id, p.document_id, p.document_name, p.page,
                        p.heading, p.text)
        block = f"[{source.number}] {source.place}\n{as_data(p.text, source.place)}"
        used += estimate_tokens(block)
        if used > budget:
            break
        sources.append(source)
        blocks.append(block)
    if not blocks:
        return system_prompt
    return "\n\n".join([system_prompt.strip(), CITE_INSTRUCTION, *blocks]).strip()
