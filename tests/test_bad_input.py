"""Bad input gets a clear message in the chat and never reaches the model server."""

from __future__ import annotations

import io
import logging
import threading

import pytest
import uvicorn.config

from assistant.app.logs import RedactingFilter, adopt_server_loggers, configure_logging
from fakes.fake_openai import Scenario
from tests.conftest import FAKE_MODEL, logging_kept, raw_chat, without_stats
from tests.test_failures import assert_clean, chat_posts, split, title


@pytest.mark.parametrize("message", ["", "   ", "\n\t  \n"])
def test_an_empty_message_does_nothing_and_calls_nothing_upstream(app, fake, message):
    updates, final = app.chat(app.client(), message)

    assert final is None and all(u is None for u in updates)
    assert chat_posts(fake) == []


def test_a_message_over_the_limit_is_refused_with_the_limit(app, fake):
    _, final = app.chat(app.client(), "x" * 32_001)

    message = title(split(final)[1])
    assert "32,001 characters" in message and "the limit is 32,000" in message
    assert chat_posts(fake) == []


@pytest.mark.parametrize("inputs, expected", [
    ((FAKE_MODEL, 2.5, "", 5, 100), "Temperature must be between 0 and 2 (it is 2.5)"),
    ((FAKE_MODEL, -0.1, "", 5, 100), "Temperature must be between 0 and 2"),
    ((FAKE_MODEL, "hot", "", 5, 100), "Temperature must be a number"),
    ((FAKE_MODEL, 0.7, "", -1, 100), "History length must be 0 or more"),
    ((FAKE_MODEL, 0.7, "", 2.5, 100), "History length must be a whole number"),
    ((FAKE_MODEL, 0.7, "", 5, 0), "Max output tokens must be at least 1"),
    ((FAKE_MODEL, 0.7, "", 5, None), "Max output tokens must be a number"),
    (("", 0.7, "", 5, 100), "The model name is empty"),
    (("   ", 0.7, "", 5, 100), "The model name is empty"),
])
def test_out_of_range_settings_get_a_clear_message_instead_of_an_exception(app, fake, inputs, expected):
    _, final = app.chat(app.client(), "Hello", *inputs)

    message = title(split(final)[1])
    assert expected in message
    assert_clean(message)
    assert chat_posts(fake) == []


@pytest.mark.parametrize("message", [
    "nul\x00byte", "\u202eright-to-left\u202c mark", "😀" * 10_000,
    "<script>alert(1)</script><img src=x onerror=alert(2)>",
], ids=["nul", "rtl", "emoji", "html"])
def test_odd_text_reaches_the_model_cleanly_and_the_chat_goes_on(app, fake, message):
    fake.enqueue(Scenario(text="Received."))
    _, final = app.chat(app.client(), message)

    assert final == "Received."
    sent = chat_posts(fake)[-1].body["messages"][-1]["content"]
    assert "\x00" not in sent
    sent.encode("utf-8")  # no lone surrogates left
    if "emoji" in message or "😀" in message:
        assert sent == message
    if "<script>" in message:
        assert sent == message  # sent as text: the browser test checks nothing executes


def test_a_lone_surrogate_is_replaced_before_it_reaches_the_model(app, fake):
    fake.enqueue(Scenario(text="Received."))
    messages = raw_chat(app.url, ["lone \ud800 surrogate", None, FAKE_MODEL, 0.7, "", 5, 100, False,
                                  "chat_completions", [], True])

    assert messages[-1]["msg"] == "process_completed" and messages[-1]["success"]
    assert without_stats(messages[-1]["output"]["data"][0]) == "Received."
    assert chat_posts(fake)[-1].body["messages"][-1]["content"] == "lone \ufffd surrogate"


def test_a_reply_with_odd_text_is_delivered_intact(app, fake):
    reply = "<b>bold</b> \u202eevil\u202c 😀 <script>alert(1)</script>"
    fake.enqueue(Scenario(text=reply))
    _, final = app.chat(app.client(), "Hello")
    assert final == reply


def test_keys_are_redacted_from_server_logs_even_in_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(("my-custom-secret-key",)))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        try:
            raise RuntimeError("auth failed for sk-proj-abcdef1234567890 and my-custom-secret-key")
        except RuntimeError:
            logger.exception("upstream said %s", "Bearer sk-live-zzzzzzzzzzzz")
    finally:
        logger.removeHandler(handler)
    logged = stream.getvalue()
    assert "abcdef1234567890" not in logged
    assert "my-custom-secret-key" not in logged
    assert "zzzzzzzzzzzz" not in logged
    assert "[redacted]" in logged and "RuntimeError" in logged  # the server log keeps the detail


class _Lines(io.StringIO):
    """A stderr that notes which thread wrote to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        return super().write(text)


def test_the_app_log_is_written_off_the_event_loops_thread_and_still_redacted():
    lines = _Lines()
    with logging_kept():
        stop = configure_logging(("my-custom-secret-key",), lines)
        try:
            raise RuntimeError("auth failed for my-custom-secret-key")
        except RuntimeError:
            logging.getLogger("test.logs").exception("upstream said %s", "sk-live-zzzzzzzzzzzz")
        stop()  # writes what is queued
        queued, writers = lines.getvalue(), set(lines.writers)
        logging.getLogger("test.logs").warning("after the stop")
    assert "upstream said" in queued and "RuntimeError" in queued
    assert "my-custom-secret-key" not in queued and "zzzzzzzzzzzz" not in queued
    assert writers and threading.current_thread().name not in writers
    assert "after the stop" in lines.getvalue()  # written at once once the thread stops


def test_the_web_servers_own_log_lines_go_through_the_apps_output_scrubbed():
    lines = io.StringIO()
    with logging_kept():
        stop = configure_logging(("my-custom-secret-key",), lines)
        uvicorn.config.Config(app=None, log_level="warning")  # as Gradio's server starts
        adopt_server_loggers()
        logging.getLogger("uvicorn.error").error("Exception in ASGI application: my-custom-secret-key")
        stop()
    assert "uvicorn.error: Exception in ASGI application: [redacted]" in lines.getvalue()
