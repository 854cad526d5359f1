"""Benchmark: our app against `gr.load_chat`, driven through Gradio's real queue protocol.

    python -m bench.bench             # full run, ~5 min on 2 cores
    python -m bench.bench --quick     # under 2 min: fewer requests, 50 users only

Every process is separate and on 127.0.0.1: the fake OpenAI server
(fakes/fake_openai.py, one per phase, at that phase's token rate), the app
(`python app.py`, or bench/baseline_app.py), and one client process (this file
with --client, using bench/client.py: asyncio + raw HTTP/1.1, so that the load
generator stays cheap). The client does what a browser does: POST
/gradio_api/queue/join, then reads the SSE stream GET /gradio_api/queue/data and
timestamps every update (`process_generating`). Users have the page open before
they type: the page's load events run first, untimed (they create Gradio's
per-session state, which costs our 80-block page several ms; that cost is
reported on its own row). App CPU comes from /proc/PID/task/*/schedstat (ns),
peak RSS from VmHWM, reset per phase through /proc/PID/clear_refs. Each phase
gets a fresh fake server and app (with a temporary data dir), warmed by one
request cancelled after its first update. The app's idle CPU (Gradio's queue
loop polls every 1 ms) is measured first and taken off the CPU per reply of
phase 4.

Long chats (phase 4): `/chat` keeps history in a per-session State and skips
postprocessing, so it would hide what a long conversation costs. A browser runs
the ChatInterface's UI chain instead, and so does this: `_clear_and_save_textbox`
and `_append_message_to_history` (run/predict, the latter posting the whole
conversation), the queued `_submit_fn` (each update postprocesses the whole
chatbot), then the history sync (run/predict, whole conversation again). The
session's history State is first primed with that same sync call, which is what
the browser sent at the end of the previous turn; the priming is not timed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack, contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from bench.client import (
    HOST,
    INF,
    Target,
    call,
    cpu_since,
    direct,
    peak_rss_mb,
    process_cpu,
    reset_peak_rss,
    summarize,
    thread_cpu,
)
from fakes.loopback import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"  # git-ignored
TARGETS = ("ours", "load_chat")
BASELINES = {"load_chat": ["bench/baseline_app.py"], "lean": ["bench/lean_app.py"],
             "lean_gc": ["bench/lean_app.py", "--freeze-gc"]}
TTFT_TOKENS, TTFT_RATE = 5, 100.0  # phase 1: paced, so that the first token comes alone


# The phases, in the client process (--client) ------------------------------------------
def history(n: int) -> list[dict]:
    """n earlier messages as the browser holds them: short questions, ~2 KB answers."""
    answer = ("## Step {i}\n\n" + "Here is how the parser handles nested input, line by line. " * 30
              + "\n\n```python\ndef step_{i}(data):\n    return [x * {i} for x in data]\n```\n")
    return [{"role": "assistant" if i % 2 else "user", "metadata": None, "options": None,
             "content": [{"type": "text", "text": answer.format(i=i // 2) if i % 2 else
                          f"Question {i // 2}: how does step {i // 2} of the parser work?"}]}
            for i in range(n)]


async def chat_users(target: Target, spec: dict, start: Callable[[], None]) -> dict:
    """Users who have the page open send "Hi" on /chat: all at once over `ramp` s, or one by one.

    Opening the page (its load events, which create Gradio's session state) is done
    beforehand and not timed; its app CPU per page is reported on its own.
    """
    sessions, pid = [uuid.uuid4().hex[:11] for _ in range(spec["users"])], spec["app_pid"]

    async def user(i: int) -> dict:
        await asyncio.sleep(spec["ramp"] * i / spec["users"])
        return summarize(await target.stream(target.chat, target.data(target.chat, "Hi"),
                                             sessions[i], deadline=deadline))
    cpu0 = thread_cpu(pid)
    opened = sum([await target.open_page(session) for session in sessions])
    page_cpu = cpu_since(pid, cpu0) / spec["users"]
    start()
    deadline = time.monotonic() + spec["deadline"]
    if spec["sequential"]:
        return {"sessions": [await user(i) for i in range(spec["users"])], "page_cpu": page_cpu,
                "pages_opened": opened}
    return {"sessions": list(await asyncio.gather(*(user(i) for i in range(spec["users"])))),
            "page_cpu": page_cpu, "pages_opened": opened}


async def chat_turns(target: Target, spec: dict, start: Callable[[], None]) -> dict:
    """Browser turns after `history` earlier messages, app CPU measured around each."""
    earlier, turns, pid = history(spec["history"]), [], spec["app_pid"]
    start()
    for _ in range(spec["turns"]):
        session = uuid.uuid4().hex[:11]
        await target.run(target.sync, [earlier], session)  # what the last turn left (untimed)
        cpu0, t0 = thread_cpu(pid), time.monotonic()
        await target.run(target.save, target.data(target.save, "Explain the next step."), session)
        await target.run(target.append, [None, earlier], session)
        record = await target.stream(target.submit, target.data(target.submit), session,
                                     deadline=time.monotonic() + spec["deadline"])
        if record["ok"]:
            await target.run(target.sync, [record["final"][1]], session)
        turns.append({**summarize(record), "cpu": cpu_since(pid, cpu0),
                      "wall": time.monotonic() - t0})
    return {"turns": turns}


async def client_main(spec: dict) -> dict:
    if spec["mode"] == "direct":
        return await direct(spec)
    _, config = await call(spec["port"], "GET /config")
    target = Target(spec["port"], config, spec.get("replicas", 0))
    app, fake = spec["app_pid"], spec["fake_pid"]
    await target.stream(target.chat, target.data(target.chat, "warm up"), cancel_after_first=True,
                        deadline=time.monotonic() + 30)
    await asyncio.sleep(0.5)
    cpu0 = thread_cpu(app)
    await asyncio.sleep(spec["idle"])
    idle = cpu_since(app, cpu0) / spec["idle"]
    at: dict[str, Any] = {}

    def start() -> None:  # the measured part of the phase begins
        reset_peak_rss(app)
        at.update(cpu=thread_cpu(app), fake=process_cpu(fake), own=time.process_time(),
                  t=time.monotonic())
    result = await (chat_users if spec["mode"] == "users" else chat_turns)(target, spec, start)
    return {**result, "cpu": cpu_since(app, at["cpu"]), "fake_cpu": process_cpu(fake) - at["fake"],
            "client_cpu": time.process_time() - at["own"], "wall": time.monotonic() - at["t"],
            "peak_mb": peak_rss_mb(app), "idle_cpu": idle}


# Processes -----------------------------------------------------------------------------
def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ASSISTANT_"))}
    return {**env, "GRADIO_ANALYTICS_ENABLED": "False", "PYTHONUNBUFFERED": "1", **extra}


@contextmanager
def process(args: list[str], env: dict[str, str], pipe: bool = False,
            executable: bool = False) -> Iterator[Any]:
    """`args` run by this Python, or (`executable`) as a command of their own."""
    with open(RESULTS / "processes.log", "ab") as log:
        proc = subprocess.Popen(args if executable else [sys.executable, *args], cwd=ROOT,
                                env=env, stderr=log,
                                stdout=subprocess.PIPE if pipe else log)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def start_fake(stack: ExitStack, tokens: int, rate: float) -> tuple[int, str]:
    proc = stack.enter_context(process(["-m", "fakes.fake_openai", "--port", "0", "--tokens",
                                        str(tokens), "--rate", str(rate)], _env(), pipe=True))
    base_url = proc.stdout.readline().decode().strip()  # it prints its base_url first
    if not base_url.startswith("http://"):
        raise RuntimeError(f"the fake server did not start; see {RESULTS / 'processes.log'}")
    return proc.pid, base_url


def start_app(stack: ExitStack, kind: str, base_url: str) -> tuple[int, int]:
    port = free_port()
    if kind == "ours":
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-data-"))
        proc = stack.enter_context(process(["app.py"], _env(
            OPENAI_BASE_URL=base_url, ASSISTANT_MODEL="fake-model", ASSISTANT_HOST=HOST,
            ASSISTANT_PORT=str(port), ASSISTANT_DATA_DIR=data_dir)))
    else:
        proc = stack.enter_context(process([*BASELINES[kind], "--base-url", base_url,
                                            "--port", str(port)], _env()))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:  # ready once /config answers
        if proc.poll() is not None:
            raise RuntimeError(f"{kind} exited at start; see {RESULTS / 'processes.log'}")
        try:
            if asyncio.run(call(port, "GET /config"))[0] == 200:
                return proc.pid, port
        except (OSError, ValueError, EOFError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{kind} did not start within 90 s")


def phase(kind: str, tokens: int, rate: float, spec: dict, timeout: float) -> dict:
    count = spec.get("users") or spec.get("count") or spec.get("turns")
    print(f"… {kind}: {count} {spec['mode']}"
          f"{' after {} messages'.format(spec['history']) if 'history' in spec else ''} "
          f"({tokens} tokens at {rate:g}/s)", file=sys.stderr, flush=True)
    with ExitStack() as stack:
        fake_pid, base_url = start_fake(stack, tokens, rate)
        if kind == "direct":
            spec = {**spec, "base_url": base_url}
        else:
            app_pid, port = start_app(stack, kind, base_url)
            spec = {**spec, "port": port, "app_pid": app_pid, "fake_pid": fake_pid}
        out = subprocess.run([sys.executable, "-m", "bench.bench", "--client", json.dumps(spec)],
                             cwd=ROOT, env=_env(), capture_output=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"client failed: {out.stderr.decode()[-2000:]}")
    return json.loads(out.stdout)


# The run and the table -----------------------------------------------------------------
def measure(args: argparse.Namespace) -> dict:
    quick, reply_s = args.quick, args.tokens / args.rate
    n_seq, users_list, turns, idle = (20, [50], 1, 0.5) if quick else (100, [50, 200], 5, 2.0)
    res: dict[str, Any] = {
        "direct_ttft": phase("direct", TTFT_TOKENS, TTFT_RATE,
                             {"mode": "direct", "count": n_seq, "warmup": 5}, 120),
        "direct_fast": phase("direct", args.fast_tokens, args.fast_rate,
                             {"mode": "direct", "count": 1, "warmup": 0}, 120)}
    for kind in TARGETS:
        r = res[kind] = {}
        one_by_one = {"mode": "users", "ramp": 0, "sequential": True, "idle": idle}
        r["ttft"] = phase(kind, TTFT_TOKENS, TTFT_RATE,
                          {**one_by_one, "users": n_seq, "deadline": 120}, 240)
        fast_deadline = 30 if quick else 60
        r["fast"] = phase(kind, args.fast_tokens, args.fast_rate,
                          {**one_by_one, "users": 1, "deadline": fast_deadline}, fast_deadline + 90)
        for users in users_list:
            deadline = args.ramp + (1.5 * reply_s + 4 if quick else 2 * reply_s + 15)
            r[f"users{users}"] = phase(kind, args.tokens, args.rate, {
                "mode": "users", "users": users, "ramp": args.ramp, "sequential": False,
                "deadline": deadline, "idle": idle}, deadline + 120)
        for name, n_history in (("short", 0), ("long", args.history)):
            r[name] = phase(kind, args.tokens, args.rate, {
                "mode": "turns", "turns": turns, "history": n_history, "idle": idle,
                "deadline": 4 * reply_s + 10}, turns * (4 * reply_s + 10) + 120)
    return res


def pct(values: Sequence[float | None], p: float) -> float:
    xs = sorted(INF if v is None else v for v in values)  # nearest rank; missing counts as ∞
    return xs[min(len(xs) - 1, max(0, math.ceil(p / 100 * len(xs)) - 1))] if xs else INF


def ms(v: float) -> str:
    return "never" if v == INF else f"{v * 1000:.1f}" if abs(v) < 0.1 else f"{v * 1000:.0f}"


def rows(res: dict, args: argparse.Namespace) -> list[tuple[str, ...]]:
    d_ttft = [x["ttft"] for x in res["direct_ttft"]["runs"]]
    d_fast = res["direct_fast"]["runs"][0]["done"]
    out: list[tuple[str, ...]] = [("", "", "direct SDK", *TARGETS, "target (ours)")]

    def row(section: str, name: str, direct_value: str, cell: Callable[[dict], str],
            target: str = "") -> None:
        out.append((section, name, direct_value, *(cell(res[k]) for k in TARGETS), target))

    def ttft(r: dict, p: float) -> float:
        return pct([s["ttft"] for s in r["ttft"]["sessions"]], p)
    row("1 latency, one user", "TTFT p50 / p99 (ms)",
        f"{ms(pct(d_ttft, 50))} / {ms(pct(d_ttft, 99))}", lambda r: f"{ms(ttft(r, 50))} / {ms(ttft(r, 99))}")
    row("", "added TTFT p50 / p99 (ms)", "-", lambda r: f"{ms(ttft(r, 50) - pct(d_ttft, 50))} / "
        f"{ms(ttft(r, 99) - pct(d_ttft, 99))}", "p50 ≤ 10 and ≤ load_chat")
    row("", "app CPU per page open (ms, untimed above)", "-", lambda r: ms(r["ttft"]["page_cpu"]))
    fast = lambda r: r["fast"]["sessions"][0]  # noqa: E731
    row(f"2 {args.fast_tokens} tokens at {args.fast_rate:g}/s", "time (s), × direct",
        f"{d_fast:.2f}", lambda r: f"{fast(r)['done']:.2f}, {fast(r)['done'] / d_fast:.3f}×"
        if fast(r)["ok"] else "did not finish", "≤ 1.05×")
    row("", "updates sent / app CPU (s)", "-",
        lambda r: f"{fast(r)['updates']} / {r['fast']['cpu']:.2f}")
    for key in [k for k in res["ours"] if k.startswith("users")]:
        n, is200 = int(key[5:]), key == "users200"
        field = lambda r, name: [s[name] for s in r[key]["sessions"]]  # noqa: E731
        row(f"3 {n} users × {args.tokens} tokens at {args.rate:g}/s", "TTFT p50 / p95 (ms)", "-",
            lambda r: f"{ms(pct(field(r, 'ttft'), 50))} / {ms(pct(field(r, 'ttft'), 95))}",
            "p95 < 300" if is200 else "")
        row("", "longest gap p95 (ms) / updates per user", "-", lambda r: (
            f"{ms(pct(field(r, 'max_gap'), 95))} / {statistics.median(field(r, 'updates')):.0f}"),
            "< 150" if is200 else "")
        row("", "finished / queued (wait > 0.5 s)", "-", lambda r: (
            f"{sum(field(r, 'ok'))}/{n} / {sum(w is None or w > 0.5 for w in field(r, 'wait'))}"),
            "all / none" if is200 else "")
        row("", "app CPU (s) / peak RSS (MB)", "-",
            lambda r: f"{r[key]['cpu']:.1f} / {r[key]['peak_mb']:.0f}")
        row("", "fake CPU / client CPU / wall (s)", "-", lambda r: (
            f"{r[key]['fake_cpu']:.1f} / {r[key]['client_cpu']:.1f} / {r[key]['wall']:.1f}"))

    def turn(r: dict, name: str, field: str) -> float:
        values = [t[field] - (r[name]["idle_cpu"] * t["wall"] if field == "cpu" else 0)
                  for t in r[name]["turns"] if t[field] is not None]
        return statistics.median(values) if values else INF
    for name, label in (("short", "new chat"), ("long", f"{args.history} earlier messages")):
        row(f"4 one reply, {label}", "CPU per reply above idle (ms) / updates/s", "-",
            lambda r: f"{ms(turn(r, name, 'cpu'))} / {turn(r, name, 'rate'):.1f}",
            "/ ≤ 25" if name == "long" else "")
        row("", "TTFT (ms) / finished", "-", lambda r: f"{ms(turn(r, name, 'ttft'))} / "
            f"{sum(t['ok'] for t in r[name]['turns'])}/{len(r[name]['turns'])}")
    row("", "long ÷ short CPU per reply", "-",
        lambda r: f"{turn(r, 'long', 'cpu') / turn(r, 'short', 'cpu'):.1f}×", "≤ 1.5×")
    return out


def print_report(res: dict, args: argparse.Namespace, seconds: float) -> None:
    cpu = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")), platform.processor())
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("gradio", "openai"))
    idle = ", ".join(f"{k} {res[k]['short']['idle_cpu'] * 1000:.0f} ms/s" for k in TARGETS)
    print(f"\n{now} · {os.cpu_count()} cores ({cpu}) · Python {platform.python_version()}, "
          f"{versions}\nusers arrive over {args.ramp:g} s · one client process · idle app CPU: "
          f"{idle} · run took {seconds:.0f} s · raw results in {RESULTS}/\n")
    table = rows(res, args)
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for i, r in enumerate(table):
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller run (~2 min)")
    parser.add_argument("--tokens", type=int, default=300, help="reply length, phases 3-4")
    parser.add_argument("--rate", type=float, default=50, help="fake tokens/s, phases 3-4")
    parser.add_argument("--fast-tokens", type=int, default=8000, help="reply length, phase 2")
    parser.add_argument("--fast-rate", type=float, default=2000, help="fake tokens/s, phase 2")
    parser.add_argument("--ramp", type=float, default=1.0, help="seconds over which users arrive")
    parser.add_argument("--history", type=int, default=200, help="earlier messages, phase 4")
    parser.add_argument("--client", help=argparse.SUPPRESS)  # internal: be the client process
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(asyncio.run(client_main(json.loads(args.client)))))
        return 0
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results = measure(args)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    (RESULTS / f"bench-{stamp}.json").write_text(json.dumps({"args": vars(args), **results}))
    print_report(results, args, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
