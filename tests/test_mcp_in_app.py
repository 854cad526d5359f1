"""MCP servers configured by the operator: started by the app, their tools beside the built-ins."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx

from fakes.fake_openai import Scenario
from tests.conftest import FAKE_MODEL, model_posts, start_app

SERVER = Path(__file__).parent / "mcp_servers" / "calc_server.py"


def test_an_mcp_tool_is_offered_called_and_survives_its_server_crashing(fake, tmp_path):
    servers = {"mcpServers": {"calc": {"command": sys.executable, "args": [str(SERVER)]},
                              "broken": {"command": "/no/such/mcp-server"}}}
    config = tmp_path / "mcp.json"
    config.write_text(json.dumps(servers))
    app = start_app({"OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_MCP_SERVERS": str(config), "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        names = [t.name for t in app.app.service.rounds.toolbox.tools]
        assert names == ["calculator", "current_time", "calc__add", "calc__fail", "calc__crash",
                         "search_documents"]
        page = httpx.get(app.url + "config", timeout=10).text
        assert "broken" in page and "could not start" in page  # reported on the page

        client = app.client()
        add = {"name": "calc__add", "arguments": '{"a": 2, "b": 40}'}
        fake.enqueue(Scenario(tool_calls=[add]), Scenario(echo_tool_results=True))
        _, final = app.chat(client, "Add them", tools=["calc__add"])
        assert "Tool results: 42" in final
        assert [t["function"]["name"] for t in model_posts(fake)[0].body["tools"]] == ["calc__add"]

        crash = {"name": "calc__crash", "arguments": "{}"}
        fake.enqueue(Scenario(tool_calls=[crash]), Scenario(echo_tool_results=True),
                     Scenario(tool_calls=[add]), Scenario(echo_tool_results=True))
        app.chat(client, "Crash it", tools=["calc__crash"])
        _, after = app.chat(client, "Add again", tools=["calc__add"])
        text = "".join(m for m in after if isinstance(m, str))
        assert text.endswith("Error: The MCP server 'calc' is not running.")
        assert any(isinstance(m, dict) and m["metadata"]["title"] == "🔧 calc__add (failed)"
                   for m in after)
        assert "calc" in app.app.mcp.problems
    finally:
        app.close()
