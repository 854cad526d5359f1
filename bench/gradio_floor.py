"""Benchmark: what Gradio alone costs per event and per update, with nothing to stream.

    python -m bench.gradio_floor          # ~1 min

A plain `gr.ChatInterface` whose function yields a growing string, with every
concurrency limit lifted: no model, no upstream, no storage. The same client as
bench.bench drives its /chat endpoint through the queue protocol, users arriving
over 1 s. The CPU it takes is the floor under any Gradio chat app on this
machine, ours included: per event (join, start, one update, end), and per update
at the pace our app keeps with 200 replies streaming (one update per 0.1 s, 6 s).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from contextlib import ExitStack

from bench.bench import RESULTS, _env, free_port, pct, process
from bench.client import Target, call, cpu_since, summarize, thread_cpu

FLOOR_USERS = (50, 200)


RAMP = 1.0
EVERY = 0.1  # seconds between updates: our app's pace with 200 replies streaming


def serve(port: int, updates: int) -> int:
    """The floor app itself (run in its own process by `main`)."""
    import gradio as gr

    async def reply(message: str, history: list) -> object:
        text = ""
        for i in range(updates):
            if i:
                await asyncio.sleep(EVERY)
            text += "word "
            yield text

    with gr.Blocks() as demo:
        gr.ChatInterface(reply, api_name="chat", concurrency_limit=None)
    demo.queue(default_concurrency_limit=None, max_size=5000)
    demo.launch(server_name="127.0.0.1", server_port=port, quiet=True, max_threads=600)
    return 0


async def drive(port: int, pid: int, users: int) -> dict:
    _, config = await call(port, "GET /config")
    target = Target(port, config)
    await target.stream(target.chat, target.data(target.chat, "warm up"))
    sessions = [uuid.uuid4().hex[:11] for _ in range(users)]
    for session in sessions:
        await target.open_page(session)
    async def user(i: int) -> dict:
        await asyncio.sleep(RAMP * i / users)
        return await target.stream(target.chat, target.data(target.chat, "Hi"), sessions[i])
    cpu0 = thread_cpu(pid)
    records = await asyncio.gather(*(user(i) for i in range(users)))
    cpu = cpu_since(pid, cpu0)
    runs = [summarize(r) for r in records]
    return {"cpu": cpu, "updates": sum(r["updates"] for r in runs),
            "ttft_p95": pct([r["ttft"] for r in runs], 95),
            "gap_p95": pct([r["max_gap"] for r in runs], 95)}


def wait_ready(port: int) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if asyncio.run(call(port, "GET /config"))[0] == 200:
                return
        except (OSError, ValueError, EOFError):
            time.sleep(0.2)
    raise RuntimeError("the floor app did not start within 90 s")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--serve"]:
        return serve(int(argv[1]), int(argv[2]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {os.cpu_count()} cores · "
          "plain gr.ChatInterface, no upstream")
    for updates in (1, 60):
        with ExitStack() as stack:
            port = free_port()
            proc = stack.enter_context(process(
                ["-m", "bench.gradio_floor", "--serve", str(port), str(updates)], _env()))
            wait_ready(port)
            for users in FLOOR_USERS:
                r = asyncio.run(drive(port, proc.pid, users))
                per = "event" if updates == 1 else "update"
                print(f"{users:>4} users × {updates:>2} updates: {r['cpu'] * 1000 / r['updates']:.2f}"
                      f" ms CPU per {per}; TTFT p95 {r['ttft_p95'] * 1000:.0f} ms"
                      + (f", gap p95 {r['gap_p95'] * 1000:.0f} ms" if updates > 1 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
