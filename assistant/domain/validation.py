"""Checks of what a user (or an API caller) sends, with messages that say what to fix."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


class InvalidInput(ValueError):
    """Raised with a sentence meant for the user."""


@dataclass(frozen=True)
class ReplyOptions:
    model: str
    temperature: float
    system_prompt: str
    history_turns: int
    max_tokens: int


def clean_text(text: Any) -> str:
    """Text that can travel as JSON: no NUL bytes, no lone surrogates."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if "\x00" in text:
        text = text.replace("\x00", "")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # a lone surrogate becomes U+FFFD, as a UTF-8 decoder would show it
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return str(text)


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be a number.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} must be a number, not “{clean_text(value)[:40]}”.") from None
    if math.isnan(number) or math.isinf(number):
        raise InvalidInput(f"{name} must be a finite number.")
    return number


def _whole(value: Any, name: str) -> int:
    number = _number(value, name)
    if number != int(number):
        raise InvalidInput(f"{name} must be a whole number.")
    return int(number)


def check_message(message: Any, limit: int) -> str:
    text = clean_text(message.get("text") if isinstance(message, dict) else message)
    if len(text) > limit:
        raise InvalidInput(f"Your message is {len(text):,} characters long; the limit is "
                           f"{limit:,}. Shorten it or split it into parts.")
    return text


def check_options(model: Any, temperature: Any, system_prompt: Any,
                  history_turns: Any, max_tokens: Any) -> ReplyOptions:
    model_name = clean_text(model).strip()
    if not model_name:
        raise InvalidInput("The model name is empty. Choose a model in the sidebar.")
    temp = _number(temperature, "Temperature")
    if not 0 <= temp <= 2:
        raise InvalidInput(f"Temperature must be between 0 and 2 (it is {temp:g}).")
    turns = _whole(history_turns, "History length")
    if turns < 0:
        raise InvalidInput(f"History length must be 0 or more turns (it is {turns}).")
    tokens = _whole(max_tokens, "Max output tokens")
    if tokens < 1:
        raise InvalidInput(f"Max output tokens must be at least 1 (it is {tokens}).")
    return ReplyOptions(model_name, temp, clean_text(system_prompt), turns, tokens)
