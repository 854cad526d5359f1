"""Does the embedded model call tools usefully? SmolLM2-135M with llama-cpp-python's
`chatml-function-calling` format, on a few arithmetic prompts with the calculator offered.

    python -m bench.embedded_tools

Prints, per prompt, whether the model called the calculator, with arguments that parse and
evaluate to the right answer, and a summary line.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from openai import APITimeoutError, OpenAI

from assistant.providers.local.model import MODEL_ALIAS, bundled_model_path
from assistant.tools.builtins import CALCULATOR_DESCRIPTION, CALCULATOR_SCHEMA, calculator
from assistant.tools.errors import ToolError
from fakes.loopback import free_port

PROMPTS = [("What is 17 * 23?", 391), ("Compute 1234 + 5678.", 6912),
           ("What is 2 to the power of 10?", 1024), ("Divide 144 by 12.", 12),
           ("What is 99 minus 57?", 42), ("Use the calculator: 12.5 * 4", 50)]
REQUEST_TIMEOUT = 60.0  # the format's grammar can keep a tiny model generating for minutes
TOOLS = [{"type": "function", "function": {"name": "calculator", "description": CALCULATOR_DESCRIPTION,
                                           "parameters": CALCULATOR_SCHEMA}}]


def main() -> int:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()),
         "--model_alias", MODEL_ALIAS, "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "4096", "--chat_format", "chatml-function-calling"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="local", max_retries=0,
                    timeout=REQUEST_TIMEOUT)
    try:
        for _ in range(600):
            try:
                client.models.list()
                break
            except Exception:
                time.sleep(0.1)
        called = right = 0
        for prompt, answer in PROMPTS:
            started = time.monotonic()
            try:
                reply = client.chat.completions.create(
                    model=MODEL_ALIAS, messages=[{"role": "user", "content": prompt}], tools=TOOLS,
                    tool_choice="auto", max_tokens=128, temperature=0)
            except APITimeoutError:
                print(f"{prompt:32} {'no answer within 60 s':40} {time.monotonic() - started:5.2f} s")
                continue
            message = reply.choices[0].message
            calls = message.tool_calls or []
            verdict = "no call"
            if calls:
                called += 1
                try:
                    expression = json.loads(calls[0].function.arguments).get("expression", "")
                    value = float(calculator(str(expression)))
                    verdict = f"called {expression!r} = {value:g}"
                    right += abs(value - answer) < 1e-9
                except (ValueError, ToolError, AttributeError) as exc:
                    verdict = f"called with unusable arguments ({exc})"
            text = (message.content or "").strip().replace("\n", " ")[:60]
            print(f"{prompt:32} {verdict:40} {time.monotonic() - started:5.2f} s  text: {text!r}")
        print(f"\n{called}/{len(PROMPTS)} prompts called the calculator, {right}/{len(PROMPTS)} "
              "with an expression that gives the right answer")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # still generating, and deaf to SIGTERM meanwhile
            server.kill()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
