"""axe-core, the accessibility checker browsers' dev tools use, on the real page: a new
page, and a page after a reply with a tool step and sources, on a desktop screen and a
phone's. What we render has no serious or critical violation; Gradio's own components'
known ones are listed in GRADIO_OWN (and in the README), each with where it comes from.

axe-core comes from npm (`npm install axe-core`, which .ci/run does); without it these
tests are skipped on a developer's machine, but fail in CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from fakes.fake_openai import Scenario
from tests.browser import bot_message, open_app, send
from tests.conftest import FAKE_MODEL, start_app

AXE = Path(os.environ.get("AXE_CORE_JS") or
           Path(__file__).resolve().parent.parent / "node_modules/axe-core/axe.min.js")
# Rules that fail inside Gradio's own components, not in what we render: (rule, where).
# The Chatbot draws a step (tool call, sources) as a role="button" header holding an
# unnamed arrow button; no upstream issue found (the README lists it).
GRADIO_OWN = {("button-name", ".thought-group"), ("nested-interactive", ".thought-group")}
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
    .flatMap(v => v.nodes.map(n => ({rule: v.id, impact: v.impact, target: n.target.join(' '),
                                     html: n.html.slice(0, 160)})));
}"""


@pytest.fixture(scope="module")
def fake_app(fake_server, tmp_path_factory):
    if not AXE.exists():
        if os.environ.get("CI"):
            raise RuntimeError("axe-core is missing: .ci/run should have installed it")
        pytest.skip("axe-core is not installed (npm install axe-core)")
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("axe-data"))})
    yield app
    app.close()


def violations(page) -> list[dict]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(RUN_AXE)
    return [v for v in found if not any(v["rule"] == rule and where in v["target"]
                                        for rule, where in GRADIO_OWN)]


def test_a_new_page_has_no_serious_violation(page, fake_app):
    open_app(page, fake_app.url)
    assert violations(page) == []


def test_a_reply_with_a_tool_step_and_sources_has_no_serious_violation(page, fake_app, fake,
                                                                       tmp_path):
    notes = tmp_path / "harbour.md"
    notes.write_text("# Harbour\n\nThe harbour of Velmora exports dried kelp.\n")
    search = {"name": "search_documents", "arguments": '{"query": "Velmora exports"}'}
    fake.enqueue(Scenario(tool_calls=[search]), Scenario(text="Dried kelp [1]."))
    open_app(page, fake_app.url)
    with page.expect_file_chooser() as chooser:
        page.get_by_test_id("upload-button").click()
    chooser.value.set_files(str(notes))
    expect(page.locator(".thumbnail-item").first).to_be_visible(timeout=20_000)
    send(page, "What does Velmora export?")
    expect(bot_message(page, "Dried kelp [1].").last).to_be_visible(timeout=20_000)
    expect(page.get_by_text("📚 Sources (1)")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("to first token")).to_be_visible(timeout=10_000)
    assert violations(page) == []


def test_a_phone_sized_page_has_no_serious_violation(browser, fake_app):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    try:
        phone = context.new_page()
        open_app(phone, fake_app.url)
        assert violations(phone) == []
    finally:
        context.close()
