"""One conversation model under both protocols: the same reply, steps and failures on
Chat Completions and on the Responses API, through the running app."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from assistant.web.chatbot_history import message_text
from fakes.fake_openai import Scenario
from tests.conftest import APIS, FAKE_MODEL, model_posts, start_app, without_stats

REASONING = "First, recall that 6 x 7 is 42."


def steps(final: Any) -> list[dict]:
    items = final if isinstance(final, list) else [final]
    return [m for m in items if isinstance(m, dict)
            and str(m["metadata"].get("id", "")).startswith("step-")]


def answer(final: Any) -> str:
    items = final if isinstance(final, list) else [final]
    return "".join(m for m in items if isinstance(m, str))


def notices(final: Any) -> list[dict]:
    items = final if isinstance(final, list) else [final]
    return [m for m in items if isinstance(m, dict) and m not in steps(final)]


@pytest.mark.parametrize("api", APIS)
def test_a_plain_reply_streams_the_same_on_both_protocols(app, fake, api):
    fake.enqueue(Scenario(text="Hello from both sides.", rate=20))  # 4 deltas, 50 ms apart
    updates, final = app.chat(app.client(), "Hi", api=api)

    assert final == "Hello from both sides."
    assert len([u for u in updates if isinstance(u, str)]) >= 2  # it streamed
    [post] = model_posts(fake)
    assert post.path.endswith("/responses" if api == "responses" else "/chat/completions")


def test_the_responses_request_sends_the_whole_history_and_stores_nothing(app, fake):
    client = app.client()
    fake.enqueue(Scenario(text="Paris."), Scenario(text="About 2 million."))
    app.chat(client, "Capital of France?", FAKE_MODEL, 0.7, "Be brief.", api="responses")
    app.chat(client, "Population?", FAKE_MODEL, 0.7, "Be brief.", api="responses")

    body = model_posts(fake)[-1].body
    assert body["store"] is False and "previous_response_id" not in body
    assert body["instructions"] == "Be brief."
    assert [(i["role"], i["content"]) for i in body["input"]] == [
        ("user", "Capital of France?"), ("assistant", "Paris."), ("user", "Population?")]


@pytest.mark.parametrize("api,shape", [
    ("chat_completions", "reasoning_content"), ("chat_completions", "reasoning"),
    ("chat_completions", "think_tags"), ("chat_completions", "parts"), ("responses", None)])
def test_reasoning_is_a_thinking_step_above_the_answer_and_never_part_of_it(app, fake, api, shape):
    client = app.client()
    fake.enqueue(Scenario(text="The answer is 42.", reasoning=REASONING, rate=100,
                          reasoning_shape=shape or "reasoning_content"),
                 Scenario(text="You are welcome."))
    updates, final = app.chat(client, "What is 6 x 7?", api=api)

    assert answer(final) == "The answer is 42."
    [step] = steps(final)
    assert step["content"] == REASONING
    assert step["metadata"].get("title", "").startswith("💭 Thought for ")
    assert step["metadata"]["status"] == "done"
    assert any(s["metadata"]["status"] == "pending" for u in updates for s in steps(u))
    app.chat(client, "Thanks", api=api)
    sent = str(model_posts(fake)[-1].body)
    assert "6 x 7 is 42" not in sent and "The answer is 42." in sent


def test_reasoning_is_stored_with_the_reply_and_comes_back_when_the_chat_is_reopened(fake, tmp_path):
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw", "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        ann = app.client(auth=("ann", "ann-pw"))
        fake.enqueue(Scenario(text="42.", reasoning=REASONING))
        app.chat(ann, "6 x 7?", api="responses")
        app.app.store.flush()
        [listed] = ann.predict(api_name="/list_conversations")
        reopened = ann.predict(listed["id"], "", api_name="/open_conversation")[0]
        exported = ann.predict(listed["id"], api_name="/export_conversation")
    finally:
        app.close()

    [step] = [m for m in reopened if (m.get("metadata") or {}).get("title")]
    assert step["metadata"].get("title", "").startswith("💭 Thought for ")
    assert message_text(step["content"]) == REASONING
    assert message_text(reopened[-2]["content"]) == "42."
    assert reopened[-1]["metadata"]["id"] == "stats"  # its stats line, as it streamed
    assert exported["messages"][-1]["steps"][0]["text"] == REASONING
    assert exported["messages"][-1]["settings"]["api"] == "responses"


@pytest.mark.parametrize("api", APIS)
def test_a_refusal_is_shown_as_the_reply_and_marked(app, fake, api):
    fake.enqueue(Scenario(refusal="I can't help with that."))
    _, final = app.chat(app.client(), "Something bad", api=api)

    assert answer(final) == "I can't help with that."
    [mark] = notices(final)
    assert mark["metadata"]["id"] == "refusal" and "declined" in mark["metadata"].get("title", "")


@pytest.mark.parametrize("api", APIS)
def test_a_reply_with_only_tool_calls_ends_with_a_notice_not_a_blank_bubble(app, fake, api):
    fake.enqueue(Scenario(tool_calls=[{"name": "calculator", "arguments": '{"x": 1}'}]))
    _, final = app.chat(app.client(), "Compute", api=api, tools=[])

    assert answer(final) == ""
    [mark] = notices(final)
    assert "asked to use a tool" in mark["metadata"].get("title", "")


@pytest.mark.parametrize("api", APIS)
def test_a_finish_with_no_text_at_all_ends_with_a_notice(app, fake, api):
    fake.enqueue(Scenario(text=""))
    _, final = app.chat(app.client(), "Say nothing", api=api)

    assert answer(final) == ""
    assert "empty reply" in notices(final)[0]["metadata"].get("title", "")


@pytest.mark.parametrize("api", APIS)
def test_usage_from_either_protocol_reaches_the_stats_line(app, fake, api):
    fake.enqueue(Scenario(text="one two three"))
    job = app.client().submit("Count", *(FAKE_MODEL, 0.7, "", 10, 1024, False, api),
                              api_name="/chat")
    final = job.result()
    [stats] = [m for m in final if isinstance(m, dict) and m["metadata"]["id"] == "stats"]
    assert "→ 3 tokens" in stats["content"] and "est." not in stats["content"]
    assert without_stats(final) == "one two three"


def test_an_unknown_api_name_is_refused_in_the_chat(app, fake):
    _, final = app.chat(app.client(), "Hi", api="smoke-signals")
    assert "The API must be one of" in final["metadata"].get("title", "")
    assert model_posts(fake) == []


@pytest.mark.parametrize("api", APIS)
def test_a_refusal_is_its_own_outcome_in_metrics_and_the_log_line(app, fake, api, caplog):
    metrics = app.app.metrics
    refused = {"backend": "custom", "model": FAKE_MODEL, "outcome": "refused"}
    before = metrics.registry.get_sample_value("assistant_replies_total", refused) or 0
    fake.enqueue(Scenario(refusal="No."))
    with caplog.at_level(logging.INFO, logger="assistant.replies"):
        app.chat(app.client(), "Something bad", api=api)

    assert metrics.registry.get_sample_value("assistant_replies_total", refused) == before + 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "assistant.replies"]
    assert f"api={api}" in line and "outcome=refused" in line


def test_a_server_without_the_responses_api_says_to_choose_chat_completions(app, fake):
    fake.enqueue(Scenario(status=404, error_code="unknown_url",
                          error_message="Unknown request URL: POST /v1/responses"))
    _, final = app.chat(app.client(), "Hi", api="responses")

    assert "has no Responses API endpoint (404). Choose Chat Completions" in final["metadata"].get("title", "")
