"""The measuring tools of the benchmark: a Gradio queue-protocol client, a direct SDK client,
and CPU and memory readings of other processes from /proc.

The Gradio client speaks raw HTTP/1.1 over asyncio (cheap enough to be the load generator)
and does what a browser does: POST /gradio_api/queue/join, then read the SSE stream
GET /gradio_api/queue/data, timestamping every update. `direct` streams from the fake
server through the OpenAI SDK alone. bench.py runs the phases with these, in its
--client process.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

HOST = "127.0.0.1"
INF = float("inf")


# /proc ---------------------------------------------------------------------------------
def thread_cpu(pid: int) -> dict[int, int]:
    """Nanoseconds on CPU per thread (schedstat), finer than the 10 ms ticks of /proc/PID/stat."""
    times = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            times[int(task.name)] = int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # the thread just ended
    return times


def process_cpu(pid: int) -> float:
    """CPU seconds of a process, ended threads included (10 ms ticks): for the fake server."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_since(pid: int, before: dict[int, int]) -> float:
    """CPU seconds used by `pid` since `before`; a thread that ends meanwhile loses its share."""
    return sum(ns - before.get(tid, 0) for tid, ns in thread_cpu(pid).items()) / 1e9


def reset_peak_rss(pid: int) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        pass  # VmHWM is then the lifetime peak: coarser, still honest


def peak_rss_mb(pid: int) -> float:
    line = next(x for x in Path(f"/proc/{pid}/status").read_text().splitlines()
                if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


# The client: raw HTTP/1.1 ----------------------------------------------------------------
async def _open(port: int, head: str, body: bytes = b"", cookie: str = ""
                ) -> tuple[Any, Any, int, dict]:
    reader, writer = await asyncio.open_connection(HOST, port)
    writer.write(f"{head} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n"
                 f"Origin: http://{HOST}:{port}\r\n".encode()  # as a page's requests carry
                 + (f"Cookie: {cookie}\r\n".encode() if cookie else b"")
                 + (f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                    .encode() if body else b"") + b"\r\n" + body)
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        key, _, value = line.decode().partition(":")
        headers[key.strip().lower()] = value.strip()
    return reader, writer, status, headers


async def _chunks(reader: Any, headers: dict) -> Any:
    if headers.get("transfer-encoding") == "chunked":
        while size := int((await reader.readline()).split(b";")[0].strip() or b"0", 16):
            yield (await reader.readexactly(size + 2))[:-2]
    elif "content-length" in headers:
        yield await reader.readexactly(int(headers["content-length"]))
    else:
        yield await reader.read()


async def call(port: int, head: str, payload: Any = None, cookie: str = "") -> tuple[int, Any]:
    reader, writer, status, headers = await _open(
        port, head, b"" if payload is None else orjson.dumps(payload), cookie)
    try:
        data = b"".join([chunk async for chunk in _chunks(reader, headers)])
        return status, orjson.loads(data) if data else None
    finally:
        writer.close()


async def queue_events(port: int, session: str, cookie: str = "") -> Any:
    """(arrival time, message) for each message on a session's SSE stream."""
    reader, writer, _, headers = await _open(
        port, f"GET /gradio_api/queue/data?session_hash={session}", cookie=cookie)
    buffer = b""
    try:
        async for chunk in _chunks(reader, headers):
            now, buffer = time.monotonic(), buffer + chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                if event.startswith(b"data:"):
                    yield now, orjson.loads(event[5:])
    finally:
        writer.close()


class Target:
    """The app under test, as its /config describes it."""

    def __init__(self, port: int, config: dict, replicas: int = 0) -> None:
        """`replicas`: behind deploy/haproxy.cfg, each session is pinned to one of them by
        its SERVERID cookie, spread evenly, as browsers are."""
        self.port, deps = port, config["dependencies"]
        self.replicas = replicas
        self.components = {c["id"]: c for c in config["components"]}
        named = {d.get("api_name"): d for d in deps}
        self.chat = named.get("chat") or next(  # gr.load_chat names it after its function
            d for d in deps if d.get("api_visibility") == "public" and d["types"]["generator"])
        self.save = named["_clear_and_save_textbox"]
        self.append = named["_append_message_to_history"]
        self.submit = named["_submit_fn"]
        self.sync = next(d for d in deps if d.get("trigger_after") == self.submit["id"])
        # A new visitor's: the server's part of them (a load event may run in the page only).
        self.on_load = [d for d in deps if d.get("backend_fn")
                        and any(t[1] == "load" for t in d.get("targets", []))]

    def data(self, dep: dict, message: str = "") -> list[Any]:
        """Inputs as a browser sends them: States as null, other components at their value."""
        values = []
        for index, cid in enumerate(dep["inputs"]):
            kind = self.components[cid]["type"]
            if kind == "state":
                values.append(None)
            elif index == 0 and kind in ("textbox", "multimodaltextbox"):
                values.append(message if kind == "textbox" else {"text": message, "files": []})
            else:
                values.append(self.components[cid].get("props", {}).get("value"))
        return values

    def cookie(self, session: str) -> str:
        return f"SERVERID=app{int(session, 16) % self.replicas + 1}" if self.replicas else ""

    async def run(self, dep: dict, data: list[Any], session: str) -> Any:
        status, body = await call(self.port, "POST /gradio_api/run/predict",
                                  {"data": data, "fn_index": dep["id"], "session_hash": session},
                                  self.cookie(session))
        if status != 200:
            raise RuntimeError(f"{dep.get('api_name')} answered {status}: {str(body)[:200]}")
        return body["data"]

    async def open_page(self, session: str) -> bool:
        """The page's load events, as a browser runs them on opening (this creates the session)."""
        try:
            for dep in self.on_load:
                if dep["queue"]:
                    await self.stream(dep, self.data(dep), session, time.monotonic() + 30)
                else:
                    await self.run(dep, self.data(dep), session)
            return True
        except RuntimeError:
            return False

    async def stream(self, dep: dict, data: list[Any], session: str = "", deadline: float = INF,
                     cancel_after_first: bool = False) -> dict:
        """One queued event, timed from the join request on."""
        session = session or uuid.uuid4().hex[:11]
        record: dict[str, Any] = {"ok": False, "updates": [], "wait": None, "done": None,
                                  "queued": False}
        t0 = time.monotonic()
        status, body = await call(self.port, "POST /gradio_api/queue/join",
                                  {"data": data, "fn_index": dep["id"], "session_hash": session},
                                  self.cookie(session))
        if status != 200:
            return {**record, "error": f"join {status}"}
        try:
            async with asyncio.timeout(None if deadline == INF else deadline - time.monotonic()):
                async for now, msg in queue_events(self.port, session, self.cookie(session)):
                    kind = msg.get("msg")
                    if kind == "process_starts":
                        record["wait"] = now - t0
                    elif kind == "estimation" and (msg.get("rank") or 0) > 0:
                        record["queued"] = True  # behind others, for a concurrency limit
                    elif kind == "process_generating":
                        record["updates"].append(now - t0)
                        if cancel_after_first:
                            await call(self.port, "POST /gradio_api/cancel", {
                                "session_hash": session, "fn_index": dep["id"],
                                "event_id": body["event_id"]}, self.cookie(session))
                            break
                    elif kind == "process_completed":
                        record.update(ok=bool(msg.get("success")), done=now - t0,
                                      final=(msg.get("output") or {}).get("data"))
                        break
        except TimeoutError:
            record["error"] = "deadline"
        return record


def summarize(record: dict) -> dict:
    """First update, longest gap between updates (and to the end), updates per second."""
    times = record["updates"] + ([record["done"]] if record["done"] is not None else [])
    gaps = [b - a for a, b in zip(times, times[1:])]
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {"ok": record["ok"], "ttft": times[0] if record["updates"] else None,
            "wait": record["wait"], "queued": record.get("queued", False),
            "done": record["done"], "updates": len(record["updates"]),
            "max_gap": max(gaps) if gaps else None,
            "rate": len(record["updates"]) / span if span > 0 else None}


async def direct(spec: dict) -> dict:
    """The fake server through the SDK alone: the floor the apps add to."""
    from openai import AsyncOpenAI
    client, runs = AsyncOpenAI(base_url=spec["base_url"], api_key="x", max_retries=0), []
    for i in range(spec["warmup"] + spec["count"]):
        t0, first = time.monotonic(), INF
        stream = await client.chat.completions.create(
            model="fake-model", messages=[{"role": "user", "content": "Hi"}], stream=True)
        async with stream:
            async for chunk in stream:
                if first == INF and chunk.choices and chunk.choices[0].delta.content:
                    first = time.monotonic()
        if i >= spec["warmup"]:
            runs.append({"ttft": first - t0, "done": time.monotonic() - t0})
    await client.close()
    return {"runs": runs}
