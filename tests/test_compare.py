"""Compare, in a real browser: one message to two models, both replies streaming side by
side at once; the one picked goes on in the chat, the other stays a version beside it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from fakes.fake_openai import Scenario
from tests.browser import bot_message, open_app, send
from tests.conftest import FAKE_MODEL, start_app


@pytest.fixture(scope="module")
def compare_app(fake_server, tmp_path_factory):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("compare-data"))})
    yield app
    app.close()


def test_two_models_stream_side_by_side_and_the_one_picked_goes_on(page, compare_app, fake):
    fake.by_model = {FAKE_MODEL: Scenario(tokens=[f"a{i} " for i in range(30)], rate=15),
                     "other-model": Scenario(tokens=[f"b{i} " for i in range(30)], rate=15)}
    open_app(page, compare_app.url)
    page.get_by_text("Compare two models").click()
    model_b = page.locator("#compare").get_by_label("Model B")
    model_b.fill("other-model")
    model_b.press("Enter")
    page.locator("#compare-message textarea").fill("Which is better?")
    page.locator("#compare").get_by_role("button", name="Compare", exact=True).click()

    # both are seen part-way at the same moment: they stream at once
    page.wait_for_function("""() => {
        const a = document.querySelector('#compare-a').innerText;
        const b = document.querySelector('#compare-b').innerText;
        return a.includes('a3') && b.includes('b3') && !a.includes('a29') && !b.includes('b29');
    }""", timeout=20_000)
    keep_b = page.get_by_role("button", name="Continue with B")
    expect(keep_b).to_be_enabled(timeout=20_000)
    expect(page.locator("#compare-b")).to_contain_text("b29")
    expect(page.locator("#compare-stats-a")).to_contain_text("tokens")
    assert sorted(r.body["model"] for r in fake.requests if r.path.endswith("completions")) \
        == [FAKE_MODEL, "other-model"]

    keep_b.click()
    expect(bot_message(page, "b29")).to_be_visible(timeout=20_000)
    versions = page.locator("#versions")
    expect(versions).to_be_visible()
    expect(versions.get_by_role("radio")).to_have_count(2)  # the other is a version beside it

    fake.by_model = {}
    fake.enqueue(Scenario(text="Going on from B."))
    send(page, "And then?")
    expect(bot_message(page, "Going on from B.")).to_be_visible(timeout=20_000)
    sent = fake.requests[-1].body["messages"]
    assert [m["content"] for m in sent if m["role"] == "assistant"][-1].startswith("b0 b1")


def test_both_replies_count_against_the_visitor_s_limit(page, fake_server, fake, tmp_path):
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_REQUESTS_PER_MINUTE": "3",
                     "ASSISTANT_DATA_DIR": str(tmp_path / "data")})
    try:
        fake.default = Scenario(text="Fine.")
        open_app(page, app.url)
        page.get_by_text("Compare two models").click()
        page.locator("#compare-message textarea").fill("First comparison")
        go = page.locator("#compare").get_by_role("button", name="Compare", exact=True)
        go.click()
        expect(page.get_by_role("button", name="Continue with B")).to_be_enabled(timeout=20_000)
        assert len([r for r in fake.requests if r.path.endswith("completions")]) == 2

        page.locator("#compare-message textarea").fill("Second comparison")
        go.click()  # two more would make four, over the three a minute allows
        expect(page.locator("#compare-stats-a")).to_contain_text("⚠️", timeout=20_000)
        expect(page.locator("#compare-stats-a")).to_contain_text("minute")
        assert len([r for r in fake.requests if r.path.endswith("completions")]) == 2
    finally:
        app.close()
