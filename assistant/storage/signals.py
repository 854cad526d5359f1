"""Signals between the app processes that share one database, each naming a reply by
its message id (postgres/signals.py sends them; ../conversation/remote_runs.py uses them):
- "changed": the reply's row was written;
- "watch": a page in another process follows the reply, so save it often;
- "stop": Stop was pressed for it in another process;
- "allow", "always", "deny": its owner answered its question about a tool in another
  process (conversation/approvals.py).
"""

from __future__ import annotations

from typing import Callable, Literal, Protocol, get_args

SignalKind = Literal["changed", "watch", "stop", "allow", "always", "deny"]
KINDS: tuple[str, ...] = get_args(SignalKind)
Listener = Callable[[SignalKind, int], None]


class RunSignals(Protocol):
    def publish(self, kind: SignalKind, message_id: int) -> None:
        """Blocks: call it off the event loop."""
        ...

    def listen(self, listener: Listener) -> None:
        """`listener` hears every signal, on a thread of the signals' own."""
        ...
