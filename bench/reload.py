"""Reloads mid-reply: how soon a reloaded page shows the text so far, and whether any word
is lost or shown twice.

    python -m bench.reload              # 50 users, ~1 min on 2 cores
    python -m bench.reload --users 10

Each user sends a message through the page's own chain of events (so the chat is kept
and the page gets its owner id and chat id), and their reply streams 300 tokens at
20 tokens a second. Halfway through, the page "reloads": its stream is cancelled, as a
closing tab's is, and a new session runs the page's restore event with the same owner
id and chat id, then follows the reply, as the page does when a reply is still
running. Measured from the restore request on: until restore answers with the stored
chat, and until the follower's first update shows the live reply. At the end, each
followed reply must be w0 … w299, each word once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack
from typing import Any

from bench.bench import ROOT, _env, ms, pct, start_app, start_fake
from bench.client import Target, call, queue_events

TOKENS, RATE = 300, 20.0


def _named(config: dict) -> dict[str, dict]:
    return {d.get("api_name"): d for d in config["dependencies"] if d.get("api_name")}


def apply_diff(value: Any, ops: list[Any]) -> Any:
    """A streamed output after Gradio's diff (replace, append, add, delete at a path), or
    after its first update, which is the whole value."""
    if not all(isinstance(o, list) and len(o) == 3 and isinstance(o[0], str) for o in ops):
        return ops if not (isinstance(ops, dict) and "__type__" in ops) else value
    for op, path, new in ops:
        if not path:
            if op == "replace" and not (isinstance(new, dict) and "__type__" in new):
                value = new  # a gr.skip() leaves the output as it was
            continue
        *parents, last = path
        node = value
        for key in parents:
            node = node[key]
        if op == "append":
            node[last] += new
        elif op == "replace":
            node[last] = new
        elif op == "add":
            if isinstance(node, list):
                node.insert(last, new)
            else:
                node[last] = new
        elif op == "delete":
            del node[last]
    return value


def _reply_words(chat: Any) -> list[str]:
    """The words of the last reply in a Chatbot value (its text parts, not notices)."""
    words: list[str] = []
    for message in chat or []:
        if message.get("role") == "user":
            words = []
        elif not (message.get("metadata") or {}).get("title"):
            content = message.get("content")
            parts = content if isinstance(content, list) else [content]
            for part in parts:
                text = part.get("text", "") if isinstance(part, dict) else str(part or "")
                words += text.split()
    return words


async def one_user(target: Target, deps: dict[str, dict], i: int, stagger: float) -> dict:
    await asyncio.sleep(stagger)
    first = uuid.uuid4().hex[:11]
    message = f"Count for user {i}"
    await target.run(deps["_clear_and_save_textbox"],
                     [{"text": message, "files": []}], first)
    await target.run(deps["_append_message_to_history"],
                     [{"text": message, "files": []}, []], first)
    status, body = await call(target.port, "POST /gradio_api/queue/join", {
        "data": target.data(deps["_submit_fn"]), "fn_index": deps["_submit_fn"]["id"],
        "session_hash": first})
    if status != 200:
        return {"error": f"join {status}"}
    listed = await target.run(deps["_list_after_submit"], ["", ""], first)
    token, chat_id = listed[1], listed[2]
    async for _, msg in queue_events(target.port, first):
        if msg.get("msg") == "process_generating" and msg.get("output", {}).get("data"):
            break
    await asyncio.sleep(TOKENS / RATE / 2 - 1)  # the user reads for a while, then reloads
    await call(target.port, "POST /gradio_api/cancel", {
        "session_hash": first, "fn_index": deps["_submit_fn"]["id"],
        "event_id": body["event_id"]})

    second = uuid.uuid4().hex[:11]
    t0 = time.monotonic()
    restored = await target.run(deps["restore"], [token, chat_id], second)
    shown_at = time.monotonic() - t0
    stored = _reply_words(restored[2])
    live_at, final = None, None
    status, body = await call(target.port, "POST /gradio_api/queue/join", {
        "data": [token], "fn_index": deps["follow"]["id"], "session_hash": second})
    async for now, msg in queue_events(target.port, second):
        kind = msg.get("msg")
        data = (msg.get("output") or {}).get("data")
        if kind == "process_generating" and data and data[0]:
            final = apply_diff(final, data[0])
            live_at = live_at or (now - t0 if final else None)
        elif kind == "process_completed":
            break
    words = _reply_words(final) if final is not None else stored
    expected = [f"w{n}" for n in range(TOKENS)]
    return {"shown": shown_at, "live": live_at, "stored_words": len(stored),
            "lost": len(set(expected) - set(words)), "doubled": len(words) - len(set(words)),
            "extra": len(set(words) - set(expected))}


async def client_main(spec: dict) -> dict:
    _, config = await call(spec["port"], "GET /config")
    target, deps = Target(spec["port"], config), _named(config)
    missing = {"_clear_and_save_textbox", "_append_message_to_history", "_submit_fn",
               "_list_after_submit", "restore", "follow"} - deps.keys()
    if missing:
        raise RuntimeError(f"the page has no events named {sorted(missing)}")
    users = spec["users"]
    results = await asyncio.gather(*(one_user(target, deps, i, spec["ramp"] * i / users)
                                     for i in range(users)))
    return {"users": list(results)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--ramp", type=float, default=2.0, help="seconds over which users send")
    parser.add_argument("--client", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.client:
        print(json.dumps(asyncio.run(client_main(json.loads(args.client)))))
        return 0
    with ExitStack() as stack:
        _, base_url = start_fake(stack, TOKENS, RATE)
        _, port = start_app(stack, "ours", base_url)
        spec = {"port": port, "users": args.users, "ramp": args.ramp}
        out = subprocess.run([sys.executable, "-m", "bench.reload", "--client", json.dumps(spec)],
                             cwd=ROOT, env=_env(), capture_output=True, timeout=300)
    if out.returncode != 0:
        print(out.stderr.decode()[-3000:], file=sys.stderr)
        return 1
    users = json.loads(out.stdout)["users"]
    ok = [u for u in users if "error" not in u]
    print(f"{len(users)} users reloading mid-reply ({TOKENS} tokens at {RATE:g}/s), "
          f"{len(ok)} measured")
    print(f"restore answers with the text so far   p50 / p95 (ms): "
          f"{ms(pct([u['shown'] for u in ok], 50))} / {ms(pct([u['shown'] for u in ok], 95))}")
    print(f"first live update after the restore    p50 / p95 (ms): "
          f"{ms(pct([u['live'] for u in ok], 50))} / {ms(pct([u['live'] for u in ok], 95))}")
    print(f"words lost / doubled / foreign, in all replies: {sum(u['lost'] for u in ok)} / "
          f"{sum(u['doubled'] for u in ok)} / {sum(u['extra'] for u in ok)}")
    return 0 if len(ok) == len(users) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
