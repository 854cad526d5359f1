"""The earlier turns to send, as exchanges, trimmed to fit the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Sequence

from ..domain.messages import Image, Message, Part, Text, ToolCall, ToolResult
from .untrusted import marked_result

CONTINUE_INSTRUCTION = (
    "Your previous reply was cut off. Continue it exactly where it stopped, "
    "without repeating anything you already wrote."
)
_PER_MESSAGE_TOKENS = 4
_REPLY_MARGIN_TOKENS = 64
IMAGE_TOKENS = 800  # about what a 1024-pixel image costs on OpenAI's vision models


@dataclass
class Exchange:
    user: str
    images: tuple[Image, ...] = ()  # sent with the user's message
    assistant: str = ""
    incomplete: bool = False
    tool_parts: list[Part] = field(default_factory=list)  # the reply's calls and results, in order
    # It ends with the results of an API caller's own tools: the model answers them next.
    awaits_results: bool = False

    def replies(self) -> list[Message]:
        """The reply as protocols expect it: each round's calls, their results, then the text."""
        shown: list[Message] = []
        for part in self.tool_parts:
            item: Part
            if isinstance(part, ToolCall):
                role, item = "assistant", part
            elif isinstance(part, ToolResult):
                role, item = "tool", marked_result(part)
            else:
                continue  # reasoning is the model's own, never sent back
            if shown and shown[-1].role == role:
                shown[-1] = Message(shown[-1].role, (*shown[-1].parts, item))
            else:
                shown.append(Message("assistant" if role == "assistant" else "tool", (item,)))
        if not self.assistant:
            return shown
        if self.awaits_results and shown:  # the text came with the calls, before their results
            return [Message("assistant", (Text(self.assistant), *shown[0].parts)), *shown[1:]]
        return [*shown, Message.of("assistant", self.assistant)]


def exchanges(history: Iterable[Message]) -> list[Exchange]:
    """User/assistant exchanges. Replies in a row (a reply and its continuation) join;
    the last of them says whether the reply is complete."""
    result: list[Exchange] = []
    for message in history:
        if message.role == "user":
            result.append(Exchange(user=message.text, images=message.images))
        elif message.role in ("assistant", "tool") and result:
            result[-1].assistant += message.text
            result[-1].tool_parts += [p for p in message.parts if not isinstance(p, Text)]
            result[-1].incomplete = message.incomplete
            result[-1].awaits_results = message.role == "tool"
    return result


def estimate_tokens(text: str) -> int:
    """A conservative, offline token estimate: about 3 UTF-8 bytes a token.

    Real tokenizers give ~4 bytes a token for English and ~3 for most other
    scripts, so this over-counts a little: trimming errs on the safe side.
    """
    return len(text.encode("utf-8", "surrogatepass")) // 3 + 1


def _size(part: Part) -> str:
    if isinstance(part, ToolCall):
        return part.name + part.arguments
    if isinstance(part, Image):
        return ""  # counted as IMAGE_TOKENS
    return part.output if isinstance(part, ToolResult) else part.text


def messages_tokens(messages: Sequence[Message]) -> int:
    return sum(estimate_tokens("".join(map(_size, m.parts))) + _PER_MESSAGE_TOKENS
               + IMAGE_TOKENS * len(m.images) for m in messages)


class DoesNotFit(ValueError):
    """Even the new message alone is longer than the model's context window."""


def build_messages(
    *,
    system_prompt: str,
    history: Sequence[Exchange],
    user_message: str | None,
    history_turns: int,
    context_window: int,
    max_tokens: int,
    images: Sequence[Image] = (),
    earlier_images: int = 0,
) -> tuple[Message, ...]:
    """System prompt, the last `history_turns` exchanges that fit, the new message (None:
    none, the last exchange awaits the model's answer to tool results).

    Up to `earlier_images` images of earlier messages go again, the latest first.
    """
    head = [Message.of("system", system_prompt)] if system_prompt.strip() else []
    tail = [Message("user", (Text(user_message), *images))] if user_message is not None else []
    budget = context_window - min(max_tokens, context_window // 2) - _REPLY_MARGIN_TOKENS
    used = messages_tokens(head) + messages_tokens(tail)
    if used > budget:
        raise DoesNotFit(f"the message needs about {used:,} tokens; the model accepts about {budget:,}")
    kept: list[Message] = []
    recent = list(history)[-history_turns:] if history_turns > 0 else []
    left = earlier_images
    for exchange in reversed(recent):
        resent = exchange.images[-left:] if left > 0 else ()
        pair = [Message("user", (*(Text(exchange.user),) * bool(exchange.user), *resent)),
                *exchange.replies()]
        cost = messages_tokens(pair)
        if used + cost > budget:
            break
        kept[:0] = pair
        used += cost
        left -= len(resent)
    return (*head, *kept, *tail)


def prepare_turn(history: Iterable[Message], message: str, continues: bool = False
                 ) -> tuple[list[Exchange], str | None]:
    """The earlier exchanges and the user text to send (None: nothing new).

    `continues`: the last reply of `history` was cut off, and the model is asked to carry
    on; or it ends with tool results, which the model answers.
    """
    past = exchanges(history)
    if continues and past and past[-1].awaits_results:
        return past, None
    return past, CONTINUE_INSTRUCTION if continues and past else message
