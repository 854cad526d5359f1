"""The API path's capacity and added latency, side by side with the page and LiteLLM.

    python -m bench.capacity --api            # ~10 min on 2 cores
    python -m bench.capacity --api --quick

bench/capacity.py first measures the page path's capacity (Gradio's queue, as a browser
uses it), then this compares the API path with it in the same run.

Every process is separate and on 127.0.0.1: the fake OpenAI server (one per step; for
capacity the lean fakes/fast_fake.py, since the full fake tops out near 100 streams),
the app or proxy, and this process as the client (asyncio and raw HTTP/1.1, so the
load generator stays cheap). Targets:
  direct   the fake server itself: the floor every other row stands on
  relay    bench/byte_relay.py: bytes copied socket to socket, nothing parsed; the
           ceiling for any proxy in one Python process on this machine
  sdk-proxy  bench/sdk_proxy.py: the official SDK behind uvicorn and nothing else, the
           floor any proxy on our stack stands on
  ours     `python app.py`, POST /v1/chat/completions with an API key
  litellm  LiteLLM's proxy (`litellm[proxy]`) in a venv of its own under bench/results,
           made on first use; it is not a dependency of the app
Capacity is the most users, each streaming 300 tokens at 50 tokens/s and arriving over
`--ramp` seconds, for which every reply finishes, p95 time to first token is under
300 ms and the p95 longest gap between chunks under 150 ms. Added time to first token:
100 requests one by one, 5 tokens each, p50 against the fake server's own.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bench.bench import RESULTS, _env, ms, pct, process, start_fake
from fakes.loopback import free_port

HOST = "127.0.0.1"
KINDS = ("direct", "relay", "sdk-proxy", "ours", "litellm")
TOKENS, RATE = 300, 50.0
TTFT_MAX, GAP_MAX = 0.300, 0.150
LITELLM_VENV = RESULTS / "litellm-venv"
LITELLM_KEY = "sk-bench-litellm-master-key"


class _Stream(asyncio.Protocol):
    """One streamed reply, timed as its bytes arrive: the loop calls this directly, with
    no task woken per read, so the load generator stays cheap (it shares the machine's
    cores with what it measures)."""

    def __init__(self, request: bytes, t0: float) -> None:
        self.request, self.t0 = request, t0
        self.record: dict[str, Any] = {"times": [], "ok": False}
        self.finished = asyncio.get_running_loop().create_future()
        self.status: int | None = None
        self.pending = b""

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic() - self.t0
        self.pending += data
        if self.status is None:
            head, found, self.pending = self.pending.partition(b"\r\n\r\n")
            if not found:
                self.pending = head
                return
            self.status = int(head.split(None, 2)[1])
        cut = self.pending.rfind(b"\n\n")  # whole events only: a read may end inside one
        if cut < 0:
            return
        events, self.pending = self.pending[:cut + 2], self.pending[cut + 2:]
        self.record["times"] += [now] * (events.count(b'"content":"')
                                         - events.count(b'"content":""'))
        if b"data: [DONE]" in events:
            self.record["ok"] = self.status == 200
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.finished.done():
            self.finished.set_result(None)


async def stream_once(port: int, path: str, key: str, deadline: float) -> dict:
    """One streamed chat completion: when each content chunk came, and whether it finished."""
    body = json.dumps({"model": "fake-model", "stream": True,
                       "messages": [{"role": "user", "content": "Hi"}]}).encode()
    stream = _Stream(f"POST {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n"
                     f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body, time.monotonic())
    try:
        async with asyncio.timeout(max(0.01, deadline - time.monotonic())):
            transport, _ = await asyncio.get_running_loop().create_connection(
                lambda: stream, HOST, port)
            try:
                await stream.finished
            finally:
                transport.close()
    except (TimeoutError, OSError):  # a bad status line closes the connection: not ok
        pass
    return stream.record


async def models_answer(port: int, key: str) -> bool:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        return False
    try:
        writer.write(f"GET /v1/models HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
                     f"Authorization: Bearer {key}\r\nConnection: close\r\n\r\n".encode())
        return (await reader.readline()).split()[1:2] == [b"200"]
    except (OSError, IndexError):
        return False
    finally:
        writer.close()


def summary(records: list[dict]) -> dict:
    ttfts = [r["times"][0] for r in records if r["times"]]
    gaps = [max((b - a for a, b in zip(r["times"], r["times"][1:])), default=0.0)
            for r in records if r["times"]]
    return {"users": len(records), "ok": sum(r["ok"] for r in records),
            "ttft": pct(ttfts, 95) if ttfts else float("inf"),
            "gap": pct(gaps, 95) if gaps else float("inf")}


async def users(port: int, path: str, key: str, count: int, ramp: float) -> dict:
    deadline = time.monotonic() + ramp + TOKENS / RATE * 2 + 15

    async def user(i: int) -> dict:
        await asyncio.sleep(ramp * i / count)
        return await stream_once(port, path, key, deadline)
    return summary(list(await asyncio.gather(*(user(i) for i in range(count)))))


async def one_by_one(port: int, path: str, key: str, count: int) -> list[float]:
    ttfts = []
    for _ in range(count + 3):  # the first three warm up
        record = await stream_once(port, path, key, time.monotonic() + 30)
        if record["times"]:
            ttfts.append(record["times"][0])
    return ttfts[3:]


# Targets -------------------------------------------------------------------------------
def start_fast_fake(stack: ExitStack, tokens: int, rate: float) -> str:
    proc = stack.enter_context(process(["-m", "fakes.fast_fake", "--tokens", str(tokens),
                                        "--rate", str(rate)], _env(), pipe=True))
    return str(proc.stdout.readline().decode().strip())


def _wait_ready(port: int, key: str, proc: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited at start; see {RESULTS / 'processes.log'}")
        if asyncio.run(models_answer(port, key)):
            return
        time.sleep(0.3)
    raise RuntimeError(f"{what} did not start within 120 s")


def start_target(stack: ExitStack, kind: str, base_url: str) -> tuple[int, str, str]:
    """The port and path to stream from, and the key to send."""
    fake_port = int(base_url.split(":")[2].split("/")[0])
    if kind == "direct":
        return fake_port, "/v1/chat/completions", "x"
    port = free_port()
    if kind == "ours":
        data_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-data-"))
        key = _new_key(data_dir)
        proc = stack.enter_context(process(["app.py"], _env(
            OPENAI_BASE_URL=base_url, ASSISTANT_MODEL="fake-model", ASSISTANT_HOST=HOST,
            ASSISTANT_PORT=str(port), ASSISTANT_DATA_DIR=data_dir,
            ASSISTANT_AUTH="bench:bench-password")))
        _wait_ready(port, key, proc, "the app")
        return port, "/v1/chat/completions", key
    if kind == "relay":
        proc = stack.enter_context(process(["-m", "bench.byte_relay", str(fake_port),
                                            str(port)], _env()))
        _wait_ready(port, "x", proc, "the byte relay")
        return port, "/v1/chat/completions", "x"
    if kind == "sdk-proxy":
        proc = stack.enter_context(process(["-m", "bench.sdk_proxy", base_url, str(port)],
                                           _env()))
        _wait_ready(port, "x", proc, "the SDK proxy")
        return port, "/v1/chat/completions", "x"
    config = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "litellm.yaml"
    config.write_text("model_list:\n  - model_name: fake-model\n    litellm_params:\n"
                      f"      model: openai/fake-model\n      api_base: {base_url}\n"
                      "      api_key: x\n")
    proc = stack.enter_context(process(
        [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config), "--host", HOST,
         "--port", str(port), "--num_workers", "1"],
        _env(LITELLM_LOG="ERROR", LITELLM_MASTER_KEY=LITELLM_KEY), executable=True))
    _wait_ready(port, LITELLM_KEY, proc, "LiteLLM")
    return port, "/v1/chat/completions", LITELLM_KEY


def _new_key(data_dir: str) -> str:
    from assistant.identity.api_keys import ApiKeys
    from assistant.storage.opening import open_store
    with open_store(None, Path(data_dir), "bench") as store:
        return ApiKeys(store).create("user:bench", "bench")[0]


def ensure_litellm() -> bool:
    if (LITELLM_VENV / "bin" / "litellm").exists():
        return True
    print("… installing litellm[proxy] into bench/results/litellm-venv (once)", file=sys.stderr)
    RESULTS.mkdir(exist_ok=True)
    made = subprocess.run([sys.executable, "-m", "venv", str(LITELLM_VENV)]).returncode == 0 \
        and subprocess.run([str(LITELLM_VENV / "bin" / "pip"), "install", "-q",
                            "litellm[proxy]"]).returncode == 0
    return made


def capacity(kind: str, steps: list[int], ramp: float) -> dict:
    passed, tried = 0, []
    for count in steps:
        with ExitStack() as stack:
            base_url = start_fast_fake(stack, TOKENS, RATE)
            port, path, key = start_target(stack, kind, base_url)
            asyncio.run(one_by_one(port, path, key, 0))  # three requests warm it up
            result = asyncio.run(users(port, path, key, count, ramp))
        ok = result["ok"] == count and result["ttft"] < TTFT_MAX and result["gap"] < GAP_MAX
        tried.append({**result, "passed": ok})
        print(f"  {kind} {count} users: ttft p95 {ms(result['ttft'])} ms, gap p95 "
              f"{ms(result['gap'])} ms, {result['ok']}/{count} done -> "
              f"{'pass' if ok else 'FAIL'}", file=sys.stderr, flush=True)
        if not ok:
            break
        passed = count
    return {"capacity": passed, "steps": tried}


def added_ttft(kind: str, count: int) -> list[float]:
    with ExitStack() as stack:
        _, base_url = start_fake(stack, 5, 100.0)
        port, path, key = start_target(stack, kind, base_url)
        return asyncio.run(one_by_one(port, path, key, count))


def main(quick: bool, ramp: float, step: int, max_users: int, page: int) -> int:
    """`page`: the page path's capacity, measured just before (bench/capacity.py)."""
    kinds = [k for k in KINDS if k != "litellm" or ensure_litellm()]
    steps = [10, 25, *range(step, max_users + 1, step)]  # a small capacity still has a number
    results: dict[str, Any] = {}
    for kind in kinds:
        ttfts = added_ttft(kind, 20 if quick else 100)
        results[kind] = {"ttft_p50": statistics.median(ttfts), **capacity(kind, steps, ramp)}
    floor = results["direct"]["ttft_p50"]
    print("\n| One process | page (Gradio queue) | " + " | ".join(kinds) + " |")
    print("|---|---|" + "---|" * len(kinds))
    print(f"| capacity (users at 50 tok/s, 300 tokens) | {page} | "
          + " | ".join(str(results[k]["capacity"]) for k in kinds) + " |")
    print("| time to first token, p50, one by one (ms) | | "
          + " | ".join(ms(results[k]["ttft_p50"]) for k in kinds) + " |")
    print("| added time to first token, p50 (ms) | | "
          + " | ".join(ms(results[k]["ttft_p50"] - floor) for k in kinds) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "api_capacity.json").write_text(json.dumps({"page": page, **results}, indent=1))
    return 0

