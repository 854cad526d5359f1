"""Makes docs/screenshot.png: the app against the fake server, in Debian's chromium.

Run from the repository root: PYTHONPATH=. python docs/screenshot.py
"""
import os, tempfile; os.environ["GRADIO_ANALYTICS_ENABLED"]="False"
from tests.conftest import start_app, FAKE_MODEL
from tests.fake_openai import FakeOpenAI, Scenario
from playwright.sync_api import sync_playwright
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
with FakeOpenAI() as fake:
    fake.default = Scenario(text=REPLY, rate=400)
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": "gpt-4.1-mini", "ASSISTANT_DATA_DIR": tempfile.mkdtemp()})
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless","--no-sandbox","--disable-gpu"])
        pg = b.new_page(viewport={"width":1280,"height":860})
        pg.goto(app.url, wait_until="domcontentloaded")
        pg.wait_for_function("() => localStorage.getItem('assistant-owner') !== null")
        box = pg.locator("textarea[data-testid='textbox']").last
        box.fill("Explain streaming replies briefly, with a code example."); box.press("Enter")
        pg.locator(".katex").first.wait_for(timeout=30000)
        pg.locator("#conversation-list label").first.wait_for(timeout=30000)
        pg.wait_for_timeout(500)
        pg.screenshot(path="docs/screenshot.png")
        b.close()
    app.close()
