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
from assistant.tools.mcp_client import Backoff, McpTools
from assistant.tools.mcp_config import ServerConfig, load_servers, parse_servers

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


SLOW = Backoff(first=600, longest=600)  # a server that dies is not started again during the test
QUICK = Backoff(first=0.05, longest=0.2, ping_every=0.2)


async def started(servers: list[ServerConfig], timeout: float = 20,
                  backoff: Backoff = SLOW) -> McpTools:
    tools = McpTools(servers, timeout=timeout, backoff=backoff)
    await tools.start()
    return tools


def test_stdio_server_tools_are_listed_and_called_from_other_tasks() -> None:
    async def main() -> None:
        tools = await asyncio.create_task(started(config(calc=CALC)))  # start in a task of its own
        try:
            assert tools.problems == {}
            by_name = {tool.name: tool for tool in tools.tools}
            assert set(by_name) == {"calc__add", "calc__fail", "calc__crash", "calc__grow"}
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
        "The MCP server 'ghost' could not start: its command 'no-such-mcp-server-command' was "
        "not found. Trying again in 600 s."]
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


def test_a_server_that_dies_steps_aside_and_comes_back_with_its_tools(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    gone = "The MCP server 'calc' is not running."
    changes: list[list[str]] = []

    async def main() -> None:
        tools = McpTools(config(calc=CALC), timeout=20, backoff=Backoff(first=600, longest=600, ping_every=0.2),
                         on_change=lambda: changes.append([t.name for t in tools.tools]))
        await tools.start()
        try:
            with pytest.raises(ToolError, match=gone):
                await asyncio.wait_for(tools.call("calc__crash", {}), 10)
            await tools.until(lambda: tools.statuses()[0].state == "restarting", 10)
            assert tools.tools == []  # no longer offered
            with pytest.raises(ToolError) as raised:  # at once, not after the 20 s timeout
                await asyncio.wait_for(tools.call("calc__add", {"a": 2, "b": 3}), 5)
            assert str(raised.value) == gone
            status = tools.statuses()[0]
            assert status.retry_in is not None and 590 < status.retry_in <= 600
            assert tools.problems == {"calc": "The MCP server 'calc' stopped: it closed the "
                                              "connection."}

            await tools.restart()  # as the sidebar's Restart does, without waiting
            await tools.until(lambda: tools.statuses()[0].state == "running", 20)
            assert await tools.call("calc__add", {"a": 2, "b": 3}) == "5"
            assert tools.problems == {}
        finally:
            await tools.close()

    asyncio.run(main())
    offered = [names for i, names in enumerate(changes) if i == 0 or names != changes[i - 1]]
    every = ["calc__add", "calc__fail", "calc__crash", "calc__grow"]
    assert offered == [every, [], every, []]  # up, dead, back, closed
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["The MCP server 'calc' stopped: it closed the connection. "
                        "Trying again in 600 s."]


def test_a_dead_server_is_started_again_with_backoff_by_itself() -> None:
    async def main() -> None:
        tools = await started(config(calc=CALC), backoff=QUICK)
        try:
            with pytest.raises(ToolError):
                await asyncio.wait_for(tools.call("calc__crash", {}), 10)
            await tools.until(lambda: tools.statuses()[0].state != "running", 10)
            await tools.until(lambda: tools.statuses()[0].state == "running", 20)
            assert await tools.call("calc__add", {"a": 1, "b": 1}) == "2"
        finally:
            await tools.close()

    asyncio.run(main())


def test_a_server_that_dies_at_once_is_left_stopped_after_its_tries_until_restart() -> None:
    dies = {"command": sys.executable,
            "args": ["-c", "import sys; sys.stderr.write('bad licence key\\n'); sys.exit(3)"]}

    async def main() -> None:
        tools = await started(config(dies=dies), backoff=QUICK)
        try:
            await tools.until(lambda: tools.statuses()[0].state == "stopped", 20)
            status = tools.statuses()[0]
            assert status.problem == (
                "The MCP server 'dies' could not start: it closed the connection before "
                "answering (it said: bad licence key). It was left stopped after 5 tries in a row.")
            assert status.retry_in is None and tools.tools == []

            await tools.restart()
            await tools.until(lambda: tools.statuses()[0].state != "stopped", 10)
            await tools.until(lambda: tools.statuses()[0].state == "stopped", 20)  # 5 more tries
        finally:
            await tools.close()

    asyncio.run(main())


def test_tools_a_server_adds_are_offered_when_it_says_its_list_changed() -> None:
    async def main() -> None:
        tools = await started(config(calc=CALC))
        try:
            assert "calc__double" not in {t.name for t in tools.tools}
            assert await tools.call("calc__grow", {}) == "grown"
            await tools.until(lambda: "calc__double" in {t.name for t in tools.tools}, 10)
            assert await tools.call("calc__double", {"n": 21}) == "42"
        finally:
            await tools.close()

    asyncio.run(main())


def test_tool_names_never_collide_across_servers() -> None:
    long = "s" * 70

    async def main() -> None:
        tools = await started(config(**{"a.b": CALC, "a_b": CALC, long: CALC}))
        try:
            assert tools.problems == {}
            adds = [tool for tool in tools.tools if tool.tool == "add"]
            assert [(tool.server, tool.name) for tool in adds] == [
                ("a.b", "a_b__add"), ("a_b", "a_b__add_2"), (long, "s" * 64)]
            assert len({tool.name for tool in tools.tools}) == 12
            named = [tool.name for tool in tools.tools if tool.server == long]
            assert named == ["s" * 64, "s" * 62 + "_2", "s" * 62 + "_3", "s" * 62 + "_4"]
            for tool in adds:
                assert await tools.call(tool.name, {"a": 2, "b": 3}) == "5"
        finally:
            await tools.close()

    asyncio.run(main())


def http_server(port: int = 0) -> tuple[subprocess.Popen[str], int]:
    """tests/mcp_servers/http_server.py, once it listens: the process and its port."""
    process = subprocess.Popen([sys.executable, str(SERVERS / "http_server.py"), str(port)],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], 30)
    line = process.stdout.readline() if ready else ""
    assert line.startswith("ready "), f"the HTTP server did not start: {line!r}"
    return process, int(line.split()[1])


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    process.wait(10)
    process.stdout.close()  # type: ignore[union-attr]


def test_streamable_http_server_through_url() -> None:
    process, port = http_server()
    try:
        url = f"http://127.0.0.1:{port}/mcp"

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
        stop(process)


def test_a_streamable_http_server_that_goes_away_is_reconnected_when_it_is_back() -> None:
    process, port = http_server()
    url = f"http://127.0.0.1:{port}/mcp"

    async def main() -> None:
        nonlocal process
        # Five tries pass long before it is back: nothing answering is no reason to give up.
        tools = await started(config(web={"url": url}), backoff=QUICK)
        try:
            stop(process)
            await tools.until(lambda: tools.statuses()[0].state != "running", 10)
            assert tools.tools == []
            await tools.until(lambda: tools._servers["web"].failures > QUICK.tries, 10)
            assert tools.statuses()[0].state != "stopped"
            process, _ = await asyncio.to_thread(http_server, port)
            await tools.until(lambda: tools.statuses()[0].state == "running", 20)
            assert await tools.call("web__add", {"a": 2, "b": 3}) == "5"
        finally:
            await tools.close()

    try:
        asyncio.run(main())
    finally:
        stop(process)


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
