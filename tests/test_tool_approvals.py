"""Tools that change things ask first: a reply pauses on a call to such a tool until its
owner allows or denies it, over /chat and in the page, and across a reload.
The MCP server is a real one of ours (tests/mcp_servers/notes_server.py)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from assistant.conversation.approvals import Approvals
from assistant.conversation.rounds import ToolRounds
from assistant.domain.events import ToolApproval, ToolFinished
from assistant.domain.messages import ModelRequest, ToolCall
from assistant.tools.mcp_config import parse_servers
from assistant.tools.registry import Tool, Toolbox, ToolScope
from fakes.fake_openai import Scenario
from tests.browser import bot_message, open_app, send
from tests.conftest import CHAT_INPUTS, FAKE_MODEL, model_posts, start_app

NOTES = Path(__file__).parent / "mcp_servers" / "notes_server.py"
DELETE = {"name": "notes__delete_note", "arguments": '{"name": "todo"}'}


def question(update):
    """The question a paused reply asks, from a /chat update; None if it asks none."""
    shown = update if isinstance(update, list) else [update]
    return next((m for m in shown if isinstance(m, dict)
                 and (m.get("metadata") or {}).get("id") == "approval"), None)


@pytest.fixture
def notes_app(fake, tmp_path):
    deleted = tmp_path / "deleted.txt"
    deleted.touch()
    servers = {"mcpServers": {"notes": {"command": sys.executable, "args": [str(NOTES)],
                                        "env": {"NOTES_DELETED": str(deleted)}}}}
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_MCP_SERVERS": json.dumps(servers),
                     "ASSISTANT_DATA_DIR": str(tmp_path)})
    app.deleted = deleted
    yield app
    app.close()


def submit(app, client, message, tools):
    return client.submit(message, *CHAT_INPUTS, "chat_completions", tools, api_name="/chat")


def test_a_destructive_call_pauses_over_chat_until_its_caller_allows_it(notes_app, fake):
    toolbox = notes_app.app.service.rounds.toolbox
    assert toolbox.get("notes__delete_note").asks and not toolbox.get("notes__read_note").asks
    fake.enqueue(Scenario(tool_calls=[DELETE]), Scenario(echo_tool_results=True))
    client, stranger = notes_app.client(), notes_app.client()
    job = submit(notes_app, client, "Delete my todo note", ["notes__delete_note"])
    asked = next(q for update in job if (q := question(update)) is not None)
    call_id = asked["options"][0]["value"].split(":", 1)[1]
    assert asked["options"] == [
        {"value": f"allow:{call_id}", "label": "Allow once"},
        {"value": f"always:{call_id}", "label": "Always allow this tool in this chat"},
        {"value": f"deny:{call_id}", "label": "Deny"}]
    assert "notes__delete_note" in asked["metadata"].get("title", "")
    assert "notes" in asked["metadata"].get("title", "") and '"todo"' in asked["content"]
    assert notes_app.deleted.read_text() == ""  # nothing ran yet

    with pytest.raises(Exception, match="No tool call is waiting for your answer"):
        stranger.predict("allow", "", api_name="/answer_tool_call")  # not theirs to answer
    assert client.predict("allow", "", api_name="/answer_tool_call") == "allowed"
    final = job.result()
    text = "".join(m for m in final if isinstance(m, str))
    assert "deleted todo" in text
    assert notes_app.deleted.read_text() == "todo\n"
    step = next(m for m in final if isinstance(m, dict)
                and m["metadata"].get("title", "").startswith("🔧 notes__delete_note"))
    assert step["metadata"].get("title", "") == "🔧 notes__delete_note (allowed once by you)"
    metrics = httpx.get(notes_app.url + "metrics", timeout=10).text
    assert 'assistant_tool_approvals_total{answer="allowed",tool="notes__delete_note"} 1.0' \
        in metrics


def test_always_allow_lasts_for_that_chat_and_another_user_cannot_answer(fake, tmp_path):
    deleted = tmp_path / "deleted.txt"
    servers = {"mcpServers": {"notes": {"command": sys.executable, "args": [str(NOTES)],
                                        "env": {"NOTES_DELETED": str(deleted)}}}}
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_MCP_SERVERS": json.dumps(servers),
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw",
                     "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        ann, bob = app.client(auth=("ann", "ann-pw")), app.client(auth=("bob", "bob-pw"))
        fake.enqueue(Scenario(tool_calls=[DELETE]), Scenario(echo_tool_results=True),
                     Scenario(tool_calls=[DELETE]), Scenario(echo_tool_results=True))
        job = submit(app, ann, "Delete my todo note", ["notes__delete_note"])
        next(q for update in job if (q := question(update)) is not None)
        with pytest.raises(Exception, match="No tool call is waiting for your answer"):
            bob.predict("always", "", api_name="/answer_tool_call")
        assert ann.predict("always", "", api_name="/answer_tool_call") == "always"
        job.result()

        updates, final = app.chat(ann, "And again", tools=["notes__delete_note"])
        assert not any(question(u) for u in updates)  # not asked again in this chat
        assert any(isinstance(m, dict) and m["metadata"].get("title", "")
                   == "🔧 notes__delete_note (always allowed in this chat)" for m in final)
        assert deleted.read_text() == "todo\ntodo\n"
        [chat] = app.app.store.list_conversations("user:ann")
        settings = app.app.store.get_conversation("user:ann", chat.id).settings
        assert settings["allowed_tools"] == ["notes__delete_note"]
    finally:
        app.close()


def test_a_denied_call_tells_the_model_the_user_refused_and_the_reply_goes_on(notes_app, fake):
    fake.enqueue(Scenario(tool_calls=[DELETE]), Scenario(echo_tool_results=True))
    client = notes_app.client()
    job = submit(notes_app, client, "Delete my todo note", ["notes__delete_note"])
    next(q for update in job if (q := question(update)) is not None)
    assert client.predict("deny", "", api_name="/answer_tool_call") == "denied"
    final = job.result()
    sent = model_posts(fake)[-1].body["messages"][-1]["content"]
    assert "the user refused to allow it" in sent
    assert notes_app.deleted.read_text() == ""
    assert any(isinstance(m, dict) and m["metadata"].get("title", "")
               == "🔧 notes__delete_note (denied by you)" for m in final)


def test_a_read_only_tool_runs_without_asking(notes_app, fake):
    read = {"name": "notes__read_note", "arguments": '{"name": "plan"}'}
    fake.enqueue(Scenario(tool_calls=[read]), Scenario(echo_tool_results=True))
    _, final = notes_app.chat(notes_app.client(), "Read my plan", tools=["notes__read_note"])
    assert "Tool results: ship it" in "".join(m for m in final if isinstance(m, str))


def test_always_allow_in_a_chat_asks_once_for_that_chat_only(tmp_path):
    approvals = Approvals(timeout=5)
    call = ToolCall("c1", "notes__delete_note", "{}")

    async def main() -> None:
        asked = asyncio.ensure_future(approvals.ask("ann", "chat-1", call))
        await asyncio.sleep(0)  # the question is asked
        assert not approvals.answer("bob", "always")  # not bob's to answer
        assert approvals.answer("ann", "always")
        assert await asked == "always"
        assert await approvals.answered("ann", "chat-1", call.name) == "always"  # not asked
        assert await approvals.answered("ann", "chat-2", call.name) is None
        assert await approvals.answered("bob", "chat-1", call.name) is None
        other = asyncio.ensure_future(approvals.ask("ann", "chat-2", call))
        await asyncio.sleep(0)
        assert not approvals.answer("ann", "allow", "chat-2", call_id="c0")  # a late click
        assert [q.chat for q in approvals.waiting("ann")] == ["chat-2"]  # another chat asks
        approvals.answer("ann", "deny")
        assert await other == "denied"

    asyncio.run(main())


def test_an_unanswered_question_times_out_as_a_denial():
    async def main() -> None:
        approvals = Approvals(timeout=0.05)
        assert await approvals.ask("ann", None, ToolCall("c1", "t", "{}")) == "timed out"
        assert approvals.waiting("ann") == []

    asyncio.run(main())


class OneCall:
    """An adapter whose model calls `tool` once, then answers with what it was told."""

    def __init__(self, tool: str) -> None:
        self.tool = tool
        self.requests: list[ModelRequest] = []

    async def stream(self, request):
        from assistant.domain.events import Finished, TextDelta, ToolCalls
        self.requests.append(request)
        if len(self.requests) == 1:
            yield ToolCalls((ToolCall("c1", self.tool, "{}"),))
            yield Finished("tool_calls")
        else:
            yield TextDelta("done")
            yield Finished("stop")


def test_with_nobody_to_ask_a_tool_that_asks_is_refused_and_never_runs():
    ran: list[str] = []

    async def run(arguments, scope):
        ran.append("ran")
        return "changed"

    toolbox = Toolbox()
    toolbox.add(Tool("change", "Changes things.", {"type": "object", "properties": {}}, run,
                     asks=True))

    async def main() -> list:
        adapter = OneCall("change")
        events = [e async for e in ToolRounds(toolbox).stream(
            adapter, ModelRequest(FAKE_MODEL, (), 0.0, 100, tools=toolbox.specs(["change"])),
            ToolScope())]
        return events

    events = asyncio.run(main())
    assert [e.state for e in events if isinstance(e, ToolApproval)] == ["denied"]
    [finished] = [e for e in events if isinstance(e, ToolFinished)]
    assert finished.result.failed and "refused" in finished.result.output
    assert ran == []


def test_the_operator_marks_tools_that_ask_or_never_do():
    [server] = parse_servers(json.dumps({"mcpServers": {"files": {
        "command": "x", "ask": ["read_secret"], "allow": ["write_log"]}}}))
    assert server.asks("read_secret", read_only=True)
    assert not server.asks("write_log", read_only=False)
    assert server.asks("delete", read_only=False) and not server.asks("list", read_only=True)
    [trusted] = parse_servers('{"mcpServers": {"t": {"command": "x", "allow": true}}}')
    assert not trusted.asks("delete", read_only=False)
    with pytest.raises(ValueError, match='"ask" must be true, false or a list of tool names'):
        parse_servers('{"mcpServers": {"t": {"command": "x", "ask": "all"}}}')


def test_the_page_asks_and_a_reload_while_paused_asks_again_and_resumes(page, notes_app, fake):
    fake.enqueue(Scenario(tool_calls=[DELETE]), Scenario(echo_tool_results=True),
                 Scenario(tool_calls=[DELETE]), Scenario(echo_tool_results=True))
    open_app(page, notes_app.url)
    send(page, "Delete my todo note")
    expect(page.get_by_text("✋ Allow")).to_be_visible(timeout=20_000)
    expect(page.get_by_role("button", name="Allow once")).to_be_visible()

    page.reload(wait_until="domcontentloaded")  # the reply waits on: the question comes back
    deny = page.get_by_role("button", name="Deny")
    expect(deny).to_be_visible(timeout=20_000)
    deny.click()
    expect(bot_message(page, "Tool results: Error: the user refused to allow it")).to_be_visible(
        timeout=20_000)
    expect(page.get_by_text("notes__delete_note (denied by you)")).to_be_visible()
    expect(page.get_by_role("button", name="Allow once")).to_have_count(0)
    assert notes_app.deleted.read_text() == ""

    send(page, "Delete it after all")
    allow = page.get_by_role("button", name="Allow once")
    expect(allow).to_be_visible(timeout=20_000)
    allow.click()
    expect(bot_message(page, "unless the user asks.; deleted todo")).to_be_visible(timeout=20_000)
    assert notes_app.deleted.read_text() == "todo\n"

    page.reload(wait_until="domcontentloaded")  # the answers are kept with the replies
    expect(page.get_by_text("notes__delete_note (allowed once by you)")).to_be_visible(
        timeout=20_000)
    expect(page.get_by_text("notes__delete_note (denied by you)")).to_be_visible()


def test_a_stored_reply_still_streaming_shows_its_question_and_a_finished_one_never():
    from assistant.domain.reply import Step
    from assistant.web.render import stored_reply

    waiting = Step("tool", name="notes__delete_note", call_id="c1", arguments='{"name": "x"}',
                   approval="pending", server="notes", seconds=1.0)
    shown = stored_reply("", [waiting], "streaming", None)  # followed from another replica
    assert question(shown)["options"][0] == {"value": "allow:c1", "label": "Allow once"}
    assert question(stored_reply("", [waiting], "stopped", None)) is None


def test_only_a_versions_notice_carries_links_the_page_switches_on():
    from assistant.web.render import notice

    forged = notice("Server says [click](#version-3)", notice_id="invalid")
    assert "#version-" not in forged["metadata"].get("title", "")
    assert "#version-3" in notice("[◀](#version-3)", notice_id="versions")["metadata"].get("title", "")
