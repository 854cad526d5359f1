"""Checking a user's message before it is answered: a blocklist offline, a model online.

The blocklist is checked before anything is sent. The online check runs while the
model's request starts, and the reply's text is shown only once it has passed.
"""

from __future__ import annotations

import asyncio
import logging
import re
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import AsyncGenerator, Sequence

from ..domain.events import Event, Moderated
from ..domain.messages import Image
from ..domain.moderation import UNCHECKED, ModerationUnavailable, Moderator, Verdict

log = logging.getLogger(__name__)
BLOCKLIST = Verdict(flagged=True, categories=("blocklist",))


class Blocklist:
    """Words and phrases (whole, any case), and `/regular expressions/` (any case)."""

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.patterns = tuple(patterns)

    @classmethod
    def read(cls, path: Path) -> Blocklist:
        """One entry a line; `#` starts a comment line. A bad line raises ValueError."""
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"cannot read {path}: {exc.__class__.__name__}") from None
        patterns = []
        for number, line in enumerate(lines, 1):
            entry = line.strip()
            if not entry or entry.startswith("#"):
                continue
            if len(entry) > 2 and entry.startswith("/") and entry.endswith("/"):
                try:
                    patterns.append(re.compile(entry[1:-1], re.IGNORECASE))
                except re.error as exc:
                    raise ValueError(f"{path}, line {number}: not a regular expression "
                                     f"({exc})") from None
            else:
                words = r"\s+".join(map(re.escape, entry.split()))
                patterns.append(re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE))
        return cls(patterns)

    def matches(self, text: str) -> bool:
        return any(p.search(text) for p in self.patterns)


@dataclass(frozen=True)
class Moderation:
    blocklist: Blocklist | None = None
    online: Moderator | None = None
    fail_open: bool = False  # when the online check fails: answer anyway, and say so

    def passes(self, verdict: Verdict) -> bool:
        return not verdict.flagged and (verdict.checked or self.fail_open)

    def blocked(self, text: str) -> Verdict | None:
        """The blocklist's verdict, at once: before anything is sent."""
        if self.blocklist is not None and self.blocklist.matches(text):
            return BLOCKLIST
        return None

    def start(self, text: str, images: Sequence[Image]) -> asyncio.Future[Verdict] | None:
        """The online check, running; None when there is none."""
        if self.online is None:
            return None
        return asyncio.ensure_future(self._check(self.online, text, images))

    @staticmethod
    async def _check(online: Moderator, text: str, images: Sequence[Image]) -> Verdict:
        try:
            return await online.check(text, images)
        except ModerationUnavailable:
            return UNCHECKED
        except Exception:  # a bug, or an answer of a shape we do not know
            log.exception("the moderation check failed")
            return UNCHECKED


async def until_judged(events: AsyncGenerator[Event, None], check: asyncio.Future[Verdict]
                       ) -> AsyncGenerator[Event, None]:
    """`events`, and `Moderated()` the moment the check answers: a flagged message stops
    the reply then, even while the model sends nothing (a long think, a slow tool)."""
    async with aclosing(events) as source:
        step: asyncio.Future[Event] | None = None
        try:
            while not check.done():
                step = step or asyncio.ensure_future(anext(source))
                await asyncio.wait((step, check), return_when=asyncio.FIRST_COMPLETED)
                if check.done():
                    yield Moderated()
                if step.done():
                    finished, step = step, None
                    try:
                        yield finished.result()
                    except StopAsyncIteration:
                        return
            if step is not None:
                try:
                    yield await step
                except StopAsyncIteration:
                    return
                step = None
            async for event in source:  # judged: the events pass straight through
                yield event
        finally:
            if step is not None and not step.done():
                step.cancel()
                await asyncio.gather(step, return_exceptions=True)
