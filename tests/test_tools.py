"""The assistant acts: tool calls run between rounds, as visible steps, on both protocols."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest

from assistant.conversation.history import CONTINUE_INSTRUCTION
from assistant.web.chatbot_history import message_text
from fakes.fake_openai import Scenario
from fakes.fake_scenario import data_inside, tool_outputs
from fakes.fake_wire import usage_payload
from fakes.fake_wire_responses import input_tokens
from tests.conftest import APIS, FAKE_MODEL, model_posts, start_app

ADD = {"name": "calculator", "arguments": json.dumps({"expression": "2 + 3"})}
MULTIPLY = {"name": "calculator", "arguments": json.dumps({"expression": "6 * 7"})}


def tool_messages(final: Any) -> list[dict]:
    return [m for m in final if isinstance(m, dict) and m["metadata"].get("title", "").startswith("🔧")]


def tool_steps(final: Any) -> list[dict]:
    """The tool calls' own steps, without a group that holds parallel ones."""
    return [m for m in tool_messages(final) if m["metadata"]["id"].startswith("step-")]


def tool_results(post) -> list[str]:
    """The results the model was sent, each marked as data (fakes/fake_scenario.data_inside)."""
    return [data_inside(output) for output in tool_outputs(post.body)]


@pytest.mark.parametrize("api", APIS)
def test_two_parallel_calls_run_and_their_results_reach_the_model(app, fake, api):
    fake.enqueue(Scenario(tool_calls=[ADD, MULTIPLY], tool_args_piece=3),
                 Scenario(echo_tool_results=True))
    job = app.client().submit("What are 2+3 and 6*7?", FAKE_MODEL, 0.7, "", 10, 1024, False, api,
                              api_name="/chat")
    final = job.result()

    first, second = model_posts(fake)
    assert [t["function"]["name"] if "function" in t else t["name"]
            for t in first.body["tools"]] == ["calculator", "current_time"]
    assert tool_results(second) == ["5", "42"]
    assert final[-1]["metadata"]["id"] == "stats"
    assert "Tool results: 5; 42" in [m for m in final if isinstance(m, str)]
    group, *steps = tool_messages(final)
    assert group["metadata"].get("title", "") == "🔧 2 tools at once" and group["metadata"]["status"] == "done"
    assert [s["metadata"]["status"] for s in steps] == ["done", "done"]
    assert [s["metadata"]["parent_id"] for s in steps] == [group["metadata"]["id"]] * 2
    assert len({s["metadata"]["id"] for s in steps}) == 2
    assert "2 + 3" in message_text(steps[0]["content"]) and "5" in message_text(steps[0]["content"])
    assert "2 tool calls" in final[-1]["content"]
    counted = input_tokens if api == "responses" else (lambda b: usage_payload(b, 0)["prompt_tokens"])
    prompt = sum(counted(post.body) for post in (first, second))
    assert f"{prompt:,} → " in final[-1]["content"]  # both rounds' usage, added


def test_calls_of_successive_rounds_are_not_grouped_as_parallel(app, fake):
    fake.enqueue(Scenario(tool_calls=[ADD]), Scenario(tool_calls=[MULTIPLY]), Scenario(text="Done."))
    _, final = app.chat(app.client(), "2+3, then 6*7")

    steps = tool_messages(final)
    assert [s["metadata"].get("title", "") for s in steps] == ["🔧 calculator", "🔧 calculator"]
    assert not any("parent_id" in s["metadata"] for s in steps)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("call, error", [
    ({"name": "calculator", "arguments": '{"expression": "2 +'}, "not valid JSON"),
    ({"name": "teleport", "arguments": "{}"}, "no tool named"),
    ({"name": "calculator", "arguments": '{"expr": "1"}'}, "missing arguments: expression"),
    ({"name": "calculator", "arguments": '{"expression": "1/0"}'}, "Division by zero"),
], ids=["bad-json", "unknown-tool", "schema", "tool-raises"])
def test_a_bad_call_gives_the_model_an_error_and_the_step_is_marked_failed(app, fake, api, call,
                                                                          error):
    fake.enqueue(Scenario(tool_calls=[call]), Scenario(echo_tool_results=True))
    _, final = app.chat(app.client(), "Go", api=api)

    [step] = tool_steps(final)
    assert step["metadata"].get("title", "").endswith("(failed)")
    [sent] = tool_results(model_posts(fake)[-1])
    assert sent.startswith("Error:") and error in sent
    assert "Traceback" not in json.dumps(final)
    assert f"Tool results: {sent}" in final


@pytest.mark.parametrize("api", APIS)
def test_a_model_that_never_stops_calling_tools_is_stopped_at_the_bound(app, fake, api):
    fake.default = Scenario(tool_calls=[ADD], text="Thinking aloud. ", text_with_tools=True)
    _, final = app.chat(app.client(), "Loop", api=api)

    assert len(model_posts(fake)) == 9  # 8 rounds of tools, then the one that asked again
    mark = final[-1]
    assert "kept calling tools" in mark["metadata"].get("title", "") and "8 rounds" in mark["metadata"].get("title", "")
    assert "".join(m for m in final if isinstance(m, str)).count("Thinking aloud.") == 9
    fake.default = Scenario()
    assert app.chat(app.client(), "Still there?", api=api)[1] == "Hello from the fake server."


@pytest.mark.parametrize("api", APIS)
def test_a_server_that_rejects_tools_is_asked_again_without_them_once(fake, tmp_path, api):
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        client = app.client()
        fake.enqueue(Scenario(reject_tools=True), Scenario(text="Plain answer."))
        _, final = app.chat(client, "Hi", api=api)
        fake.enqueue(Scenario(text="Second."))
        _, again = app.chat(client, "Again", api=api)
    finally:
        app.close()

    first, retried, later = model_posts(fake)
    assert "tools" in first.body and "tools" not in retried.body and "tools" not in later.body
    assert "Plain answer." in final
    assert any(isinstance(m, dict) and "Tools are off for this model" in m["metadata"].get("title", "")
               for m in final)
    assert again == "Second."


def test_stop_during_a_tool_run_cancels_the_tool_and_keeps_the_steps(app, fake):
    started, cancelled = threading.Event(), threading.Event()

    async def slow_lookup(query: str) -> str:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    toolbox = app.app.service.rounds.toolbox
    toolbox.function(slow_lookup, description="Looks something up, slowly.")
    try:
        fake.enqueue(Scenario(tool_calls=[{"name": "slow_lookup", "arguments": '{"query": "x"}'}],
                              text="Let me look. ", text_with_tools=True))
        job = app.client().submit("Look it up", FAKE_MODEL, 0.7, "", 10, 1024, False,
                                  "chat_completions", ["slow_lookup"], api_name="/chat")
        assert started.wait(10)
        job.cancel()
        assert cancelled.wait(5), "the running tool was not cancelled"
    finally:
        toolbox.remove("slow_lookup")
    assert len(model_posts(fake)) == 1  # no round after the stop


def test_continue_after_a_stop_during_a_tool_run_carries_on_the_kept_text(app, fake):
    started = threading.Event()

    async def slow_lookup(query: str) -> str:
        started.set()
        await asyncio.sleep(60)
        return "never"

    toolbox = app.app.service.rounds.toolbox
    toolbox.function(slow_lookup, description="Looks something up, slowly.")
    client = app.client()
    try:
        fake.enqueue(Scenario(tool_calls=[{"name": "slow_lookup", "arguments": '{"query": "x"}'}],
                              text="Let me look. ", text_with_tools=True),
                     Scenario(text="Found it."))
        job = client.submit("Look it up", FAKE_MODEL, 0.7, "", 10, 1024, False,
                            "chat_completions", ["slow_lookup"], api_name="/chat")
        assert started.wait(10)
        job.cancel()
        _, final = app.chat(client, None, tools=["slow_lookup"], endpoint="/continue_reply")
    finally:
        toolbox.remove("slow_lookup")

    assert "Found it." in final
    messages = model_posts(fake)[-1].body["messages"]
    assert messages[-1] == {"role": "user", "content": CONTINUE_INSTRUCTION}
    assert messages[-2]["role"] == "assistant" and messages[-2]["content"] == "Let me look. "


def test_tool_calls_are_counted_and_logged_by_name_without_arguments(app, fake, caplog):
    metrics = app.app.metrics.registry
    ok = {"tool": "calculator", "outcome": "ok"}
    before = metrics.get_sample_value("assistant_tool_calls_total", ok) or 0
    fake.enqueue(Scenario(tool_calls=[ADD]), Scenario(text="Five."))
    with caplog.at_level(logging.INFO, logger="assistant.replies"):
        app.chat(app.client(), "2+3?")

    assert metrics.get_sample_value("assistant_tool_calls_total", ok) == before + 1
    assert metrics.get_sample_value("assistant_tool_duration_seconds_count",
                                    {"tool": "calculator"}) >= 1
    [line] = [r.getMessage() for r in caplog.records if r.name == "assistant.replies"]
    assert "tools=calculator:ok" in line and "2 + 3" not in line


@pytest.mark.parametrize("api", APIS)
def test_a_reopened_chat_with_tool_steps_shows_them_and_sends_them_back(fake, tmp_path, api):
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw", "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        ann = app.client(auth=("ann", "ann-pw"))
        fake.enqueue(Scenario(tool_calls=[ADD]), Scenario(text="It is 5."))
        app.chat(ann, "2+3?", api=api)
        app.app.store.flush()
        [listed] = ann.predict(api_name="/list_conversations")
        exported = ann.predict(listed["id"], api_name="/export_conversation")
        markdown = ann.predict(listed["id"], api_name="/export_markdown")
        copy = ann.predict(json.dumps(exported), api_name="/import_conversation")
        reopened = ann.predict(copy, "", api_name="/open_conversation")[0]
        fake.enqueue(Scenario(text="Still 5."))
        app.chat(ann, "And again?", api=api)
    finally:
        app.close()

    [step] = [s for s in exported["messages"][-1]["steps"] if s["type"] == "tool"]
    assert (step["name"], step["text"], step["failed"]) == ("calculator", "5", False)
    assert "<summary>🔧 calculator (" in markdown and '{"expression": "2 + 3"}' in markdown
    assert [m["metadata"].get("title", "") for m in reopened if m.get("metadata")][0] == "🔧 calculator"
    assert tool_results(model_posts(fake)[-1]) == ["5"]
    assert "It is 5." in str(model_posts(fake)[-1].body)


def test_a_tool_that_times_out_gives_the_model_an_error_and_the_reply_goes_on(app, fake):
    never = asyncio.Event()

    async def hang(query: str) -> str:
        await never.wait()
        return "never"

    toolbox = app.app.service.rounds.toolbox
    toolbox.function(hang, description="Never answers.", timeout=0.2)
    try:
        fake.enqueue(Scenario(tool_calls=[{"name": "hang", "arguments": '{"query": "x"}'}]),
                     Scenario(echo_tool_results=True))
        _, final = app.chat(app.client(), "Try it", tools=["hang"])
    finally:
        toolbox.remove("hang")

    [step] = tool_steps(final)
    assert step["metadata"].get("title", "") == "🔧 hang (failed)"
    assert "Tool results: Error: the tool took longer than 0.2 s." in final

