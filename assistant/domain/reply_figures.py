"""What a reply's stats line says, as figures kept with the reply once it ends, so that
a reply restored after a reload shows the same line as when it streamed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from .reply import Reply


@dataclass(frozen=True)
class ReplyFigures:
    model: str
    first_token: float | None = None  # seconds from the start to the first token
    streamed: float | None = None  # seconds from the first token to the end
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    estimated: bool = True  # the server sent no usage: the counts are ours
    route: str | None = None  # the Auto route that chose the model

    @classmethod
    def of(cls, reply: Reply) -> ReplyFigures:
        first = reply.first_token
        return cls(reply.model, None if first is None else max(0.0, first - reply.started),
                   None if first is None or reply.ended is None else reply.ended - first,
                   reply.prompt_tokens, reply.completion_tokens, reply.usage_estimated,
                   reply.route)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: Mapping[str, Any] | None) -> ReplyFigures | None:
        """The figures of a stored record; None for none, or for one this app cannot read."""
        if not isinstance(record, Mapping) or not isinstance(record.get("model"), str):
            return None
        first, streamed = record.get("first_token"), record.get("streamed")
        prompt, completion = record.get("prompt_tokens"), record.get("completion_tokens")
        route = record.get("route")
        if not all(n is None or type(n) in (int, float) for n in (first, streamed)) \
                or not all(c is None or type(c) is int for c in (prompt, completion)) \
                or not (route is None or isinstance(route, str)):
            return None
        return cls(record["model"], first, streamed, prompt, completion,
                   bool(record.get("estimated", True)), route)
