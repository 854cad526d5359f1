"""Benchmark: the embedded SmolLM2 model through the app, against llama-cpp-python called directly.

    python -m bench.embedded            # 3 runs each, 256 tokens a run

Direct: `llama_cpp.Llama(...).create_chat_completion(stream=True)` in this process, with
llama-cpp-python's default thread count (half the cores: the app's count on 2 cores) and
with all cores. Through the app: `python app.py` with no key (its own llama-cpp server
process), driven through Gradio's queue protocol as a browser does (bench/client.py).
Tokens/s is end to end, from sending the request to the last text, with tokens counted by
the model's own tokenizer on the final text: the app is charged for everything it adds.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.providers.local.model import CONTEXT_WINDOW, MODEL_ALIAS, bundled_model_path
from bench.client import Target, call

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
MAX_TOKENS = 256
RUNS = 3
ROOT = Path(__file__).resolve().parent.parent


def direct_runs(llm) -> list[float]:
    """Like every row, a first run warms up (and fills the prompt cache) unmeasured."""
    rates = []
    for _ in range(RUNS + 1):
        start, last, count = time.perf_counter(), None, 0
        for chunk in llm.create_chat_completion(
                messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS,
                temperature=0.0, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                last = time.perf_counter()
                count += 1
        rates.append(count / (last - start))
    return rates[1:]


def server_runs(port: int, threads: int) -> list[float]:
    """llama-cpp-python's own OpenAI-compatible server, read with the SDK: no app in between."""
    from openai import OpenAI

    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", str(CONTEXT_WINDOW), "--n_threads", str(threads)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in server.stdout:
            if "Uvicorn running" in line:
                break
        client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="local")
        rates = []
        for _ in range(RUNS + 1):
            start, last, count = time.perf_counter(), None, 0
            with client.chat.completions.create(
                    model="smollm2", messages=[{"role": "user", "content": PROMPT}],
                    max_tokens=MAX_TOKENS, temperature=0.0, stream=True) as stream:
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        last, count = time.perf_counter(), count + 1
            rates.append(count / (last - start))
        return rates[1:]
    finally:
        server.terminate()
        server.wait(timeout=10)


def chat_inputs(target: Target) -> list:
    """The /chat inputs at their defaults, but for the model and the sampling settings."""
    wanted = {"Model": MODEL_ALIAS, "Temperature": 0.0, "Max output tokens": MAX_TOKENS}
    values = target.data(target.chat, PROMPT)
    for index, cid in enumerate(target.chat["inputs"]):
        label = target.components[cid].get("props", {}).get("label")
        values[index] = wanted.get(label, values[index])
    return values


async def _chat_runs(llm, port: int) -> tuple[list[float], list[float]]:
    target = Target(port, (await call(port, "GET /config"))[1])
    rates, first_texts = [], []
    for _ in range(RUNS + 1):  # the first run warms the model server up
        record = await target.stream(target.chat, chat_inputs(target))
        final = record["final"][0]  # the text, then a notice if the reply is incomplete
        text = final if isinstance(final, str) else final[0]
        first_texts.append(record["updates"][0])
        rates.append(len(llm.tokenize(text.encode(), add_bos=False)) / record["updates"][-1])
    return rates[1:], first_texts


def app_runs(llm, port: int) -> tuple[list[float], list[float]]:
    """Tokens/s through the app, and the times to first text (the first is a cold start)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update(ASSISTANT_DATA_DIR=tempfile.mkdtemp(), PYTHONUNBUFFERED="1",
               GRADIO_ANALYTICS_ENABLED="False")
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in app.stdout:
            if "Running on local URL" in line:
                break
        return asyncio.run(_chat_runs(llm, port))
    finally:
        app.terminate()
        app.wait(timeout=10)


def main() -> int:
    from llama_cpp import Llama

    from assistant.providers.local.model import LocalModelServer
    from fakes.loopback import free_port

    app_threads = LocalModelServer(bundled_model_path()).threads
    llm = Llama(model_path=str(bundled_model_path()), n_ctx=CONTEXT_WINDOW, verbose=False)
    rows = [(f"direct, llama-cpp-python's default {llm.n_threads} thread(s)", direct_runs(llm))]
    cores = os.cpu_count() or 1
    if cores != llm.n_threads:
        all_cores = Llama(model_path=str(bundled_model_path()), n_ctx=CONTEXT_WINDOW,
                          n_threads=cores, verbose=False)
        rows.append((f"direct, all {cores} cores", direct_runs(all_cores)))
        del all_cores
    baselines = [statistics.median(rates) for _, rates in rows]  # the direct rows
    rows.append((f"llama-cpp-python's server, {app_threads} thread(s)",
                 server_runs(free_port(), app_threads)))
    through_app, first_texts = app_runs(llm, free_port())
    rows.append((f"through the app, {app_threads} model thread(s)", through_app))
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {cores} cores · "
          f"SmolLM2-135M Q4_1, {MAX_TOKENS} tokens end to end, median of {RUNS} warm runs")
    print(f"{'':<44} {'tokens/s':>8}  " + "  ".join(f"{f'vs row {i}':>8}" for i in
                                                       range(1, len(baselines) + 1)) + "   runs")
    for name, rates in rows:
        median = statistics.median(rates)
        shares = "  ".join(f"{median / b:8.1%}" for b in baselines)
        print(f"{name:<44} {median:8.1f}  {shares}   {', '.join(f'{r:.0f}' for r in rates)}")
    print("target: through the app >= 90% of llama-cpp-python called directly")
    print(f"time to first token through the app: first request {first_texts[0] * 1000:.0f} ms, "
          f"then median {statistics.median(first_texts[1:]) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
