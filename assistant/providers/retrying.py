"""When to try again before the first token, and how long to wait."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .errors import Failure


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    budget: float = 30.0  # total seconds all waits together may take
    base_delay: float = 0.5
    max_delay: float = 8.0

    def delay(self, failure: Failure, attempt: int, waited: float) -> float | None:
        """Seconds to wait before retry number `attempt + 1`, or None to give up."""
        if not failure.retryable or attempt >= self.max_retries:
            return None
        if failure.retry_after is not None:
            delay = failure.retry_after
        else:
            backoff = min(self.base_delay * 2**attempt, self.max_delay)
            delay = backoff * (1 - 0.25 * random.random())
        return delay if waited + delay <= self.budget else None
