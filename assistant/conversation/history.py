"""From Gradio's chat history to the messages sent upstream.

Gradio hands us history in two shapes (content as a list of parts from the
browser, as a plain string through the API), plus our own notices. This module
turns either into user/assistant exchanges and trims them to fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

CONTINUE = "Continue"
REGENERATE = "Regenerate"
INCOMPLETE_NOTICE_ID = "incomplete"
CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped, "
    "without repeating anything you already wrote."
)
_PER_MESSAGE_TOKENS = 4
_REPLY_MARGIN_TOKENS = 64


@dataclass
class Exchange:
    user: str
    assistant: str = ""
    incomplete: bool = False


def message_text(content: Any) -> str:
    """The text of a message's content, whichever shape Gradio gave it."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        if content.get("type", "text") == "text" and isinstance(content.get("text"), str):
            return content["text"]
        return ""
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return ""  # files and components carry no text for the model


def _field(message: Any, name: str) -> Any:
    return message.get(name) if isinstance(message, dict) else getattr(message, name, None)


def exchanges(history: Iterable[Any]) -> list[Exchange]:
    """User/assistant exchanges, with our notices dropped and Continue/Regenerate applied.

    After a reply marked incomplete, a user message "Continue" means the next
    reply carries on the same text, and "Regenerate" means it replaces it.
    """
    result: list[Exchange] = []
    for message in history or ():
        role = _field(message, "role")
        metadata = _field(message, "metadata") or {}
        if role == "assistant" and metadata.get("title"):
            if metadata.get("id") == INCOMPLETE_NOTICE_ID and result:
                result[-1].incomplete = True
            continue
        text = message_text(_field(message, "content"))
        if role == "user":
            last = result[-1] if result else None
            if last is not None and last.incomplete and text == CONTINUE:
                last.incomplete = False
            elif last is not None and last.incomplete and text == REGENERATE:
                last.assistant, last.incomplete = "", False
            else:
                result.append(Exchange(user=text))
        elif role == "assistant" and result:
            result[-1].assistant += text
    return result


def estimate_tokens(text: str) -> int:
    """A conservative, offline token estimate: about 3 UTF-8 bytes a token.

    Real tokenizers give ~4 bytes a token for English and ~3 for most other
    scripts, so this over-counts a little: trimming errs on the safe side.
    """
    return len(text.encode("utf-8", "surrogatepass")) // 3 + 1


def messages_tokens(messages: Sequence[dict[str, str]]) -> int:
    return sum(estimate_tokens(m["content"]) + _PER_MESSAGE_TOKENS for m in messages)


class DoesNotFit(ValueError):
    """Even the new message alone is longer than the model's context window."""


def build_messages(
    *,
    system_prompt: str,
    history: Sequence[Exchange],
    user_message: str,
    history_turns: int,
    context_window: int,
    max_tokens: int,
) -> list[dict[str, str]]:
    """System prompt, the last `history_turns` exchanges that fit, the new message."""
    head = [{"role": "system", "content": system_prompt}] if system_prompt.strip() else []
    tail = [{"role": "user", "content": user_message}]
    budget = context_window - min(max_tokens, context_window // 2) - _REPLY_MARGIN_TOKENS
    used = messages_tokens(head) + messages_tokens(tail)
    if used > budget:
        raise DoesNotFit(f"the message needs about {used:,} tokens; the model accepts about {budget:,}")
    kept: list[dict[str, str]] = []
    recent = list(history)[-history_turns:] if history_turns > 0 else []
    for exchange in reversed(recent):
        pair = [{"role": "user", "content": exchange.user}]
        if exchange.assistant:
            pair.append({"role": "assistant", "content": exchange.assistant})
        cost = messages_tokens(pair)
        if used + cost > budget:
            break
        kept[:0] = pair
        used += cost
    return head + kept + tail


def prepare_turn(history: Iterable[Any], message: str) -> tuple[list[Exchange], str]:
    """The earlier exchanges and the user text to send for `message`.

    "Continue" after an incomplete reply sends that reply and asks the model to
    carry on; "Regenerate" asks the cut-off question again.
    """
    past = exchanges(history)
    if past and past[-1].incomplete:
        if message == CONTINUE:
            return past, CONTINUE_INSTRUCTION
        if message == REGENERATE:
            return past[:-1], past[-1].user
    return past, message
