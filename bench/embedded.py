"""Benchmark: the embedded SmolLM2 model through the app, against llama-cpp-python called directly.

    python -m bench.embedded            # 3 runs each, 256 tokens a run

Direct: `llama_cpp.Llama(...).create_chat_completion(stream=True)` in this process.
Through the app: `python app.py` with no key (its own llama-cpp server process),
driven by gradio_client's /chat. Tokens/s is end to end, from sending the request
to the last text, with tokens counted by the model's own tokenizer on the final
text: the app is charged for everything it adds, prompt handling included.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from assistant.local_model import CONTEXT_WINDOW, bundled_model_path

PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."
MAX_TOKENS = 256
RUNS = 3
ROOT = Path(__file__).resolve().parent.parent


def direct_runs(llm) -> list[float]:
    rates = []
    for _ in range(RUNS):
        start = time.perf_counter()
        last = None
        count = 0
        for chunk in llm.create_chat_completion(
                messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS,
                temperature=0.0, stream=True):
            if chunk["choices"][0]["delta"].get("content"):
                last = time.perf_counter()
                count += 1
        rates.append(count / (last - start))
    return rates


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


def app_runs(llm, port: int) -> tuple[list[float], list[float]]:
    """Tokens/s through the app, and the times to first text (the first is a cold start)."""
    from gradio_client import Client

    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update(ASSISTANT_DATA_DIR=tempfile.mkdtemp(), PYTHONUNBUFFERED="1",
               GRADIO_ANALYTICS_ENABLED="False")
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in app.stdout:
            if "Running on local URL" in line:
                break
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        rates, first_texts = [], []
        for _ in range(RUNS + 1):  # the first run warms the model server up
            start = time.perf_counter()
            first = last = None
            text = ""
            for update in client.submit(PROMPT, "smollm2", 0.0, "", 0, MAX_TOKENS,
                                        api_name="/chat"):
                value = update if isinstance(update, str) else (update[0] if update else "")
                if isinstance(value, str) and value and value != text:
                    last = time.perf_counter()
                    first = first or last
                    text = value
            first_texts.append(first - start)
            tokens = len(llm.tokenize(text.encode(), add_bos=False))
            rates.append(tokens / (last - start))
            client.reset_session()
        return rates[1:], first_texts
    finally:
        app.terminate()
        app.wait(timeout=10)


def main() -> int:
    from llama_cpp import Llama

    from assistant.local_model import LocalModelServer
    from tests.conftest import free_port

    app_threads = LocalModelServer(bundled_model_path()).threads
    rows = []
    for threads in sorted({os.cpu_count() or 1, app_threads}, reverse=True):
        llm = Llama(model_path=str(bundled_model_path()), n_ctx=CONTEXT_WINDOW,
                    n_threads=threads, verbose=False)
        rows.append((f"llama-cpp-python in-process, {threads} thread(s)", direct_runs(llm)))
    rows.append((f"llama-cpp-python's server, {app_threads} thread(s)",
                 server_runs(free_port(), app_threads)))
    through_app, first_texts = app_runs(llm, free_port())
    rows.append((f"through the app ({app_threads} model thread(s))", through_app))
    best = statistics.median(rows[0][1])
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · {os.cpu_count()} cores · "
          f"SmolLM2-135M Q4_1, {MAX_TOKENS} tokens end to end, median of {RUNS} runs")
    for name, rates in rows:
        median = statistics.median(rates)
        print(f"{name:<46} {median:6.1f} tokens/s  {median / best:6.1%}   "
              f"runs: {', '.join(f'{r:.0f}' for r in rates)}")
    print("target: through the app >= 90% of llama-cpp-python called directly (first row)")
    print(f"time to first token through the app: first request {first_texts[0] * 1000:.0f} ms, "
          f"then median {statistics.median(first_texts[1:]) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
