"""One-time links to a speech stream: the page's audio element opens `/voice/speech/ID`.

A handler that has checked who asks and what they may hear makes the ticket; the link
carries no owner or token, only an unguessable id, used once and only for a minute.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import AsyncIterator, Callable

LIFETIME = 60.0  # seconds between the ticket and the audio element's request


@dataclass(frozen=True)
class SpeechTicket:
    sample_rate: int
    pcm: Callable[[], AsyncIterator[bytes]]  # started when the link is opened
    made: float


class SpeechTickets:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tickets: dict[str, SpeechTicket] = {}
        self._clock = clock

    def issue(self, sample_rate: int, pcm: Callable[[], AsyncIterator[bytes]]) -> str:
        now = self._clock()
        for stale in [k for k, t in self._tickets.items() if now - t.made > LIFETIME]:
            del self._tickets[stale]
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = SpeechTicket(sample_rate, pcm, now)
        return ticket

    def take(self, ticket: str) -> SpeechTicket | None:
        found = self._tickets.pop(ticket, None)
        if found is None or self._clock() - found.made > LIFETIME:
            return None
        return found
