"""Runs the server owns: followers come and go, only Stop ends a run, owners find only theirs."""

from __future__ import annotations

import asyncio

from assistant.conversation.runs import ENDED_KEPT, Runs
from assistant.domain.reply import Place

MINE = Place(owner="alice", conversation_id="c1")


async def _counting(gate: asyncio.Event, until: int, ended: list[str],
                    last_gate: asyncio.Event | None = None):
    try:
        for n in range(1, until + 1):
            if n == 3:
                await gate.wait()  # the test lets the rest through
            if n == until and last_gate is not None:
                await last_gate.wait()
            yield n
        ended.append("complete")
    except asyncio.CancelledError:
        ended.append("stopped")
        raise


def test_a_run_goes_on_when_its_follower_leaves_and_a_new_follower_starts_from_the_newest():
    async def scenario() -> None:
        runs: Runs[int] = Runs()
        gate, last_gate, ended, released = asyncio.Event(), asyncio.Event(), [], []
        run = runs.start(MINE, _counting(gate, 5, ended, last_gate),
                         on_end=lambda: released.append(1))

        async def first_two() -> list[int]:
            seen = []
            async for n in run.follow():
                seen.append(n)
                if n == 2:
                    return seen  # the tab goes away
            return seen
        assert (await first_two())[-1] == 2  # it may have skipped to the newest
        assert runs.find("alice", "c1") is run and not run.done

        gate.set()
        while run.number < 4:  # the run moves on with nobody watching
            await asyncio.sleep(0)
        again = runs.find("alice", "c1")  # the page, reloaded
        assert again is run
        asyncio.get_running_loop().call_soon(last_gate.set)
        late = [n async for n in again.follow()]
        assert late == [4, 5]
        assert ended == ["complete"] and released == [1]
        assert runs.find("alice", "c1") is None  # an ended run is gone; the store has it
    asyncio.run(scenario())


def test_stop_ends_the_run_for_every_follower():
    async def scenario() -> None:
        runs: Runs[int] = Runs()
        gate, ended = asyncio.Event(), []
        run = runs.start(MINE, _counting(gate, 5, ended))
        followed: list[int] = []

        async def follow() -> None:
            async for n in run.follow():
                followed.append(n)
        follower = asyncio.create_task(follow())
        while run.number < 2:
            await asyncio.sleep(0)
        assert runs.stop("alice", "c1")
        await asyncio.wait_for(follower, 5)
        assert ended == ["stopped"] and followed[-1] == 2 and run.done
    asyncio.run(scenario())


def test_only_the_owner_of_the_conversation_finds_its_run():
    async def scenario() -> None:
        runs: Runs[int] = Runs()
        gate = asyncio.Event()
        runs.start(MINE, _counting(gate, 5, []))
        assert runs.find("bob", "c1") is None and not runs.stop("bob", "c1")
        assert runs.find(None, "c1") is None and runs.find("alice", None) is None
        unkept = runs.start(Place(), _counting(gate, 5, []))  # a chat nobody keeps
        assert len(runs) == 1 and runs.find("", "") is None
        unkept.stop()
        assert runs.stop("alice", "c1")
    asyncio.run(scenario())


def test_a_run_stopped_before_it_began_still_ends_and_lets_its_followers_go():
    async def scenario() -> None:
        runs: Runs[int] = Runs()
        released: list[int] = []
        run = runs.start(MINE, _counting(asyncio.Event(), 5, []),
                         on_end=lambda: released.append(1))
        run.stop()  # Stop pressed at once, before the run's task first ran
        followed = await asyncio.wait_for(_all(run), 5)
        assert followed == [] and run.done and released == [1]
        assert runs.find("alice", "c1") is None
    asyncio.run(scenario())


async def _all(run) -> list[int]:
    return [n async for n in run.follow()]


def test_a_stop_signalled_from_another_thread_stops_only_the_run_writing_that_message():
    async def scenario() -> None:
        runs: Runs[int] = Runs()
        gate, mine_ended, other_ended = asyncio.Event(), [], []
        mine = runs.start(Place("alice", "c1", message_id=7), _counting(gate, 5, mine_ended))
        other = runs.start(Place("alice", "c2", message_id=8), _counting(gate, 5, other_ended))
        await asyncio.to_thread(runs.stop_reply, 7)  # as the signals' thread calls it
        await asyncio.to_thread(runs.stop_reply, 99)  # a reply another process writes
        await asyncio.wait_for(mine.ended(), 5)
        assert mine_ended == ["stopped"] and not other.done
        gate.set()
        await asyncio.wait_for(other.ended(), 5)
        assert other_ended == ["complete"]
    asyncio.run(scenario())


def test_a_follower_that_should_leave_leaves_while_the_run_waits_and_the_run_goes_on():
    async def scenario() -> None:
        runs: Runs[int] = Runs()
        gate, ended = asyncio.Event(), []
        run = runs.start(MINE, _counting(gate, 4, ended))  # waits after its second update
        shown_elsewhere = False
        seen = []

        async def follow() -> None:
            async for n in run.follow(leave=lambda: shown_elsewhere, look_every=0.01):
                seen.append(n)
        follower = asyncio.create_task(follow())
        while run.number < 2:
            await asyncio.sleep(0)
        shown_elsewhere = True  # no update comes, yet the follower looks again and leaves
        await asyncio.wait_for(follower, 5)
        assert 3 not in seen and not run.done
        gate.set()
        await run.ended()
        assert ended == ["complete"] and run.number == 4
    asyncio.run(scenario())


def test_a_run_that_just_ended_is_known_for_a_while_to_pages_that_drew_it_before_its_end():
    async def scenario() -> None:
        now = [100.0]
        runs: Runs[int] = Runs(clock=lambda: now[0])
        gate, ended = asyncio.Event(), []
        gate.set()
        run = runs.start(MINE, _counting(gate, 3, ended))
        await run.ended()
        assert runs.find("alice", "c1") is None  # not running
        assert runs.ended_recently("alice", "c1") and not runs.ended_recently("bob", "c1")
        now[0] += ENDED_KEPT + 1
        assert not runs.ended_recently("alice", "c1")  # a page drew its end by then
        again = runs.start(MINE, _counting(gate, 1, ended))
        await again.ended()
        assert runs.ended_recently("alice", "c1")
    asyncio.run(scenario())
