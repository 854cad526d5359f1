"""The passages a reply was given, numbered as the model cites them: [1], [2]."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Sequence

SEARCH_TOOL = "search_documents"  # the tool that reads the user's documents
_CITATION = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")


@dataclass(frozen=True)
class Source:
    number: int
    passage_id: int
    document_id: str
    name: str
    page: int | None
    heading: str
    text: str

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Source:
        return cls(int(record["number"]), int(record["passage_id"]), str(record["document_id"]),
                   str(record["name"]), record.get("page"), str(record.get("heading") or ""),
                   str(record.get("text") or ""))

    @property
    def place(self) -> str:
        """Where it is, for a reader: "report.pdf, page 3, Results"."""
        page = f", page {self.page}" if self.page else ""
        return f"{self.name}{page}" + (f", {self.heading}" if self.heading else "")


def cite(sources: list[Source], passage_id: int, document_id: str, name: str,
         page: int | None, heading: str, text: str) -> Source:
    """The source for a passage, numbered on first sight; the same passage keeps its number."""
    for source in sources:
        if source.passage_id == passage_id:
            return source
    source = Source(len(sources) + 1, passage_id, document_id, name, page, heading, text)
    sources.append(source)
    return source


def cited(text: str, sources: Iterable[Source]) -> list[Source]:
    """The sources the text refers to by number, in number order."""
    numbers = {int(n) for group in _CITATION.findall(text) for n in group.split(",")}
    return [s for s in sources if s.number in numbers]


def shown_sources(text: str, sources: Sequence[Source]) -> list[Source]:
    """What to list under a reply: the sources it cites, else all it was given."""
    return cited(text, sources) or list(sources)
