"""Replies as runs the server owns: they go on when the tab that asked goes away.

A run drives a reply's updates to the end on its own task. Anyone may follow it:
the tab that asked, the same tab after a reload, another tab of the same owner. A
follower that leaves stops nothing; only `stop` (the Stop button) ends a run early.
Each update is a whole snapshot of the reply, so a run keeps only the newest one, with
its number: a follower that comes late starts from it, and a slow one skips to it.
Runs are keyed by owner and conversation, so a follower only ever finds its own.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import AsyncIterator, Callable, Generic, TypeVar

from ..domain.reply import Place

log = logging.getLogger(__name__)
U = TypeVar("U")
RunKey = tuple[str, str]  # (owner, conversation id)
LOOK_EVERY = 0.5  # seconds between looks at whether a follower should leave
ENDED_KEPT = 10.0  # seconds an ended run counts as just ended


class Run(Generic[U]):
    def __init__(self, updates: AsyncIterator[U], place: Place,
                 on_end: Callable[[], None]) -> None:
        self.place = place  # where the reply is kept; its message id arrives once written
        self.number = 0  # of the newest update
        self.latest: U | None = None
        self.done = False
        self._error: BaseException | None = None
        self._changed = asyncio.Event()
        self._on_end = on_end
        self._task = asyncio.get_running_loop().create_task(self._drive(updates))
        self._task.add_done_callback(self._ended)  # also when stopped before it began

    async def _drive(self, updates: AsyncIterator[U]) -> None:
        try:
            async for update in updates:
                self.number += 1
                self.latest = update
                self._wake()
        except asyncio.CancelledError:
            pass  # stopped: the reply's own code has recorded it as stopped
        except Exception as exc:  # handed to every follower
            self._error = exc

    def _ended(self, _: object) -> None:
        self.done = True
        try:
            self._on_end()
        except Exception:
            log.exception("ending a run failed")
        finally:
            self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self, after: int = 0, leave: Callable[[], bool] | None = None,
                     look_every: float = LOOK_EVERY) -> AsyncIterator[U]:
        """The updates after number `after`, newest first when behind, to the end; or until
        `leave()` is true, looked at before each update and every `look_every` seconds
        while none comes (the run goes on)."""
        while True:
            changed = self._changed
            if leave is not None and leave():
                return
            if self.number > after and self.latest is not None:
                after = self.number
                yield self.latest
            elif self.done:
                if self._error is not None:
                    raise self._error
                return
            elif leave is None:
                await changed.wait()
            else:
                try:
                    async with asyncio.timeout(look_every):
                        await changed.wait()
                except TimeoutError:
                    pass

    def stop(self) -> None:
        self._task.cancel()

    async def ended(self) -> None:
        await asyncio.wait([self._task])



class Runs(Generic[U]):
    """The runs in progress in this process, at most one per conversation."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._runs: dict[RunKey, Run[U]] = {}
        self._started = asyncio.Event()  # replaced at each start: wakes those waiting for one
        self._loop: asyncio.AbstractEventLoop | None = None  # where the runs live
        self._ended: dict[RunKey, float] = {}  # when the conversation's last run ended

    def start(self, place: Place, updates: AsyncIterator[U],
              on_end: Callable[[], None] = lambda: None) -> Run[U]:
        """A run of `updates` for the reply kept at `place`; nobody else can find the run
        of a chat nobody keeps."""
        key = (place.owner, place.conversation_id) if place.owner and place.conversation_id \
            else None

        def ended() -> None:
            if key is not None and self._runs.get(key) is run:
                del self._runs[key]
                now = self.clock()
                for gone in [k for k, at in self._ended.items() if now - at > ENDED_KEPT]:
                    del self._ended[gone]
                self._ended[key] = now
            on_end()
        run: Run[U] = Run(updates, place, ended)
        self._loop = asyncio.get_running_loop()
        if key is not None:
            self._runs[key] = run
            self._ended.pop(key, None)
        started, self._started = self._started, asyncio.Event()
        started.set()
        return run

    def ended_recently(self, owner: str | None, conversation_id: str | None) -> bool:
        """Whether a run of the conversation ended here in the last ENDED_KEPT seconds: a
        page that read the chat from the store while it ran may not have drawn its end."""
        ended = self._ended.get((owner, conversation_id)) if owner and conversation_id else None
        return ended is not None and self.clock() - ended <= ENDED_KEPT

    async def next(self, owner: str | None, conversation_id: str | None,
                   timeout: float) -> Run[U] | None:
        """The conversation's run, once one has started (None if none starts in time)."""
        return await self.next_where(lambda: (owner, conversation_id), timeout)

    async def next_where(self, where: Callable[[], tuple[str | None, str | None]],
                         timeout: float) -> Run[U] | None:
        """`next`, for a conversation that may be known only once its run starts (a new
        chat): `where` is asked again at each start."""
        deadline = asyncio.get_running_loop().time() + timeout
        while (run := self.find(*where())) is None:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self._started.wait(), left)
            except asyncio.TimeoutError:
                return None
        return run

    def find(self, owner: str | None, conversation_id: str | None) -> Run[U] | None:
        return self._runs.get((owner, conversation_id)) if owner and conversation_id else None

    def stop(self, owner: str | None, conversation_id: str | None) -> bool:
        run = self.find(owner, conversation_id)
        if run is not None:
            run.stop()
        return run is not None

    def stop_reply(self, message_id: int) -> None:
        """From any thread: stops the run writing that message, if one runs here."""
        def stop() -> None:
            for run in list(self._runs.values()):
                if run.place.message_id == message_id:
                    run.stop()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(stop)

    def place_of(self, message_id: int) -> Place | None:
        """From any thread: where the run writing that message keeps it, if one runs here."""
        return next((run.place for run in list(self._runs.values())
                     if run.place.message_id == message_id), None)

    def __len__(self) -> int:
        return len(self._runs)
