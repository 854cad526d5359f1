"""Makes docs/screenshot.png: the app against the fake server, in Debian's chromium.

Run from the repository root: PYTHONPATH=. python docs/screenshot.py
"""

import os
import tempfile

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

from playwright.sync_api import sync_playwright  # noqa: E402

from fakes.fake_openai import FakeOpenAI, Scenario  # noqa: E402
from tests.conftest import start_app  # noqa: E402
from tests.test_browser import ARGS, CHROMIUM  # noqa: E402

REPLY = """## Streaming, in short

Instead of waiting for the whole answer, the server sends **tokens as they are generated**:

- the first words appear in well under a second;
- long answers never look frozen;
- you can press **Stop** at any time, and the upstream request is closed.

```python
async with stream:
    async for chunk in stream:
        print(chunk.choices[0].delta.content or "", end="")
```

The cost grows with length: $$\\text{cost} = p \\cdot t_{in} + c \\cdot t_{out}$$"""
QUESTION = "Explain streaming replies briefly, with a code example."


def main() -> None:
    with FakeOpenAI() as fake:
        fake.default = Scenario(text=REPLY, rate=400)
        app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": "gpt-4.1-mini",
                         "ASSISTANT_DATA_DIR": tempfile.mkdtemp()})
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 860})
                page.goto(app.url, wait_until="domcontentloaded")
                page.wait_for_function("() => localStorage.getItem('assistant-owner') !== null")
                box = page.locator("textarea[data-testid='textbox']").last
                box.fill(QUESTION)
                box.press("Enter")
                page.get_by_text("to first token").wait_for(timeout=30_000)  # the reply ended
                page.locator("#conversation-list label").first.wait_for(timeout=30_000)
                page.screenshot(path="docs/screenshot.png")
                browser.close()
        finally:
            app.close()


if __name__ == "__main__":
    main()
