"""What a reply added since the caller last heard: the API streams deltas, while the
turn hands over the whole reply at each update. Per update: no I/O, nothing re-read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..domain.reply import Reply, Step


@dataclass
class Delta:
    text: str = ""
    reasoning: str = ""
    steps: list[Step] = field(default_factory=list)  # tool steps begun or changed


class Progress:
    def __init__(self) -> None:
        self.text_sent = 0
        self._reasoning_sent: dict[int, int] = {}  # step index -> characters sent
        self._step_states: dict[int, tuple[Any, ...]] = {}

    def delta(self, reply: Reply) -> Delta:
        delta = Delta()
        text = reply.text
        if len(text) > self.text_sent:
            delta.text, self.text_sent = text[self.text_sent:], len(text)
        for index, step in enumerate(reply.steps):
            if step.kind == "reasoning":
                sent = self._reasoning_sent.get(index, 0)
                if len(step.text) > sent:
                    delta.reasoning += step.text[sent:]
                    self._reasoning_sent[index] = len(step.text)
            elif step.kind == "tool":  # a route note is the model's name, already sent
                state = (step.done, step.approval, step.failed)
                if self._step_states.get(index) != state:
                    self._step_states[index] = state
                    delta.steps.append(step)
        return delta


def step_record(step: Step) -> dict[str, Any]:
    """A server-side tool step as the API shows it."""
    record = {"type": "tool_call", "id": step.call_id, "name": step.name,
              "arguments": step.arguments, "status": step_status(step)}
    if step.done:
        record["output"] = step.text
    if step.approval is not None:
        record["approval"] = step.approval
    return record


def step_status(step: Step) -> str:
    if step.approval == "pending":
        return "awaiting_approval"
    if not step.done:
        return "in_progress"
    return "failed" if step.failed else "completed"


def reasoning_text(reply: Reply) -> str:
    return "\n\n".join(s.text for s in reply.steps if s.kind == "reasoning" and s.text)


def sources_records(reply: Reply) -> list[dict[str, Any]]:
    return [{"number": s.number, "document": s.name, "page": s.page, "heading": s.heading,
             "text": s.text} for s in reply.sources]
