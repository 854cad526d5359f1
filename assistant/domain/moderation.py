"""What a moderation check says about a user's message, whoever checked it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from .failures import Failure
from .messages import Image


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    categories: tuple[str, ...] = ()  # what it was flagged for, as the checker names them
    checked: bool = True  # False: the check failed and the message went through unchecked

    @property
    def reason(self) -> str:
        """Why a flagged message was not answered, in a sentence the user reads."""
        if "blocklist" in self.categories:
            return "🚩 This message was not answered: it contains words this app does not allow."
        named = ", ".join(c.replace("/", " / ") for c in self.categories) or "unsafe content"
        return f"🚩 This message was flagged by moderation ({named}), so it was not answered."


class ModerationUnavailable(Exception):
    """The check could not be made: a network failure, an error status, a timeout."""


class Moderator(Protocol):
    async def check(self, text: str, images: Sequence[Image]) -> Verdict: ...


UNCHECKED = Verdict(flagged=False, checked=False)
MODERATION_DOWN = Failure("moderation_unavailable", "Moderation is unavailable right now, so "
                          "this message was not answered. Try again in a moment.")
ANSWERED_UNCHECKED = "⚠️ Moderation was unavailable, so this message was answered unchecked."
