"""Our conversation model: a message is a role and a list of parts.

Each protocol adapter translates these to and from its own wire format; the web
layer translates Gradio's messages. Nothing here knows either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Reasoning:
    """What the model thought before answering: shown apart, never sent back as the answer."""
    text: str
    seconds: float | None = None


@dataclass(frozen=True)
class ToolCall:
    call_id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass(frozen=True)
class ToolResult:
    call_id: str
    name: str
    output: str
    failed: bool = False


@dataclass(frozen=True)
class Image:
    """An image the user sent, already prepared: encoded bytes and their media type."""
    media_type: str  # "image/png", "image/jpeg"
    data: bytes = field(repr=False)
    name: str = ""


Part = Text | Reasoning | ToolCall | ToolResult | Image


@dataclass(frozen=True)
class Message:
    role: Role
    parts: tuple[Part, ...]
    incomplete: bool = False  # an assistant reply that did not finish

    @classmethod
    def of(cls, role: Role, text: str) -> Message:
        return cls(role, (Text(text),) if text else ())

    @property
    def text(self) -> str:
        return "".join(p.text for p in self.parts if isinstance(p, Text))

    @property
    def images(self) -> tuple[Image, ...]:
        return tuple(p for p in self.parts if isinstance(p, Image))


@dataclass(frozen=True)
class ToolSpec:
    """A tool the model may call: its name, what it does, its arguments' JSON schema."""
    name: str
    description: str
    parameters: dict[str, Any]
    client: bool = False  # the API caller's own: its calls go back to the caller, unrun


@dataclass(frozen=True)
class ModelRequest:
    """One request to a model, whatever the protocol."""
    model: str
    messages: tuple[Message, ...]
    temperature: float
    max_tokens: int
    reasoning: bool = False  # the model reasons: ask for a summary, leave temperature out
    tools: tuple[ToolSpec, ...] = ()
