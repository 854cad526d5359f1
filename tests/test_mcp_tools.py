"""MCP tools against real server processes of our own (tests/mcp_servers): no mocks."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.tools.errors import ToolError
from assistant.tools.mcp_client import McpTools, ServerConfig, load_servers, parse_servers

SERVERS = Path(__file__).parent / "mcp_servers"
CALC = {"command": sys.executable, "args": [str(SERVERS / "calc_server.py")]}
LOGGER = "assistant.tools.mcp_client"


def config(**servers: dict[str, Any]) -> list[ServerConfig]:
    return parse_servers(json.dumps({"mcpServers": servers}))


def running_children() -> set[int]:
    """This process's child processes that have not exited (Linux: read from /proc)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            if int(ppid) == os.getpid() and state != "Z":
                found.add(int(entry.name))
    return found


@pytest.fixture(autouse=True)
def no_leftover_processes() -> Iterator[None]:
    """close() returns once its servers have exited, so none may be running after a test."""
    if not Path("/proc/self/stat").exists():
        yield
        return
    before = running_children()
    yield
    assert not running_children() - before, "a test left server processes running"


async def started(servers: list[ServerConfig], timeout: float = 20) -> McpTools:
    tools = McpTools(servers, timeout=timeout)
    await tools.start()
    return tools


def test_stdio_server_tools_are_listed_and_called_from_other_tasks() -> None:
    async def main() -> None:
        tools = await asyncio.create_task(started(config(calc=CALC)))  # start in a task of its own
        try:
            assert tools.problems == {}
            by_name = {tool.name: tool for tool in tools.tools}
            assert set(by_name) == {"calc__add", "calc__fail", "calc__crash"}
            add = by_name["calc__add"]
            assert (add.server, add.tool, add.description) == ("calc", "add", "Adds two integers.")
            assert add.parameters["type"] == "object"
            assert add.parameters["required"] == ["a", "b"]
            assert {name: p["type"] for name, p in add.parameters["properties"].items()} == \
                {"a": "integer", "b": "integer"}

            results = await asyncio.gather(*(asyncio.create_task(tools.call("calc__add", {"a": a, "b": 3}))
                                             for a in range(5)))
            assert results == ["3", "4", "5", "6", "7"]
            with pytest.raises(ToolError, match="the calculator refuses"):
                await tools.call("calc__fail", {})
            with pytest.raises(ToolError, match="no MCP tool named 'calc__nope'"):
                await tools.call("calc__nope", {})
            assert await tools.call("calc__add", {"a": 2, "b": 3}) == "5"  # still fine after the errors
        finally:
            await asyncio.create_task(tools.close())  # and close in another

    asyncio.run(main())


def test_a_server_that_cannot_start_is_reported_and_the_others_work(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)

    async def main() -> None:
        tools = await started(config(ghost={"command": "no-such-mcp-server-command"}, calc=CALC))
        try:
            assert tools.problems == {"ghost": "The MCP server 'ghost' could not start: its command "
                                               "'no-such-mcp-server-command' was not found."}
            assert {tool.server for tool in tools.tools} == {"calc"}
            assert await tools.call("calc__add", {"a": 2, "b": 3}) == "5"
        finally:
            await tools.close()

    asyncio.run(main())
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [
        "The MCP server 'ghost' could not start: its command 'no-such-mcp-server-command' was not found."]
    assert warnings[0].exc_info is None


def test_a_server_that_never_answers_times_out() -> None:
    silent = {"command": sys.executable, "args": ["-c", "import sys; sys.stdin.read()"]}

    async def main() -> None:
        begun = time.monotonic()
        tools = await started(config(silent=silent, calc=CALC), timeout=3)
        try:
            assert tools.problems == {"silent": "The MCP server 'silent' could not start: "
                                                "it did not answer within 3 s."}
            assert time.monotonic() - begun < 3 + 5  # the timeout, then a prompt shutdown
            assert await tools.call("calc__add", {"a": 2, "b": 3}) == "5"
        finally:
            await tools.close()

    asyncio.run(main())


def test_a_server_that_dies_fails_fast_and_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    gone = "The MCP server 'calc' is not running."

    async def main() -> None:
        tools = await started(config(calc=CALC))
        try:
            with pytest.raises(ToolError, match=gone):
                await asyncio.wait_for(tools.call("calc__crash", {}), 10)
            for _ in range(3):
                begun = time.monotonic()
                with pytest.raises(ToolError) as raised:
                    await asyncio.wait_for(tools.call("calc__add", {"a": 2, "b": 3}), 10)
                assert str(raised.value) == gone
                assert time.monotonic() - begun < 1
            assert tools.problems == {"calc": gone}
        finally:
            await tools.close()

    asyncio.run(main())
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [gone]


def test_tool_names_never_collide_across_servers() -> None:
    long = "s" * 70

    async def main() -> None:
        tools = await started(config(**{"a.b": CALC, "a_b": CALC, long: CALC}))
        try:
            assert tools.problems == {}
            adds = [tool for tool in tools.tools if tool.tool == "add"]
            assert [(tool.server, tool.name) for tool in adds] == [
                ("a.b", "a_b__add"), ("a_b", "a_b__add_2"), (long, "s" * 64)]
            assert len({tool.name for tool in tools.tools}) == 9
            crashes = [tool.name for tool in tools.tools if tool.server == long]
            assert crashes == ["s" * 64, "s" * 62 + "_2", "s" * 62 + "_3"]
            for tool in adds:
                assert await tools.call(tool.name, {"a": 2, "b": 3}) == "5"
        finally:
            await tools.close()

    asyncio.run(main())


def test_streamable_http_server_through_url() -> None:
    process = subprocess.Popen([sys.executable, str(SERVERS / "http_server.py"), "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        line = process.stdout.readline() if ready else ""
        assert line.startswith("ready "), f"the HTTP server did not start: {line!r}"
        url = f"http://127.0.0.1:{int(line.split()[1])}/mcp"

        async def main() -> None:
            tools = await started(config(web={"url": url, "headers": {"X-Test": "yes"}}))
            try:
                assert tools.problems == {}
                assert [tool.name for tool in tools.tools] == ["web__add"]
                assert await tools.call("web__add", {"a": 2, "b": 3}) == "5"
            finally:
                await tools.close()

        asyncio.run(main())
    finally:
        process.terminate()
        process.wait(10)
        process.stdout.close()  # type: ignore[union-attr]


def test_an_unreachable_url_is_reported() -> None:
    async def main() -> None:
        tools = await started(config(web={"url": "http://127.0.0.1:9/mcp"}), timeout=5)
        try:
            assert tools.problems == {"web": "The MCP server 'web' could not start: "
                                             "nothing answers at http://127.0.0.1:9/mcp."}
            assert tools.tools == []
        finally:
            await tools.close()

    asyncio.run(main())


def test_parse_servers_reads_both_kinds() -> None:
    servers = config(calc={**CALC, "env": {"A": "1"}}, web={"url": "https://host/mcp", "headers": {"H": "v"}})
    assert servers == [
        ServerConfig("calc", sys.executable, (str(SERVERS / "calc_server.py"),), {"A": "1"}),
        ServerConfig("web", url="https://host/mcp", headers={"H": "v"}),
    ]


@pytest.mark.parametrize(("text", "message"), [
    ("{", "The MCP server config is not valid JSON"),
    ("[]", 'The MCP server config must be an object with an "mcpServers" object.'),
    ('{"servers": {}}', 'The MCP server config must be an object with an "mcpServers" object.'),
    ('{"mcpServers": {"x": "python"}}', "The MCP server 'x' must be an object."),
    ('{"mcpServers": {"x": {}}}', """The MCP server 'x' needs either a "command" or a "url", not both"""),
    ('{"mcpServers": {"x": {"command": "a", "url": "http://h"}}}', "The MCP server 'x' needs either"),
    ('{"mcpServers": {"x": {"command": ""}}}', """The MCP server 'x' has a "command" that is not"""),
    ('{"mcpServers": {"x": {"command": "a", "args": "b"}}}', """'x' has "args" that are not a list of strings."""),
    ('{"mcpServers": {"x": {"command": "a", "args": [1]}}}', """'x' has "args" that are not a list of strings."""),
    ('{"mcpServers": {"x": {"command": "a", "env": {"A": 1}}}}', """'x''s "env" must be an object of strings."""),
    ('{"mcpServers": {"x": {"url": "ftp://h"}}}', """'x' has a "url" that is not an http:// or https://"""),
    ('{"mcpServers": {"x": {"url": "http://h", "headers": []}}}', """'x''s "headers" must be an object"""),
    ('{"mcpServers": {" ": {"command": "a"}}}', "An MCP server has an empty name."),
])
def test_parse_servers_refuses_bad_configs(text: str, message: str) -> None:
    with pytest.raises(ValueError) as raised:
        parse_servers(text)
    assert message in str(raised.value)
    assert str(raised.value).endswith(".")


def test_load_servers_takes_a_file_or_the_json(tmp_path: Path) -> None:
    text = json.dumps({"mcpServers": {"calc": CALC}})
    assert load_servers(None) == load_servers("") == load_servers("  ") == []
    assert load_servers(text) == parse_servers(text)
    (tmp_path / "mcp.json").write_text(text, encoding="utf-8")
    assert load_servers(str(tmp_path / "mcp.json")) == parse_servers(text)
    with pytest.raises(ValueError, match="cannot be read"):
        load_servers(str(tmp_path / "missing.json"))
