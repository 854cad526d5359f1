"""Two app replicas behind HAProxy, sharing PostgreSQL: all real processes.

`python -m deploy.run --replicas 2` starts them; the browser reaches them only through
the balancer, and is moved from one replica to the other by its SERVERID cookie, the
way HAProxy moves it when a replica dies.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import psycopg
import pytest
from gradio_client import Client
from playwright.sync_api import Page, expect

from assistant.storage.postgres.store import PostgresStore
from fakes.fake_openai import FakeOpenAI, Scenario
from fakes.loopback import free_ports
from tests.browser import bot_message, bot_messages, open_app, send
from tests.conftest import FAKE_MODEL, model_posts

ROOT = Path(__file__).resolve().parent.parent
RATE = 20  # tokens a second, for the slow replies
MODEL_SERVER = "assistant.providers.local.server"  # the embedded model's command line


@dataclass
class Deployment:
    url: str
    process: subprocess.Popen[str]
    replicas: dict[str, int] = field(default_factory=dict)  # app1 -> pid
    output: list[str] = field(default_factory=list)

    def kill(self, name: str) -> None:
        os.kill(self.replicas[name], signal.SIGKILL)


@contextmanager
def deploy(env: dict[str, str], data_dir: Path) -> Iterator[Deployment]:
    """`python -m deploy.run --replicas 2`, until every replica and the balancer are up
    (the balancer on `port`, the replicas on the two after it)."""
    port = free_ports(3)
    process = subprocess.Popen(
        [sys.executable, "-m", "deploy.run", "--replicas", "2", "--port", str(port),
         "--data-dir", str(data_dir)], cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"},
        text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deployment = Deployment(f"http://127.0.0.1:{port}", process)
    assert process.stdout is not None
    for line in process.stdout:
        deployment.output.append(line)
        if found := re.match(r"replica (app\d) pid (\d+)", line):
            deployment.replicas[found[1]] = int(found[2])
        if line.startswith("balancer pid"):
            break
    assert deployment.replicas.keys() == {"app1", "app2"}, "".join(deployment.output[-30:])
    drain = threading.Thread(target=lambda: deployment.output.extend(process.stdout or ()),
                             daemon=True)
    drain.start()
    try:
        yield deployment
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def deployment(database_url: str, fake_server: FakeOpenAI, tmp_path: Path
               ) -> Iterator[Deployment]:
    env = {**os.environ, "ASSISTANT_DATABASE_URL": database_url, "OPENAI_BASE_URL":
           fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL}
    env.pop("OPENAI_API_KEY", None)
    with deploy(env, tmp_path) as deployment:
        yield deployment


def pin(page: Page, url: str, replica: str) -> None:
    """Sends this browser to `replica`, as HAProxy's SERVERID cookie does (one cookie: with
    two, say one HAProxy set on a path, a page's requests could reach both replicas)."""
    page.context.clear_cookies(name="SERVERID")
    page.context.add_cookies([{"name": "SERVERID", "value": replica, "url": url}])


def served_by(page: Page) -> str:
    return next(c["value"] for c in page.context.cookies() if c["name"] == "SERVERID")


def other(replica: str) -> str:
    return "app2" if replica == "app1" else "app1"


def replies(database_url: str) -> dict[str, Any]:
    """Each conversation's first reply, by the message that asked for it, whoever owns it."""
    with psycopg.connect(database_url) as raw:
        owned = raw.execute("SELECT owner, id FROM conversations").fetchall()
    with PostgresStore(database_url, replica="test-reader") as store:
        chats = [store.get_conversation(owner, cid) for owner, cid in owned]
    return {c.messages[0].content: c.messages[1:] for c in chats if c is not None}


def wait_for(condition: Callable[[], Any], timeout: float) -> Any:
    """Asks again until `condition()` is true or `timeout` passes (another process decides it)."""
    deadline = time.monotonic() + timeout
    while not (result := condition()) and time.monotonic() < deadline:
        threading.Event().wait(0.2)
    return result


def test_a_chat_streams_through_the_balancer_and_continues_on_the_other_replica(
        page, deployment, fake, database_url):
    fake.enqueue(Scenario(n_tokens=30, rate=100))
    open_app(page, deployment.url)
    first = served_by(page)
    send(page, "Hello through the balancer")
    expect(bot_message(page, "w29")).to_be_visible(timeout=20_000)

    pin(page, deployment.url, other(first))
    open_app(page, deployment.url)
    assert served_by(page) == other(first)
    chats = page.locator("#conversation-list .chat-open")
    expect(chats).to_have_count(1, timeout=20_000)  # listed by the other process, from PostgreSQL
    chats.first.click()
    expect(bot_message(page, "w29")).to_be_visible()
    fake.enqueue(Scenario(text="Continued elsewhere."))
    send(page, "And now?")
    expect(bot_message(page, "Continued elsewhere.")).to_be_visible(timeout=20_000)
    assert "w29" in str(model_posts(fake)[-1].body["messages"])  # the history came along
    [(question, answers)] = replies(database_url).items()
    assert question == "Hello through the balancer"
    assert [m.content for m in answers][-1] == "Continued elsewhere."



def start_on(page: Page, url: str, replica: str, fake: Any, n_tokens: int, message: str) -> None:
    """A reply of w0 … w{n-1} at 20 words a second, started on `replica` and seen starting."""
    fake.enqueue(Scenario(n_tokens=n_tokens, rate=RATE))
    pin(page, url, replica)
    if not bot_messages(page).count():  # else the chat it shows goes on, as it is
        open_app(page, url)
    replies = bot_messages(page).count()
    send(page, message)
    expect(bot_messages(page)).to_have_count(replies + 1, timeout=20_000)
    expect(bot_messages(page).last).to_contain_text("w3", timeout=20_000)
    page.wait_for_function("() => localStorage.getItem('assistant-owner') !== null")


def every_word_once(page: Page, n_tokens: int) -> None:
    expect(bot_message(page, f"w{n_tokens - 1}")).to_be_visible(timeout=30_000)
    reply = bot_message(page, f"w{n_tokens - 1}")  # not its stats line, once it has ended
    words = [w for w in reply.inner_text().split() if w.startswith("w")]
    assert words == [f"w{i}" for i in range(n_tokens)]


def test_a_reload_that_lands_on_the_other_replica_follows_the_reply_and_stop_there_stops_it(
        page, deployment, fake):
    start_on(page, deployment.url, "app1", fake, 80, "Count across replicas")
    pin(page, deployment.url, "app2")
    page.reload(wait_until="domcontentloaded")
    expect(page.locator("button.stop-button")).to_be_visible(timeout=20_000)  # still running
    every_word_once(page, 80)
    assert served_by(page) == "app2" and fake.disconnects == 0
    expect(page.get_by_text("Reply incomplete")).to_have_count(0)
    expect(page.locator("button.stop-button")).to_be_hidden(timeout=10_000)

    open_app(page, deployment.url)  # the chat comes back before the next message is sent
    expect(bot_message(page, "w79")).to_be_visible(timeout=20_000)
    start_on(page, deployment.url, "app2", fake, 600, "Count until stopped elsewhere")
    pin(page, deployment.url, "app1")
    page.reload(wait_until="domcontentloaded")
    expect(page.locator("button.stop-button")).to_be_visible(timeout=20_000)
    text = bot_messages(page).last.inner_text()
    expect(bot_messages(page).last).not_to_have_text(text, timeout=10_000)  # live on app1
    page.locator("button.stop-button").click()
    assert fake.wait_for_disconnect(timeout=5)  # app2 stopped the model's stream
    expect(page.locator("button.stop-button")).to_be_hidden(timeout=10_000)
    assert served_by(page) == "app1"


def test_a_tool_s_question_is_answered_from_a_page_on_the_other_replica(
        page, database_url, fake_server, tmp_path):
    fake = fake_server
    deleted = tmp_path / "deleted.txt"
    deleted.touch()
    notes = Path(__file__).parent / "mcp_servers" / "notes_server.py"
    servers = {"mcpServers": {"notes": {"command": sys.executable, "args": [str(notes)],
                                        "env": {"NOTES_DELETED": str(deleted)}}}}
    env = {**os.environ, "ASSISTANT_DATABASE_URL": database_url, "OPENAI_BASE_URL":
           fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
           "ASSISTANT_MCP_SERVERS": json.dumps(servers)}
    env.pop("OPENAI_API_KEY", None)
    with deploy(env, tmp_path) as deployment:
        fake.enqueue(Scenario(tool_calls=[{"name": "notes__delete_note",
                                           "arguments": '{"name": "todo"}'}]),
                     Scenario(echo_tool_results=True))
        pin(page, deployment.url, "app1")
        open_app(page, deployment.url)
        send(page, "Delete my todo note")
        expect(page.get_by_role("button", name="Allow once")).to_be_visible(timeout=20_000)
        page.wait_for_function("() => localStorage.getItem('assistant-owner') !== null")

        pin(page, deployment.url, "app2")
        page.reload(wait_until="domcontentloaded")
        allow = page.get_by_role("button", name="Allow once")
        expect(allow).to_be_visible(timeout=20_000)  # asked again, by the page on app2
        allow.click()
        expect(bot_message(page, "Tool results: deleted todo")).to_be_visible(timeout=20_000)
        assert deleted.read_text() == "todo\n"  # run by app1, where the reply runs
        assert served_by(page) == "app2"


def test_a_page_following_a_reply_of_a_replica_that_dies_says_so(page, deployment, fake):
    start_on(page, deployment.url, "app1", fake, 400, "Count, then lose the replica")
    pin(page, deployment.url, "app2")
    page.reload(wait_until="domcontentloaded")
    expect(bot_messages(page).last).to_contain_text("w20", timeout=20_000)  # followed on app2
    deployment.kill("app1")
    expect(page.get_by_text("stopped while this reply was being written")).to_be_visible(
        timeout=20_000)  # app2's heartbeat marked it, and the page following it shows that
    expect(page.locator("button.stop-button")).to_be_hidden(timeout=10_000)


def test_a_replica_killed_mid_reply_loses_at_most_2_s_and_the_other_serves_on(
        browser, deployment, fake, database_url):
    fake.default = Scenario(n_tokens=200, rate=RATE)
    doomed, survivor = browser.new_context().new_page(), browser.new_context().new_page()
    pin(doomed, deployment.url, "app1")
    pin(survivor, deployment.url, "app2")
    try:
        open_app(doomed, deployment.url)
        open_app(survivor, deployment.url)
        send(survivor, "Count on app2")
        send(doomed, "Count on app1")
        expect(bot_message(doomed, "w70")).to_be_visible(timeout=20_000)  # 3.5 s in
        deployment.kill("app1")
        seen = len(bot_message(doomed, "w70").inner_text().split())

        expect(bot_message(survivor, "w199")).to_be_visible(timeout=30_000)
        wait_for(lambda: replies(database_url)["Count on app2"][0].status == "complete", 10)
        live = replies(database_url)["Count on app2"][0]
        assert (live.status, live.content.split()[-1]) == ("complete", "w199")

        # app2's heartbeat marks app1's reply once app1's heartbeat is 3 s old
        assert wait_for(lambda: replies(database_url)["Count on app1"][0].status == "failed", 15)
        cut = replies(database_url)["Count on app1"][0]
        assert "stopped while this reply" in (cut.reason or "")
        lost_seconds = (seen - len(cut.content.split())) / RATE
        print(f"replica kill: saw {seen} tokens, saved {len(cut.content.split())}, "
              f"lost {lost_seconds:.2f} s")
        assert len(cut.content.split()) > 0 and lost_seconds <= 2.0 + 0.5

        fake.default = Scenario(text="Still here.")
        open_app(doomed, deployment.url)  # app1 is down: HAProxy sends it to app2
        send(doomed, "Anyone there?")
        expect(bot_message(doomed, "Still here.")).to_be_visible(timeout=20_000)
        assert served_by(doomed) == "app2"
        assert httpx.get(deployment.url + "/healthz").text == "ok\n"
    finally:
        fake.default = Scenario()
        doomed.context.close()
        survivor.context.close()


def environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().partition("=")[::2] for item in raw if b"=" in item)


def children(pid: int) -> list[str]:
    """The command lines of a process's children (by their parent id: /proc/PID/task/*/children
    is only reliable while the children are stopped)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            stat = (proc / "stat").read_text()
            if proc.name.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue  # not a process, or it just ended
    return found


def test_with_the_embedded_model_the_replicas_share_one_model_server(database_url, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    with deploy({**env, "ASSISTANT_DATABASE_URL": database_url}, tmp_path) as deployment:
        [announced] = [line for line in deployment.output if line.startswith("model server on")]
        model_url = announced.split()[-1]
        servers = [c for c in children(deployment.process.pid) if MODEL_SERVER in c]
        assert len(servers) == 1, children(deployment.process.pid)
        for pid in deployment.replicas.values():
            assert environ(pid)["OPENAI_BASE_URL"] == model_url
            assert not [c for c in children(pid) if MODEL_SERVER in c]  # none of its own

        client = Client(deployment.url, verbose=False, httpx_kwargs={"timeout": 120})
        reply = client.predict("Say hello.", api_name="/chat")
        assert str(reply).strip()
