"""A stored path as the model's context: what each message really was, never what the page shows.

Tool calls keep their ids, arguments and whole results; reasoning stays apart from the
answer (a `Reasoning` part, which no adapter sends back); a user's images come along.
A message that moderation refused is left out with the reply that says so.
"""

from __future__ import annotations

from typing import Sequence

from ..domain import messages as domain
from .records import Message

ANSWERED = ("complete", "refused")


def flagged(message: Message) -> bool:
    """A reply moderation wrote instead of the model's: the message before it is never sent."""
    return message.role == "assistant" and message.status == "refused" and bool(message.reason)


def model_messages(path: Sequence[Message]) -> list[domain.Message]:
    """The path as our messages, one per stored message (flagged exchanges left out)."""
    result: list[domain.Message] = []
    for message in path:
        if flagged(message):
            while result and result[-1].role == "assistant":
                result.pop()
            if result:
                result.pop()
            continue
        if message.role == "user":
            images = tuple(domain.Image(i.media_type, i.data, i.name) for i in message.images)
            text = (domain.Text(message.content),) if message.content else ()
            result.append(domain.Message("user", (*text, *images)))
        else:
            result.append(domain.Message("assistant", reply_parts(message),
                                         incomplete=message.status not in ANSWERED))
    return result


def reply_parts(message: Message) -> tuple[domain.Part, ...]:
    """A stored reply's steps and text as parts: each round's calls, then their results."""
    parts: list[domain.Part] = []
    results: list[domain.Part] = []
    round_ = None
    for step in message.steps:
        if step.get("type") != "tool":
            parts += results
            results, round_ = [], None
            if step.get("text"):
                parts.append(domain.Reasoning(str(step["text"])))
            continue
        if step.get("round") != round_:
            parts += results
            results, round_ = [], step.get("round")
        call_id, name = str(step.get("call_id") or ""), str(step.get("name") or "")
        parts.append(domain.ToolCall(call_id, name, str(step.get("arguments") or "")))
        results.append(domain.ToolResult(call_id, name, str(step.get("text") or ""),
                                         bool(step.get("failed"))))
    parts += results
    if message.content:
        parts.append(domain.Text(message.content))
    return tuple(parts)
