"""Per-user limits as the page and the API meet them: who is counted, and what they read."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Sequence

from ..quotas.meter import Admission, Meter, limit_keys
from ..quotas.policy import Exceeded, tokens_left_line
from .client_address import Network, client_address


class UsageLimits:
    """One meter for turns on the server's key, another for visitors' own keys."""

    def __init__(self, server_key: Meter, own_key: Meter,
                 proxies: Sequence[Network] = (), *, on_spaces: bool = False) -> None:
        self.server_key = server_key
        self.own_key = own_key
        self.proxies = tuple(proxies)
        self.on_spaces = on_spaces
        self.on_refused: Callable[[str | None, str], None] | None = None  # owner, which limit

    def keys(self, request: Any, owner: str | None) -> list[str]:
        return list(limit_keys(owner, client_address(request, self.proxies,
                                                     on_spaces=self.on_spaces)))

    def meter(self, own_key: bool) -> Meter:
        return self.own_key if own_key else self.server_key

    def admit(self, request: Any, owner: str | None, *, own_key: bool = False
              ) -> Admission | str:
        """An admission to hold while the reply streams, or the message saying which limit."""
        meter = self.meter(own_key)
        admitted = meter.admit(self.keys(request, owner))
        if isinstance(admitted, Exceeded):
            self._refused(owner, admitted)
            return admitted.message(meter.clock())
        return admitted

    async def admit_async(self, request: Any, owner: str | None, *, own_key: bool = False
                          ) -> Admission | str:
        """`admit`, off the event loop when the meter asks a database."""
        if self.meter(own_key).blocking:
            return await asyncio.to_thread(self.admit, request, owner, own_key=own_key)
        return self.admit(request, owner, own_key=own_key)

    async def admit_or_refusal(self, request: Any, owner: str | None
                               ) -> tuple[Admission | Exceeded, float]:
        """An admission, or the limit that refuses (with when to retry), and the time now."""
        meter = self.server_key
        keys = self.keys(request, owner)
        admitted = await asyncio.to_thread(meter.admit, keys) if meter.blocking \
            else meter.admit(keys)
        if isinstance(admitted, Exceeded):
            self._refused(owner, admitted)
        return admitted, meter.clock()

    def _refused(self, owner: str | None, exceeded: Exceeded) -> None:
        if self.on_refused is not None:
            self.on_refused(owner, exceeded.limit)

    def left_today(self, request: Any, owner: str | None, *, own_key: bool = False) -> str:
        """"41,200 of 50,000 tokens left today", for the tightest key; "" with no daily limit."""
        meter = self.meter(own_key)
        usages = [meter.usage(key) for key in self.keys(request, owner)]
        counted = [u for u in usages if u.tokens_left is not None]
        if not counted:
            return ""
        tightest = min(counted, key=lambda u: u.tokens_left or 0)
        return tokens_left_line(tightest.tokens_left, tightest.tokens_per_day)
