"""Several model servers in one app (ASSISTANT_BACKENDS): two fake servers, one that is
down, and the embedded model; "backend/model" picks one; a bad file names its line."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest

from assistant.conversation.routing import Asked, Router
from assistant.providers.backend_file import BackendsFileError, parse_backends
from fakes.fake_openai import FakeOpenAI
from fakes.fake_scenario import Scenario
from fakes.loopback import free_port

from .conftest import run_in_process, start_app

BACKENDS = """\
backends:
  - name: alpha
    base_url: {alpha}
    models: [alpha-1, alpha-2]
  - name: beta                 # asked for its models, with a key
    base_url: {beta}
    key_env: BETA_KEY
    models: ask
    visitor_keys: true         # a visitor's own key goes here
  - name: gone                 # nothing listens there
    base_url: http://127.0.0.1:{closed}/v1
    models: [gone-1]
default: alpha/alpha-1
routes:
  - name: vision
    when:
      images: true
    models: [beta/beta-1]
  - name: code
    when:
      code: true
    models: [alpha/alpha-2]
  - name: reasoning
    when:
      keywords: [step by step]
    models: [beta/beta-1]
  - name: fast                 # everything else: the first is down, the next answers
    models: [gone/gone-1, alpha/alpha-1]
"""

RULES = """\
backends:
  - {name: a, base_url: "http://a/v1"}
routes:
  - {name: vision, when: {images: true}, models: [a/see]}
  - {name: docs, when: {documents: true}, models: [a/tools]}
  - {name: tooled, when: {tools: true}, models: [a/tools]}
  - {name: code, when: {code: true}, models: [a/code]}
  - {name: reasoning, when: {keywords: [step by step, think hard]}, models: [a/think]}
  - {name: long, when: {min_chars: 1500}, models: [a/think]}
  - {name: french, when: {language: fr}, models: [a/fr]}
  - {name: pattern, when: {pattern: "\\\\d{3}-\\\\d{4}"}, models: [a/fast]}
  - {name: fast, models: [a/fast]}
"""


@pytest.fixture(scope="module")
def servers():
    with FakeOpenAI() as alpha, FakeOpenAI() as beta:
        alpha.models, beta.models = ["alpha-1", "alpha-2"], ["beta-1"]
        alpha.default, beta.default = Scenario(text="Alpha here."), Scenario(text="Beta here.")
        yield alpha, beta


@pytest.fixture(scope="module")
def several(servers, tmp_path_factory):
    alpha, beta = servers
    folder = tmp_path_factory.mktemp("several")
    (folder / "backends.yaml").write_text(BACKENDS.format(
        alpha=alpha.base_url, beta=beta.base_url, closed=free_port()))
    app = start_app({"ASSISTANT_BACKENDS": str(folder / "backends.yaml"),
                     "BETA_KEY": "sk-beta-secret", "ASSISTANT_DATA_DIR": str(folder / "data"),
                     "ASSISTANT_RETRY_BUDGET": "1", "ASSISTANT_READ_TIMEOUT": "5"})
    yield app
    app.close()


@pytest.fixture
def sdk(several, servers):
    for fake in servers:
        fake.reset()
        fake.default = Scenario(text=f"{'Alpha' if fake is servers[0] else 'Beta'} here.")
    with openai.OpenAI(base_url=f"{several.url}v1", api_key="local", max_retries=0) as client:
        yield client


def test_the_model_list_groups_every_backend_and_names_its_owner(sdk):
    models = [(m.id, m.owned_by) for m in sdk.models.list()]
    assert models[:5] == [("Auto", "assistant"), ("alpha/alpha-1", "alpha"), ("alpha/alpha-2", "alpha"),
                          ("beta/beta-1", "beta"), ("gone/gone-1", "gone")]
    assert ("local/smollm2", "local") in models  # the embedded model is one of them


def test_backend_slash_model_reaches_that_server_with_its_own_key(sdk, servers):
    alpha, beta = servers
    reply = sdk.chat.completions.create(model="beta/beta-1",
                                        messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "Beta here."
    sent = [r for r in beta.requests if r.path.endswith("/chat/completions")]
    assert sent[-1].body["model"] == "beta-1"
    assert sent[-1].headers["authorization"] == "Bearer sk-beta-secret"
    assert not [r for r in alpha.requests if r.path.endswith("/chat/completions")]

    streamed = sdk.chat.completions.create(model="alpha/alpha-2", stream=True,
                                           messages=[{"role": "user", "content": "Hi"}])
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == \
        "Alpha here."
    assert alpha.requests[-1].body["model"] == "alpha-2"


def test_a_visitor_s_own_key_goes_to_the_backend_that_takes_them(several, servers):
    _, beta = servers
    visitor = several.client()
    answer = visitor.predict("sk-visitor-own-0123456789", "", api_name="/set_api_key")
    assert answer["own_key"] is True
    _, final = several.chat(visitor, "Hello with my key", "beta-1")
    assert "Beta here." in json.dumps(final)
    sent = [r for r in beta.requests if r.path.endswith("/chat/completions")][-1]
    assert sent.headers["authorization"] == "Bearer sk-visitor-own-0123456789"
    _, final = several.chat(several.client(), "Hello", "beta/beta-1")  # others: the server's
    sent = [r for r in beta.requests if r.path.endswith("/chat/completions")][-1]
    assert sent.headers["authorization"] == "Bearer sk-beta-secret"


def test_the_page_starts_on_auto_and_names_the_backend_that_is_down(several, servers):
    alpha, _ = servers
    client = several.client()
    _, final = several.chat(client, "Hello", "alpha/alpha-1")
    assert "Alpha here." in json.dumps(final)
    assert alpha.requests[-1].body["model"] == "alpha-1"
    config = httpx.get(f"{several.url}config", timeout=10).json()
    label = next(c["props"]["value"] for c in config["components"]
                 if c.get("props", {}).get("elem_id") == "backend-label")
    assert "gone (it does not answer)" in label and "alpha" in label and "beta" in label
    model = next(c["props"] for c in config["components"]
                 if c.get("props", {}).get("label") == "Model")
    assert model["value"] == "Auto"


def test_a_failing_backend_fails_alone_and_metrics_name_each_backend(sdk, several):
    with pytest.raises(openai.APIStatusError) as failed:
        sdk.chat.completions.create(model="gone/gone-1",
                                    messages=[{"role": "user", "content": "Hi"}])
    assert failed.value.status_code in (502, 503)
    assert sdk.chat.completions.create(model="beta/beta-1", messages=[
        {"role": "user", "content": "Hi"}]).choices[0].message.content == "Beta here."
    metrics = httpx.get(f"{several.url}metrics", timeout=10).text
    assert 'backend="beta"' in metrics and 'backend="gone"' in metrics
    assert "sk-beta-secret" not in metrics


def test_the_embedded_model_answers_beside_the_servers(sdk):
    reply = sdk.chat.completions.create(model="local/smollm2", max_tokens=8,
                                        messages=[{"role": "user", "content": "Say hi"}])
    assert reply.choices[0].message.content.strip()
    assert reply.model == "smollm2"


@pytest.mark.parametrize(("text", "line", "reason"), [
    ("backends:\n  - name: a\n    base_url: http://x/v1\n    base-url: http://y/v1\n", 4,
     "unknown key “base-url” (allowed: name, base_url, key_env, api, models, context_window, "
     "visitor_keys)"),
    ("backends:\n  - {name: a, base_url: http://x/v1, visitor_keys: true}\n"
     "  - {name: b, base_url: http://y/v1, visitor_keys: true}\n", 3,
     "“b” takes visitors' keys, and so does another backend: only one may"),
    ("backends:\n  - name: a\n    base_url: http://x/v1\n    key_env: NOT_SET_ANYWHERE\n", 4,
     "key_env names NOT_SET_ANYWHERE, which is not set in the environment or .env"),
    ("backends:\n  - name: a\n    base_url: http://x/v1\n  - name: a\n    base_url: http://y/v1\n",
     4, "a second backend is named “a” (the name is taken; each needs its own)"),
    ("backends:\n  - name: a\n    base_url: localhost:11434\n", 3,
     "base_url “localhost:11434” is not an http:// or https:// address"),
    ("backends:\n  - name: a\n    base_url: http://x/v1\n    api: graphql\n", 4,
     "api is “graphql”: it must be chat_completions or responses"),
    ("backends:\n  - name: a\n    base_url: http://x/v1\ndefault: b/m\n", 4,
     "default is “b/m”: it must be backend/model, with a backend named in this file"),
    ('{"backends": [{"name": "a",\n "base_url": "http://x/v1", "models": 3}]}', 2,
     'models must be a list of model names, or "ask" to ask the server'),
    ("backends: [\n", 2, "this is not YAML or JSON"),
])
def test_a_bad_file_names_its_line_and_the_reason(text, line, reason):
    with pytest.raises(BackendsFileError) as bad:
        parse_backends(text, {})
    assert (bad.value.line, bad.value.reason[:len(reason)]) == (line, reason)


def test_a_bad_file_stops_the_start_with_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("backends.yaml").write_text("backends:\n  - name: a\n    base_url: ftp://x\n")
    assert run_in_process(["--backends", "backends.yaml"]) == 2
    assert capsys.readouterr().err == (
        "python app.py: --backends (ASSISTANT_BACKENDS) is “backends.yaml”: line 3: base_url "
        "“ftp://x” is not an http:// or https:// address.\n")


def titles(final) -> list[str]:
    return [m["metadata"].get("title", "") for m in (final if isinstance(final, list) else [final])
            if isinstance(m, dict) and m.get("metadata")]


def test_auto_routes_by_rule_and_shows_why_above_the_reply(several, servers, sdk):
    alpha, beta = servers
    client = several.client()
    _, final = several.chat(client, "Fix this:\n```python\nprint(1\n```", "Auto")
    assert titles(final)[0] == "↪ alpha/alpha-2 · code: the message has a code block"
    assert alpha.requests[-1].body["model"] == "alpha-2"
    _, final = several.chat(client, "Explain it step by step", "Auto")
    assert titles(final)[0] == "↪ beta/beta-1 · reasoning: the message says “step by step”"
    assert beta.requests[-1].body["model"] == "beta-1"
    metrics = httpx.get(f"{several.url}metrics", timeout=10).text
    assert 'assistant_routes_total{route="code"} 1.0' in metrics


def test_the_route_is_kept_with_the_reply_and_shown_again_from_the_record():
    from assistant.domain.events import Routed
    from assistant.domain.reply import Reply, Step
    from assistant.storage.records import steps_json
    from assistant.web.render import step_message

    reply = Reply(backend="alpha", model="alpha-1", options=None, user_message="Hi")
    reply.fold([Routed("alpha", "alpha-2", "code: the message has a code block", "code")])
    assert (reply.model, reply.route) == ("alpha-2", "code")
    kept = json.loads(steps_json([s.to_record() for s in reply.steps]))
    assert kept[0] | {"seconds": 0} == {"type": "route", "name": "alpha/alpha-2", "at": 0,
                                        "seconds": 0, "text": "code: the message has a code block"}
    again = step_message(Step.from_record(kept[0]), 0)
    assert again["metadata"].get("title", "") == "↪ alpha/alpha-2 · code: the message has a code block"


def test_auto_falls_back_to_the_routes_next_model_and_says_so(several, servers):
    alpha, _ = servers
    _, final = several.chat(several.client(), "Hello there", "Auto")
    shown = titles(final)
    assert shown[0] == "↪ gone/gone-1 · fast: everything else"
    assert shown[1].startswith("↪ alpha/alpha-1 · gone/gone-1 failed (")
    assert shown[1].endswith("); the route's next model answers")
    assert "Alpha here." in json.dumps(final)
    assert alpha.requests[-1].body["model"] == "alpha-1"


@pytest.mark.parametrize(("asked", "route"), [
    (Asked("What is in this picture?", images=1), "vision: the message has an image"),
    (Asked("def f():\n    return 1\n"), "code: the message looks like code"),
    (Asked("Think it through STEP BY STEP please"), "reasoning: the message says “step by step”"),
    (Asked("stepbystep"), "fast: everything else"),
    (Asked("Summarise my file", documents=True), "docs: documents are on"),
    (Asked("Summarise my file", documents=True, tools=True), "docs: documents are on"),
    (Asked("Look up the weather", tools=True), "tooled: tools are on"),
    (Asked("x" * 2000), "long: the message is long (2,000 characters)"),
    (Asked("Call 555-1234 for me"), "pattern: the message matches “555-1234”"),
    (Asked("Quelle est la capitale de la France ?"), "french: the message is in fr"),
    (Asked("What is the capital of France?"), "fast: everything else"),
])
def test_each_rule_picks_its_route(asked, route):
    entries = parse_backends(RULES, {}).routes
    assert Router(entries).decide(asked).why == route

EXAMPLE_RULES = """\
backends:
  - {name: a, base_url: "http://a/v1"}
routes:
  - name: code
    examples: ["How do I sort a dictionary by value in Python?", "What does git stash do?"]
    models: [a/code]
  - {name: fast, models: [a/fast]}
"""


def test_a_route_with_examples_takes_the_messages_closest_to_them():
    entries = parse_backends(EXAMPLE_RULES, {}).routes
    router = Router(entries)
    assert router.decide(Asked("What does git rebase do?")).why == \
        "code: the message is like “What does git stash do?”"
    assert router.decide(Asked("What's the capital of Peru?")).why == "fast: everything else"


def test_one_line_json_routes_are_told_apart_by_position():
    entries = parse_backends('{"backends": [{"name": "a", "base_url": "http://a/v1"}], '
                             '"routes": [{"name": "phone", "when": {"pattern": "\\\\d{3}-\\\\d{4}"}, '
                             '"models": ["a/p"]}, {"name": "code", "examples": ["What does git '
                             'stash do?"], "models": ["a/c"]}, {"name": "fast", "models": '
                             '["a/f"]}]}', {}).routes
    router = Router(entries)
    assert router.decide(Asked("call 555-1234")).route == "phone"
    assert router.decide(Asked("TICKET-42")).route == "fast"
    assert router.decide(Asked("What does git rebase do?")).route == "code"
    assert router.decide(Asked("Write a poem")).route == "fast"


def test_with_one_backend_in_the_file_its_prefix_still_picks_it(tmp_path):
    from assistant.app.settings import load_settings

    (tmp_path / "one.yaml").write_text(
        "backends:\n  - {name: openai, base_url: 'http://x/v1', models: [m1, m2]}\n"
        "default: openai/m2\n")
    settings = load_settings(["--backends", str(tmp_path / "one.yaml")], environ={})
    assert settings.visitor_key_mode() == "off"  # the file's servers answer, not visitors'
    from assistant.app.server_backends import server_backends, server_routes
    from assistant.providers.retrying import RetryPolicy
    settings = load_settings(["--backends", str(tmp_path / "one.yaml"), "--embedded-model",
                              "off"], environ={})
    routes = server_routes(settings, server_backends(settings), RetryPolicy(), ())
    assert routes.default_route.backend.default_model == "m2"
    assert routes.pick("openai/m1")[1] == "m1"


def test_a_route_to_a_backend_that_is_not_running_stops_the_start(tmp_path):
    from assistant.app.server_backends import server_backends, server_routes
    from assistant.app.setting_checks import BadSetting
    from assistant.app.settings import load_settings
    from assistant.providers.retrying import RetryPolicy

    (tmp_path / "b.yaml").write_text(
        "backends:\n  - {name: a, base_url: 'http://127.0.0.1:1/v1', models: [m]}\n"
        "routes:\n  - {name: fast, models: [local/smollm2]}\n")
    settings = load_settings(["--backends", str(tmp_path / "b.yaml"), "--embedded-model", "off"],
                             environ={})
    with pytest.raises(BadSetting, match=r"the route “fast” \(line 4\) names local/smollm2, "
                                         r"but the backend local is not running"):
        server_routes(settings, server_backends(settings), RetryPolicy(), ())


def test_the_api_stream_does_not_report_a_route_as_a_tool_call(sdk):
    chunks = list(sdk.chat.completions.create(model="Auto", stream=True, messages=[
        {"role": "user", "content": "Explain it step by step"}]))
    extras = [c.model_extra.get("assistant") for c in chunks if c.model_extra]
    assert not any(e and e.get("step") for e in extras)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Beta here."


def test_examples_are_compared_by_embeddings_when_the_server_has_them(servers):
    import asyncio

    from assistant.documents.embeddings import Embeddings

    alpha, _ = servers
    before = len(alpha.requests)
    entries = parse_backends(EXAMPLE_RULES, {}).routes

    async def decide(*texts: str) -> list[str]:
        async with openai.AsyncOpenAI(base_url=alpha.base_url, api_key="x",
                                      max_retries=0) as client:
            router = Router(entries, Embeddings(client, "fake-embedding"))
            return [(await router.decide_async(Asked(t))).why for t in texts]

    assert asyncio.run(decide("What does git rebase do?", "What's the capital of Peru?")) == [
        "code: the message is like “What does git stash do?”", "fast: everything else"]
    embedded = [r.body["input"] for r in alpha.requests[before:] if r.path == "/v1/embeddings"]
    assert embedded[0] == ["How do I sort a dictionary by value in Python?",
                           "What does git stash do?"]  # the examples, once
    assert embedded[1:] == [["What does git rebase do?"], ["What's the capital of Peru?"]]

    alpha.embeddings_enabled = False  # a server without embeddings: BM25 decides
    try:
        assert asyncio.run(decide("What does git rebase do?")) == [
            "code: the message is like “What does git stash do?”"]
    finally:
        alpha.embeddings_enabled = True
