"""MCP servers configured by the operator: started by the app, their tools beside the built-ins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from assistant.tools.mcp_client import Backoff, ServerStatus
from assistant.web.page import tools_status
from fakes.fake_openai import Scenario
from tests.conftest import FAKE_MODEL, model_posts, start_app

SERVER = Path(__file__).parent / "mcp_servers" / "calc_server.py"


def test_an_mcp_tool_is_offered_called_and_comes_back_after_its_server_crashes(fake, tmp_path):
    servers = {"mcpServers": {"calc": {"command": sys.executable, "args": [str(SERVER)]},
                              "broken": {"command": "/no/such/mcp-server"}}}
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps(servers))
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_MCP_SERVERS": str(config), "ASSISTANT_DATA_DIR": str(tmp_path)})
    mcp = app.app.mcp
    mcp.client.backoff = Backoff(first=600, longest=600)  # restarted only when asked, below
    toolbox = app.app.service.rounds.toolbox
    calc = ["calc__add", "calc__fail", "calc__crash", "calc__grow"]
    try:
        names = [t.name for t in toolbox.tools]
        assert names == ["calculator", "current_time", *calc, "search_documents"]
        page = httpx.get(app.url + "config", timeout=10).text
        assert "broken" in page and "could not start" in page  # reported on the page

        client = app.client()
        add = {"name": "calc__add", "arguments": '{"a": 2, "b": 40}'}
        fake.enqueue(Scenario(tool_calls=[add]), Scenario(echo_tool_results=True))
        _, final = app.chat(client, "Add them", tools=["calc__add"])
        assert "Tool results: 42" in final
        assert [t["function"]["name"] for t in model_posts(fake)[0].body["tools"]] == ["calc__add"]

        crash = {"name": "calc__crash", "arguments": "{}"}
        fake.enqueue(Scenario(tool_calls=[crash]), Scenario(echo_tool_results=True))
        _, crashed = app.chat(client, "Crash it", tools=["calc__crash"])
        assert any(isinstance(m, dict) and m["metadata"].get("title", "") == "🔧 calc__crash (failed)"
                   for m in crashed)
        mcp.until(lambda: "calc__add" not in {t.name for t in toolbox.tools}, 10)
        assert [t.name for t in mcp.unavailable()] == calc  # the sidebar marks them
        assert "🟡 MCP server **calc**: restarting in 600 s. The MCP server 'calc' stopped: it " \
               "closed the connection." in tools_status(mcp)
        fake.enqueue(Scenario(text="No tools now."))
        app.chat(client, "Add again", tools=["calc__add", "calculator"])
        assert [t["function"]["name"] for t in model_posts(fake)[-1].body["tools"]] == [
            "calculator"]  # a dead server's tools are not offered

        mcp.restart()  # the sidebar's Restart
        mcp.until(lambda: "calc__add" in {t.name for t in toolbox.tools}, 20)
        fake.enqueue(Scenario(tool_calls=[add]), Scenario(echo_tool_results=True))
        _, after = app.chat(client, "Add once more", tools=["calc__add"])
        assert "Tool results: 42" in after
        assert mcp.unavailable() == []
        assert "🟢 MCP server **calc**: running, 4 tools." in tools_status(mcp)
    finally:
        app.close()


def test_a_server_starting_again_still_says_why_it_went_down():
    class Servers:
        def statuses(self) -> list[ServerStatus]:
            return [ServerStatus("broken", "starting", "The MCP server 'broken' could not "
                                 "start: there is no /no/such/mcp-server."),
                    ServerStatus("calc", "starting")]
    lines = tools_status(Servers()).split("\n\n")  # type: ignore[arg-type]
    assert lines[0].startswith("⏳ MCP server **broken**: starting. The MCP server")
    assert "could not start" in lines[0]
    assert lines[1] == "⏳ MCP server **calc**: starting."
