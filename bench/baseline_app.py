"""The one-line baseline: `gr.load_chat` on the same fake server, Gradio's defaults otherwise.

    python bench/baseline_app.py --base-url http://127.0.0.1:P/v1 --port 7861

bench.py starts this in its own process and drives it exactly like our app.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base-url", required=True, help="an OpenAI-compatible endpoint, with /v1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", default="fake-model")
    args = parser.parse_args(argv)
    demo = gr.load_chat(args.base_url, model=args.model, token="x")
    demo.launch(server_name="127.0.0.1", server_port=args.port, quiet=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
