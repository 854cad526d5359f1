"""Fixtures: our fake OpenAI server, and the real app launched in-process against it."""

from __future__ import annotations

import logging
import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import openai
import pytest
from gradio_client import Client
from playwright.sync_api import sync_playwright

from assistant.app.logs import NOISY_LOGGERS, SERVER_LOGGERS
from assistant.app.server import App, create_app, launch, run
from assistant.app.settings import load_settings
from assistant.storage.opening import open_store
from assistant.storage.repository import Store
from assistant.web.render import STATS_NOTICE_ID
from fakes.fake_openai import FakeOpenAI
from fakes.loopback import free_port
from tests.browser import launch_chromium

FAKE_MODEL = "fake-model"
APIS = ("chat_completions", "responses")
# /chat's inputs after the message, up to the API: model, temperature, system prompt,
# history turns, max tokens, memory.
CHAT_INPUTS = (FAKE_MODEL, 0.7, "", 10, 1024, False)


@dataclass
class RunningApp:
    app: App
    url: str
    clients: list[Client] = field(default_factory=list)
    api: str | None = None  # the protocol `chat` asks for when not told

    def client(self, **kwargs: Any) -> Client:
        """A new browser-like session: its own /chat history."""
        client = Client(self.url, verbose=False, **kwargs)
        self.clients.append(client)
        return client

    def chat(self, client: Client, message: str | None, *inputs: Any, api: str | None = None,
             tools: list[str] | None = None, endpoint: str = "/chat") -> tuple[list[Any], Any]:
        """Sends one message through /chat; returns every streamed update and the final one,
        without its stats line (test_reply_stats_* look at that). `api` picks the protocol,
        `tools` the tools on (default: the page's). With `endpoint` /continue_reply or
        /regenerate_reply, `message` is None: those act on the last reply."""
        api = api if api is not None else self.api
        if api is not None or tools is not None:
            inputs = (*inputs, *CHAT_INPUTS[len(inputs):], api or "chat_completions")
        if tools is not None:
            inputs = (*inputs, tools)
        job = client.submit(*(() if message is None else (message,)), *inputs, api_name=endpoint)
        updates = list(job)
        return [without_stats(u) for u in updates], without_stats(job.result())

    def close(self) -> None:
        # Each close waits up to 1 s for its heartbeat thread: all at once, not one by one.
        with ThreadPoolExecutor(max_workers=32) as pool:
            list(pool.map(Client.close, self.clients))
        self.app.close()


def is_stats(message: Any) -> bool:
    return isinstance(message, dict) and \
        (message.get("metadata") or {}).get("id") == STATS_NOTICE_ID


def without_stats(value: Any) -> Any:
    """A /chat value without the stats line under a complete reply."""
    if isinstance(value, list) and any(is_stats(m) for m in value):
        kept = [m for m in value if not is_stats(m)]
        return kept[0] if len(kept) == 1 else kept
    return value


class Clock:
    """A clock a test moves by hand, for time windows (limits, retention)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def start_app(env: dict[str, str], clock: Callable[[], float] | None = None,
              **launch_options: Any) -> RunningApp:
    """`clock`: the time per-user limits count in, for tests that move it."""
    port = free_port()
    settings = load_settings([], environ={"ASSISTANT_PORT": str(port), **env})
    app = create_app(settings, clock) if clock is not None else create_app(settings)
    launch(app, prevent_thread_lock=True, quiet=True, **launch_options)
    return RunningApp(app, f"http://127.0.0.1:{port}/")


def app_on_fake(data_dir: str) -> Any:
    """A module's own app over the shared fake server, with a data folder of its own."""
    @pytest.fixture(scope="module")
    def fake_app(fake_server: FakeOpenAI, tmp_path_factory: Any) -> Iterator[RunningApp]:
        app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                         "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp(data_dir))})
        yield app
        app.close()
    return fake_app


@contextmanager
def logging_kept() -> Iterator[None]:
    """The app's logging setup undone after: the test runner's root handlers, and the
    loggers the app quiets or adopts, as they were."""
    loggers = [logging.getLogger(name) for name in ("", *NOISY_LOGGERS, *SERVER_LOGGERS)]
    kept = [(lg.handlers[:], lg.level, lg.propagate) for lg in loggers]
    try:
        yield
    finally:
        for lg, (handlers, level, propagate) in zip(loggers, kept):
            lg.handlers[:], lg.level, lg.propagate = handlers, level, propagate


def run_in_process(argv: list[str]) -> int:
    """`python app.py ARGV` in this process, with logging_kept: later tests' threads never
    write to this test's closed stderr."""
    with logging_kept():
        return run(argv)


@pytest.fixture(scope="session")
def fake_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        fake.models = [FAKE_MODEL, "other-model"]
        yield fake


@pytest.fixture
def fake(fake_server: FakeOpenAI) -> FakeOpenAI:
    """The shared fake server, emptied of earlier tests' scenarios and requests."""
    fake_server.reset()
    return fake_server


@pytest.fixture(scope="session")
def running_app(fake_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApp]:
    """The app against the fake server, with short timeouts and quick retries."""
    app = start_app({
        "OPENAI_BASE_URL": fake_server.base_url,
        "ASSISTANT_MODEL": FAKE_MODEL,
        "ASSISTANT_READ_TIMEOUT": "1",
        "ASSISTANT_RETRY_BUDGET": "3",
        "ASSISTANT_CONTEXT_WINDOW": "128000",
        "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("data")),
    })
    yield app
    app.close()


@pytest.fixture
def app(running_app: RunningApp, fake: FakeOpenAI) -> RunningApp:
    return running_app


def model_posts(fake: FakeOpenAI) -> list[Any]:
    """The requests that reached a model endpoint, on either protocol."""
    return [r for r in fake.requests if r.path.endswith(("/chat/completions", "/responses"))]


def raw_chat(url: str, data: list[Any], timeout: float = 30) -> list[dict[str, Any]]:
    """One /chat call over Gradio's queue protocol, as a browser sends it (JSON, ASCII-escaped).

    Returns the queue's messages; lets a test send what gradio_client cannot encode.
    """
    import json
    import uuid

    import httpx

    with httpx.Client(base_url=url, timeout=timeout) as http:
        config = http.get("config").json()
        fn_index = next(d["id"] for d in config["dependencies"] if d.get("api_name") == "chat")
        session = uuid.uuid4().hex
        body = json.dumps({"data": data, "fn_index": fn_index, "session_hash": session})
        http.post("gradio_api/queue/join", content=body,
                  headers={"content-type": "application/json"}).raise_for_status()
        messages = []
        with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    messages.append(json.loads(line[5:]))
                    if messages[-1].get("msg") == "process_completed":
                        break
        return messages


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless (tests/browser.py); one per test module."""
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


# PostgreSQL: .ci/run starts a throwaway cluster and names it in ASSISTANT_TEST_DATABASE_URL.
TEST_DATABASE_URL = os.environ.get("ASSISTANT_TEST_DATABASE_URL")


@pytest.fixture
def database_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped after it."""
    if not TEST_DATABASE_URL:
        if os.environ.get("CI"):
            raise RuntimeError("ASSISTANT_TEST_DATABASE_URL is not set: .ci/run starts PostgreSQL")
        pytest.skip("no PostgreSQL for the tests (set ASSISTANT_TEST_DATABASE_URL)")
    import psycopg
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield TEST_DATABASE_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(TEST_DATABASE_URL, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


@dataclass
class StoreLocation:
    """Where a test's store lives: a PostgreSQL URL, or else the SQLite file in `data_dir`."""
    url: str | None
    data_dir: Path

    def open(self, replica: str = "test-replica") -> Store:
        return open_store(self.url, self.data_dir, replica)


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> StoreLocation:
    """Each database the app supports: one suite for both."""
    url = request.getfixturevalue("database_url") if request.param == "postgres" else None
    return StoreLocation(url, tmp_path)


@pytest.fixture
def any_store(store_location: StoreLocation) -> Iterator[Store]:
    store = store_location.open()
    yield store
    store.close()


# The OpenAI-compatible API (tests/test_api*.py): an app with sign-in, so every request needs a key.
@pytest.fixture(scope="module")
def api_app(fake_server: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[RunningApp]:
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw,cy:cy-pw",
                     "ASSISTANT_RETRY_BUDGET": "1",
                     "ASSISTANT_READ_TIMEOUT": "2",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("api"))})
    yield app
    app.close()


@pytest.fixture(scope="module")
def keys(api_app: RunningApp) -> dict[str, str]:
    return {name: api_app.app.api_keys.create(f"user:{name}", "tests")[0]
            for name in ("ann", "bob")}


@pytest.fixture
def ann(api_app: RunningApp, keys: dict[str, str], fake: FakeOpenAI) -> openai.OpenAI:
    with openai.OpenAI(base_url=f"{api_app.url}v1", api_key=keys["ann"], max_retries=0) as client:
        yield client


def v1(app: RunningApp) -> str:
    return f"{app.url}v1"
