"""The lean baseline: a plain gr.ChatInterface over AsyncOpenAI, as a skilled user writes it.

    python bench/lean_app.py --base-url http://127.0.0.1:P/v1 --port 7861

No storage, no stats; updates at most every 40 ms; Gradio's concurrency limits lifted.
`--freeze-gc` adds the one line that matters most under load (bench/capacity.py).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr
from openai import AsyncOpenAI

INTERVAL = 0.04  # seconds between updates at most


def build(base_url: str, model: str) -> gr.ChatInterface:
    client = AsyncOpenAI(base_url=base_url, api_key="x")

    async def reply(message: str, history: list[dict]):
        messages = [*({"role": m["role"], "content": m["content"]} for m in history),
                    {"role": "user", "content": message}]
        text, shown_at = "", 0.0
        stream = await client.chat.completions.create(model=model, messages=messages, stream=True)
        async with stream:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
                    if time.monotonic() - shown_at >= INTERVAL:
                        shown_at = time.monotonic()
                        yield text
        yield text

    return gr.ChatInterface(reply, api_name="chat", concurrency_limit=None)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--freeze-gc", action="store_true", help="gc.freeze() after start-up")
    args = parser.parse_args(argv)
    demo = build(args.base_url, args.model)
    demo.queue(default_concurrency_limit=None, max_size=None)
    if args.freeze_gc:  # what our app does: full collections over Gradio's objects stall streams
        gc.collect()
        gc.freeze()
    demo.launch(server_name="127.0.0.1", server_port=args.port, quiet=True, max_threads=600)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
