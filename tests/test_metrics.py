"""Reply metrics, the per-reply log line and GET /metrics (assistant/metrics.py)."""

from __future__ import annotations

import logging
import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import httpx
import pytest
from gradio_client import Client
from starlette.applications import Starlette
from starlette.testclient import TestClient

from assistant.app.metrics import MAX_MODEL_LABELS, MAX_TOOL_LABELS, ReplyMetrics, metrics_route, metrics_routes
from assistant.app.server import create_app, launch
from assistant.app.settings import load_settings
from assistant.domain.failures import Failure
from assistant.domain.reply import Reply, Step
from assistant.domain.validation import ReplyOptions
from fakes.fake_openai import FakeOpenAI, Scenario
from fakes.loopback import free_port

OPTIONS = ReplyOptions("fake-model", 0.7, "", 10, 1024)
SECRET_TEXT = "my password is hunter2 sk-abcdefghijklmnop"


def finished_reply(**fields) -> Reply:
    values = dict(backend="custom", model="fake-model", options=OPTIONS, user_message=SECRET_TEXT,
                  started=10.0, first_token=10.25, ended=12.0, text=SECRET_TEXT,
                  prompt_tokens=40, completion_tokens=300, usage_estimated=False,
                  outcome="complete")
    values.update(fields)
    return Reply(**values)


def run_reply(metrics: ReplyMetrics, reply: Reply) -> None:
    metrics.reply_started(reply)
    metrics.reply_progress(reply)
    metrics.reply_finished(reply)


def value(metrics: ReplyMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


# The observer ------------------------------------------------------------------------
def test_a_complete_reply_is_counted_timed_and_its_tokens_added():
    metrics = ReplyMetrics()
    run_reply(metrics, finished_reply())
    assert value(metrics, "assistant_replies_total", backend="custom", model="fake-model",
                 outcome="complete") == 1
    assert value(metrics, "assistant_time_to_first_token_seconds_count", backend="custom") == 1
    assert value(metrics, "assistant_time_to_first_token_seconds_sum", backend="custom") == 0.25
    assert value(metrics, "assistant_reply_duration_seconds_sum", backend="custom",
                 outcome="complete") == 2.0
    assert value(metrics, "assistant_tokens_total", backend="custom", model="fake-model",
                 type="completion", estimated="false") == 300
    assert value(metrics, "assistant_tokens_total", backend="custom", model="fake-model",
                 type="prompt", estimated="false") == 40
    assert value(metrics, "assistant_reply_errors_total", backend="custom", kind="timeout") == 0


def test_failures_are_counted_by_kind_and_outcome():
    metrics = ReplyMetrics()
    run_reply(metrics, finished_reply(first_token=None, text="", outcome="failed", retries=2,
                                      failure=Failure("rate_limit", "limited", status=429),
                                      usage_estimated=True, completion_tokens=0))
    run_reply(metrics, finished_reply(outcome="truncated", failure=Failure("length", "long")))
    assert value(metrics, "assistant_reply_errors_total", backend="custom", kind="rate_limit") == 1
    assert value(metrics, "assistant_reply_errors_total", backend="custom", kind="length") == 1
    assert value(metrics, "assistant_replies_total", backend="custom", model="fake-model",
                 outcome="failed") == 1
    assert value(metrics, "assistant_reply_retries_total", backend="custom") == 2
    assert value(metrics, "assistant_tokens_total", backend="custom", model="fake-model",
                 type="prompt", estimated="true") == 40
    # no first token, no time-to-first-token sample
    assert value(metrics, "assistant_time_to_first_token_seconds_count", backend="custom") == 1


def test_streams_in_progress_go_up_and_down():
    metrics = ReplyMetrics()
    first, second = finished_reply(), finished_reply()
    metrics.reply_started(first)
    metrics.reply_started(second)
    assert value(metrics, "assistant_replies_in_progress", backend="custom") == 2
    metrics.reply_finished(first)
    assert value(metrics, "assistant_replies_in_progress", backend="custom") == 1
    metrics.reply_finished(finished_reply())  # started before we observed: no underflow
    assert value(metrics, "assistant_replies_in_progress", backend="custom") == 1
    metrics.reply_finished(second)
    assert value(metrics, "assistant_replies_in_progress", backend="custom") == 0


def test_typed_model_names_cannot_blow_up_the_label_count():
    metrics = ReplyMetrics()
    for i in range(MAX_MODEL_LABELS + 5):
        run_reply(metrics, finished_reply(model=f"model-{i}"))
    run_reply(metrics, finished_reply(model="a model name with spaces"))
    assert value(metrics, "assistant_replies_total", backend="custom", model="other",
                 outcome="complete") == 6
    assert value(metrics, "assistant_replies_total", backend="custom", model="model-0",
                 outcome="complete") == 1


def test_tool_names_a_model_makes_up_cannot_blow_up_the_label_count():
    metrics = ReplyMetrics()
    steps = [Step("tool", name=f"made_up_{i}", ended=11.0) for i in range(MAX_TOOL_LABELS + 5)]
    run_reply(metrics, finished_reply(steps=steps))
    assert value(metrics, "assistant_tool_calls_total", tool="other", outcome="ok") == 5
    assert value(metrics, "assistant_tool_calls_total", tool="made_up_0", outcome="ok") == 1

    knowing = ReplyMetrics(tool_named={"calculator": object()}.get)  # the app's tools
    run_reply(knowing, finished_reply(steps=[Step("tool", name=n, ended=11.0) for n in
                                             ("calculator", "made_up", "calculator")]))
    assert value(knowing, "assistant_tool_calls_total", tool="calculator", outcome="ok") == 2
    assert value(knowing, "assistant_tool_calls_total", tool="other", outcome="ok") == 1


def test_two_instances_do_not_share_or_clash():
    one, two = ReplyMetrics(), ReplyMetrics()
    run_reply(one, finished_reply())
    assert value(two, "assistant_replies_total", backend="custom", model="fake-model",
                 outcome="complete") == 0


# The log line ------------------------------------------------------------------------
def test_one_log_line_per_reply_with_numbers_and_no_content(caplog):
    metrics = ReplyMetrics()
    with caplog.at_level(logging.INFO, logger="assistant.replies"):
        run_reply(metrics, finished_reply(usage_estimated=True))
    [record] = [r for r in caplog.records if r.name == "assistant.replies"]
    line = record.getMessage()
    assert line == ("reply backend=custom api=chat_completions model=fake-model outcome=complete "
                    "error=- status=- ttft=0.250 duration=2.000 prompt_tokens=40 "
                    "completion_tokens=300 tokens_estimated=true retries=0 reasoning_seconds=- "
                    "tools=-")
    assert record.levelno == logging.INFO
    assert record.reply["completion_tokens"] == 300  # for JSON log handlers
    assert "hunter2" not in line and "sk-" not in line


def test_message_text_is_logged_only_when_the_operator_opts_in(caplog):
    with caplog.at_level(logging.INFO, logger="assistant.replies"):
        run_reply(ReplyMetrics(), finished_reply(user_message="Where is Velmora?",
                                                 text="On the coast."))
        run_reply(ReplyMetrics(log_content=True),
                  finished_reply(user_message="Where is Velmora?", text="On the coast."))
    default, opted_in = (r.getMessage() for r in caplog.records)
    assert "Velmora" not in default and "coast" not in default
    assert 'message="Where is Velmora?"' in opted_in and 'text="On the coast."' in opted_in


def test_a_failed_reply_logs_a_warning_with_its_error_class_but_not_its_message(caplog):
    failure = Failure("auth", "rejected key sk-abcdefghijklmnop", status=401)
    with caplog.at_level(logging.INFO, logger="assistant.replies"):
        run_reply(ReplyMetrics(), finished_reply(first_token=None, outcome="failed",
                                                 failure=failure, model='odd "model"\nname'))
    [record] = caplog.records
    line = record.getMessage()
    assert record.levelno == logging.WARNING
    assert "error=auth status=401 ttft=-" in line
    assert 'model="odd \\"model\\"?name"' in line and "\n" not in line
    assert "sk-" not in line and "rejected" not in line


# GET /metrics ------------------------------------------------------------------------
def test_the_route_serves_prometheus_text_and_can_require_a_token():
    metrics = ReplyMetrics()
    run_reply(metrics, finished_reply())
    app = Starlette(routes=[metrics_route(metrics.registry, token="s3cret")])
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert ok.headers["content-type"].startswith("text/plain; version=0.0.4")
        assert ('assistant_replies_total{backend="custom",model="fake-model",'
                'outcome="complete"} 1.0') in ok.text
        om = client.get("/metrics", headers={"Authorization": "Bearer s3cret",
                                              "Accept": "application/openmetrics-text"})
        assert om.headers["content-type"].startswith("application/openmetrics-text")
        assert om.text.rstrip().endswith("# EOF")


# The real app, in-process, against the fake server -----------------------------------
@pytest.fixture
def fake():
    with FakeOpenAI() as server:
        server.default = Scenario(n_tokens=30, rate=500)
        yield server


def start_app(fake: FakeOpenAI, data_dir, **env: str):
    port = free_port()
    settings = load_settings([], environ={"OPENAI_BASE_URL": fake.base_url,
                                          "ASSISTANT_MODEL": "fake-model",
                                          "ASSISTANT_DATA_DIR": str(data_dir),
                                          "ASSISTANT_PORT": str(port), **env})
    return create_app(settings), f"http://127.0.0.1:{port}"


def reply_text(final) -> str:
    """The reply's text from /chat's final value: a string, or [text, stats notice]."""
    if isinstance(final, str):
        return final
    first = final[0]
    return first if isinstance(first, str) else first.get("content", "")


def metric_line(text: str, prefix: str) -> float:
    [line] = [ln for ln in text.splitlines() if ln.startswith(prefix)]
    return float(line.rsplit(" ", 1)[1])


def test_a_chat_through_the_running_app_moves_its_metrics(fake, tmp_path):
    app, url = start_app(fake, tmp_path)
    launch(app, prevent_thread_lock=True, quiet=True)  # /metrics is the app's own route
    try:
        before = httpx.get(f"{url}/metrics", timeout=5)
        assert before.status_code == 200
        assert "assistant_replies_total{" not in before.text  # no reply yet
        client = Client(url, verbose=False)
        reply = reply_text(client.submit("Hi", api_name="/chat").result(timeout=30))
        assert reply.startswith("w0 w1") and reply.rstrip().endswith("w29")
        text = httpx.get(f"{url}/metrics", timeout=5).text
        assert metric_line(text, 'assistant_replies_total{backend="custom",model="fake-model",'
                                 'outcome="complete"}') == 1
        assert metric_line(text, 'assistant_tokens_total{backend="custom",estimated="false",'
                                 'model="fake-model",type="completion"}') == 30
        assert metric_line(text, "assistant_time_to_first_token_seconds_count"
                                 '{backend="custom"}') == 1
        assert metric_line(text, 'assistant_replies_in_progress{backend="custom"}') == 0
        # Gradio's own routes still work
        assert httpx.get(f"{url}/config", timeout=5).status_code == 200
    finally:
        app.close()


def test_metrics_routes_passed_to_launch_work_with_login_on(fake, tmp_path):
    app, url = start_app(fake, tmp_path, ASSISTANT_AUTH="ann:pw123456")
    metrics = ReplyMetrics()
    app.service.observers.append(metrics)
    launch(app, prevent_thread_lock=True, quiet=True,
           app_kwargs={"routes": metrics_routes(metrics.registry, token="scrape-token")})
    try:
        assert httpx.get(f"{url}/config", timeout=5).status_code == 401  # Gradio's login holds
        assert httpx.get(f"{url}/metrics", timeout=5).status_code == 401  # so does ours
        keyless = httpx.get(f"{url}/v1/models", timeout=5)  # the app's own routes are kept
        assert keyless.json()["error"]["code"] == "invalid_api_key"
        assert "content-security-policy" in keyless.headers  # and its middleware
        client = Client(url, auth=("ann", "pw123456"), verbose=False)
        assert reply_text(client.submit("Hi", api_name="/chat").result(timeout=30)).startswith("w0")
        scraped = httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer scrape-token"},
                            timeout=5)
        assert scraped.status_code == 200
        assert metric_line(scraped.text, 'assistant_replies_total{backend="custom",'
                                         'model="fake-model",outcome="complete"}') == 1
    finally:
        app.close()
