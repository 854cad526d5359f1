"""Capacity, measured against the floor: the most users each app serves within the targets.

    python -m bench.capacity            # ~10 min on 2 cores
    python -m bench.capacity --quick    # fewer steps
    python -m bench.capacity --only pages   # page opens and first messages only, ~2 min
    python -m bench.capacity --api      # the OpenAI-compatible API path (bench/api_capacity.py)

In one run on one machine, side by side (see bench/bench.py for how each phase runs):
  lean       bench/lean_app.py: ~40 lines of gr.ChatInterface over AsyncOpenAI
  lean_gc    the same plus gc.freeze() after start-up, as our app does
  load_chat  gr.load_chat
  ours       python app.py, everything on
Each user has the page open, then streams 300 tokens at 50 tokens/s; users arrive over
`--ramp` seconds. A step passes when every reply finishes, p95 time to first token is
under 300 ms, p95 longest gap under 150 ms, and no one waits in Gradio's queue behind
others (no queue position above 0). Capacity is the last step passed before the first one failed. Also
reported, per app: the app's CPU for one page open, and the first message's time to
first token for sessions opened one by one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from typing import Any

from bench import api_capacity
from bench.bench import RESULTS, ROOT, _env, free_port, ms, pct, phase, process, start_fake

KINDS = ("lean", "lean_gc", "load_chat", "ours")
TOKENS, RATE = 300, 50.0
TTFT_MAX, GAP_MAX = 0.300, 0.150


def passes(result: dict) -> tuple[bool, dict]:
    sessions = result["sessions"]
    stats = {"ttft": pct([s["ttft"] for s in sessions], 95),
             "gap": pct([s["max_gap"] for s in sessions], 95),
             "wait": pct([s["wait"] for s in sessions], 95),
             "ok": sum(s["ok"] for s in sessions), "users": len(sessions),
             "queued": sum(s["queued"] for s in sessions),
             "app_cpu": result["cpu"], "fake_cpu": result["fake_cpu"],
             "client_cpu": result["client_cpu"], "wall": result["wall"]}
    ok = (stats["ok"] == stats["users"] and stats["ttft"] < TTFT_MAX and stats["gap"] < GAP_MAX
          and stats["queued"] == 0)
    return ok, stats


def capacity(kind: str, steps: list[int], ramp: float) -> dict:
    passed, tried = 0, []
    for users in steps:
        deadline = ramp + 2 * TOKENS / RATE + 15
        result = phase(kind, TOKENS, RATE, {"mode": "users", "users": users, "ramp": ramp,
                                            "sequential": False, "deadline": deadline,
                                            "idle": 0.5}, deadline + 120)
        ok, stats = passes(result)
        tried.append({**stats, "passed": ok})
        print(f"  {kind} {users} users: ttft p95 {ms(stats['ttft'])} ms, gap p95 "
              f"{ms(stats['gap'])} ms, wait p95 {ms(stats['wait'])} ms, {stats['queued']} queued, "
              f"{stats['ok']}/{users} done "
              f"-> {'pass' if ok else 'FAIL'}", file=sys.stderr, flush=True)
        if not ok:
            break
        passed = users
    return {"capacity": passed, "steps": tried}


def deployed(replicas: int, tokens: int, rate: float, specs: list[dict]) -> list[dict]:
    """`python -m deploy.run`: the client runs each spec against the balancer (or, with
    "direct", against the first replica itself), sessions spread by SERVERID cookie."""
    print(f"… {replicas} replicas behind HAProxy ({tokens} tokens at {rate:g}/s)",
          file=sys.stderr, flush=True)
    with ExitStack() as stack:
        fake_pid, base_url = start_fake(stack, tokens, rate)
        data = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-deploy-"))
        os.chmod(data, 0o755)  # PostgreSQL runs as its own user
        port = free_port()
        proc = stack.enter_context(process(
            ["-m", "deploy.run", "--replicas", str(replicas), "--port", str(port), "--data-dir",
             data, "--postgres-port", str(free_port())],
            _env(OPENAI_BASE_URL=base_url, ASSISTANT_MODEL="fake-model"), pipe=True))
        pids, ports = {}, {}
        for line in iter(proc.stdout.readline, b""):
            if found := re.match(rb"replica (app\d+) pid (\d+) port (\d+)", line):
                pids[found[1].decode()], ports[found[1].decode()] = int(found[2]), int(found[3])
            if line.startswith(b"balancer pid"):
                break
        else:
            raise RuntimeError(f"deploy.run did not start; see {RESULTS / 'processes.log'}")
        results = []
        for spec in specs:
            direct = spec.pop("direct", False)
            spec = {**spec, "port": ports["app1"] if direct else port, "app_pid": pids["app1"],
                    "fake_pid": fake_pid, "replicas": 0 if direct else replicas}
            out = subprocess.run([sys.executable, "-m", "bench.bench", "--client", json.dumps(spec)],
                                 cwd=ROOT, env=_env(), capture_output=True, timeout=600)
            if out.returncode != 0:
                raise RuntimeError(f"client failed: {out.stderr.decode()[-2000:]}")
            results.append(json.loads(out.stdout))
        return results


def balancer_overhead(users: int) -> dict:
    """Median TTFT of sessions one by one, straight to a replica and through HAProxy."""
    one_by_one = {"mode": "users", "users": users, "ramp": 0, "sequential": True,
                  "deadline": 120, "idle": 0.5}
    direct, balanced = deployed(1, 5, 100.0, [{**one_by_one, "direct": True}, one_by_one])
    return {k: pct([s["ttft"] for s in r["sessions"]], 50)
            for k, r in (("direct", direct), ("balancer", balanced))}


def scaled_capacity(replicas: int, steps: list[int], ramp: float) -> dict:
    passed, tried = 0, []
    for users in steps:
        deadline = ramp + 2 * TOKENS / RATE + 15
        [result] = deployed(replicas, TOKENS, RATE, [{
            "mode": "users", "users": users, "ramp": ramp, "sequential": False,
            "deadline": deadline, "idle": 0.5}])
        ok, stats = passes(result)
        tried.append({**stats, "passed": ok})
        print(f"  {replicas} replicas, {users} users: ttft p95 {ms(stats['ttft'])} ms, gap p95 "
              f"{ms(stats['gap'])} ms, {stats['ok']}/{users} done -> {'pass' if ok else 'FAIL'}",
              file=sys.stderr, flush=True)
        if not ok:
            break
        passed = users
    return {"capacity": passed, "steps": tried}


def cold(kind: str, users: int) -> dict:
    """Sessions opened one by one: the app's CPU per page open, and each first message's TTFT."""
    result = phase(kind, 5, 100.0, {"mode": "users", "users": users, "ramp": 0,
                                    "sequential": True, "deadline": 120, "idle": 0.5}, 240)
    return {"page_cpu": result["page_cpu"],
            "first_ttft": pct([s["ttft"] for s in result["sessions"]], 50)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which users arrive")
    parser.add_argument("--step", type=int, default=25, help="users added per step, after "
                        "5, 10, 15 and 20")
    parser.add_argument("--max-users", type=int, default=400)
    parser.add_argument("--only", choices=("apps", "replicas", "pages"),
                        help="run one half only, or the page opens and first messages")
    parser.add_argument("--api", action="store_true",
                        help="the OpenAI-compatible API instead (bench/api_capacity.py)")
    args = parser.parse_args(argv)
    if args.api:  # the page's capacity first, with the same steps as below
        page = capacity("ours", [5, 10, 15, 20, *range(args.step, 101, args.step)],
                        args.ramp)["capacity"]
        return api_capacity.main(args.quick, args.ramp, 50, args.max_users * 2, page)
    RESULTS.mkdir(exist_ok=True)
    fine = [] if args.quick else [5, 10, 15, 20]  # so that a small capacity still has a number
    steps = fine + list(range(args.step, args.max_users + 1, args.step * (2 if args.quick else 1)))
    started = time.monotonic()
    res: dict[str, Any] = {}
    if args.only == "pages":
        for kind in KINDS:
            res[kind] = cold(kind, 10 if args.quick else 30)
    elif args.only != "replicas":
        for kind in KINDS:
            res[kind] = {**capacity(kind, steps, args.ramp), **cold(kind, 10 if args.quick else 30)}
    if args.only not in ("apps", "pages"):
        res["balancer"] = balancer_overhead(20 if args.quick else 50)
        coarse = list(range(args.step, args.max_users + 1, args.step))
        res["replicas"] = {n: scaled_capacity(n, coarse, args.ramp)
                           for n in range(1, (os.cpu_count() or 1) + 1)}
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    (RESULTS / f"capacity-{stamp}.json").write_text(json.dumps(res, indent=1))

    print(f"\nCapacity, {stamp}, {platform.node()}, {os.cpu_count()} cores, "
          f"{TOKENS} tokens at {RATE:g}/s, users over {args.ramp:g} s, steps of {args.step}"
          f"{' (quick)' if args.quick else ''}; {time.monotonic() - started:.0f} s\n")
    if "capacity" in res.get("ours", {}):
        print_apps(res)
    elif "ours" in res:
        print_pages(res)
    if "balancer" in res:
        print_replicas(res)
    return 0


def print_replicas(res: dict) -> None:
    b = res["balancer"]
    print(f"\nHAProxy in front of 1 replica: median TTFT {ms(b['direct'])} ms straight to the "
          f"replica, {ms(b['balancer'])} ms through the balancer: "
          f"+{(b['balancer'] - b['direct']) * 1000:.2f} ms (target ≤ 1 ms)")
    for n, r in res["replicas"].items():
        last = r["steps"][-1]
        print(f"{n} replica(s) behind HAProxy: capacity {r['capacity']} users (last step "
              f"{last['users']}: app1 CPU {last['app_cpu']:.1f} s, fake {last['fake_cpu']:.1f} s,"
              f" client {last['client_cpu']:.1f} s over {last['wall']:.1f} s)")


def ratio(a: float, b: float, of: str = "lean") -> str:
    """"1.05× lean": `a` against `b`, which is `of`."""
    if max(a, b) < 1e-4:
        return "both < 0.1 ms"  # below what the CPU readings resolve over one page
    return (f"{a / b:.2f}×" if b else "∞") + (f" {of}" if of else "")


def print_pages(res: dict) -> None:
    print("| (times in ms) | " + " | ".join(KINDS) + " | ours against lean | target |")
    print("|---|---|---|---|---|---|---|")
    for name, key, target in (("app CPU per page open", "page_cpu", "≤ 2×"),
                              ("first message TTFT, p50", "first_ttft", "≤ 1.2×")):
        cells = " | ".join(ms(res[k][key]) for k in KINDS)
        print(f"| {name} | {cells} | {ratio(res['ours'][key], res['lean'][key], '')} | {target} |")


def print_apps(res: dict) -> None:
    lean, lean_gc, ours, floor = res["lean"], res["lean_gc"], res["ours"], res["load_chat"]

    def row(name: str, key: str, show: Any, against: str, target: str) -> None:
        cells = " | ".join(show(res[k][key]) for k in KINDS)
        print(f"| {name} | {cells} | {against} | {target} |")
    print("| (times in ms) | lean | lean + gc.freeze | gr.load_chat | ours | ours against "
          "| target |")
    print("|---|---|---|---|---|---|---|")
    row("capacity (users)", "capacity", str,
        f"{ratio(ours['capacity'], lean['capacity'])} "
        f"({ratio(ours['capacity'], lean_gc['capacity'], 'lean + gc.freeze')}), "
        f"{ratio(ours['capacity'], floor['capacity'], 'load_chat')}",
        "≥ 0.9× lean, ≥ 10× load_chat")
    row("app CPU per page open", "page_cpu", ms,
        ratio(ours["page_cpu"], lean["page_cpu"]), "≤ 2×")
    row("first message TTFT, p50", "first_ttft", ms,
        ratio(ours["first_ttft"], lean["first_ttft"]), "≤ 1.2×")
    at = {k: res[k]["steps"][-1] for k in KINDS}
    print("\nAt each app's last step: CPU seconds of app / fake server / load generator over "
          "the step's wall time")
    for kind in KINDS:
        s = at[kind]
        print(f"  {kind}: {s['users']} users, app {s['app_cpu']:.1f} s, fake {s['fake_cpu']:.1f} s,"
              f" client {s['client_cpu']:.1f} s, wall {s['wall']:.1f} s")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
