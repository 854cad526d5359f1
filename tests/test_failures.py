"""Every upstream failure ends in a clear message, keeps the partial text, and the app goes on.

Each test drives the running app through /chat against our fake server, which
injects the fault, and checks: what the user reads, the text kept, how many
requests reached the upstream, and that the next message is answered normally.
Every test runs on both protocols, and must end in the same sentences on each.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant.conversation.history import CONTINUE_INSTRUCTION
from fakes.fake_openai import Scenario
from fakes.loopback import free_port
from tests.conftest import APIS, CHAT_INPUTS, FAKE_MODEL, RunningApp, model_posts, start_app

PARTIAL = "w0 w1 w2 "  # what the fake sends before a fault after 3 tokens
FORBIDDEN = ("Traceback", "Error:", "Exception", "APIConnectionError", "APITimeoutError",
             "JSONDecodeError", "sk-")


def split(final: Any) -> tuple[str, dict | None]:
    """The reply text and the notice (if any) from a final /chat value."""
    if isinstance(final, str):
        return final, None
    if isinstance(final, dict):
        return "", final
    text = next((m for m in final if isinstance(m, str)), "")
    return text, next(m for m in final if isinstance(m, dict))


def title(notice: dict | None) -> str:
    assert notice is not None, "expected a notice"
    return notice["metadata"].get("title", "")


def options(notice: dict) -> list[str]:
    return [o["value"] for o in notice.get("options") or []]


def assert_clean(message: str) -> None:
    for word in FORBIDDEN:
        assert word not in message, f"{word!r} shown to the user: {message}"


@pytest.fixture(params=APIS)
def app(running_app: RunningApp, fake, request):
    running_app.api = request.param
    yield running_app
    running_app.api = None


def chat_posts(fake) -> list:
    return model_posts(fake)


def sent(post) -> list[dict]:
    """The conversation a request carried, as role/content pairs, on either protocol."""
    return post.body.get("messages") or post.body.get("input")


def assert_next_message_works(app: RunningApp, fake, client=None) -> None:
    fake.enqueue(Scenario(text="All good again."))
    _, final = app.chat(client or app.client(), "Are you there?")
    assert final == "All good again."


# --- before the first token -------------------------------------------------

def test_rate_limit_is_retried_honouring_retry_after_and_the_wait_is_shown(app, fake):
    fake.enqueue(Scenario(status=429, headers={"retry-after-ms": "300"}, error_code="rate_limit_exceeded"),
                 Scenario(text="Made it."))
    updates, final = app.chat(app.client(), "Hello")

    assert final == "Made it."
    assert len(chat_posts(fake)) == 2
    waits = [u for u in updates if isinstance(u, dict) and u["metadata"]["id"] == "retrying"]
    assert waits and "Retrying in 0.3 s" in title(waits[0]) and "429" in title(waits[0])
    gap = chat_posts(fake)[1].time - chat_posts(fake)[0].time
    assert gap >= 0.3


def test_overloaded_server_is_retried_with_backoff_then_answers(app, fake):
    fake.enqueue(Scenario(status=503), Scenario(status=502), Scenario(text="Back up."))
    _, final = app.chat(app.client(), "Hello")

    assert final == "Back up."
    assert len(chat_posts(fake)) == 3


def test_retries_stop_at_the_configured_count(app, fake):
    fake.default = Scenario(status=500, headers={"retry-after-ms": "10"})
    _, final = app.chat(app.client(), "Hello")

    text, notice = split(final)
    assert text == "" and "overloaded or failing (500)" in title(notice)
    assert len(chat_posts(fake)) == 4  # the first try and ASSISTANT_MAX_RETRIES=3 more
    assert_next_message_works(app, fake)


def test_a_retry_after_longer_than_the_budget_is_not_waited_for(app, fake):
    fake.enqueue(Scenario(status=429, headers={"retry-after": "60"}))
    _, final = app.chat(app.client(), "Hello")

    assert "rate limiting" in title(split(final)[1])
    assert len(chat_posts(fake)) == 1


def test_a_request_that_times_out_before_the_response_is_retried(app, fake):
    fake.enqueue(Scenario(hang_before_headers=5), Scenario(text="Second try."))
    _, final = app.chat(app.client(), "Hello")

    assert final == "Second try."
    assert len(chat_posts(fake)) == 2


def test_insufficient_quota_is_not_retried_and_says_the_account_is_out_of_credit(app, fake):
    fake.enqueue(Scenario(status=429, error_code="insufficient_quota", error_type="insufficient_quota",
                          error_message="You exceeded your current quota."))
    _, final = app.chat(app.client(), "Hello")

    assert "out of credit" in title(split(final)[1])
    assert len(chat_posts(fake)) == 1
    assert_next_message_works(app, fake)


@pytest.mark.parametrize("status, code, upstream_message, expected", [
    (401, "invalid_api_key", "Incorrect API key provided: sk-abc***wxyz.", "rejected the API key (401)"),
    (403, None, "Project does not have access", "no access to “fake-model”"),
    (404, "model_not_found", "The model `fake-model` does not exist", "“fake-model” was not found"),
    (400, "invalid_value", "'messages' must contain the word json", "'messages' must contain the word json"),
    (400, "content_filter", "The response was filtered", "content filter"),
])
def test_client_errors_get_a_specific_message_and_no_retry(app, fake, status, code, upstream_message,
                                                          expected):
    fake.enqueue(Scenario(status=status, error_code=code, error_message=upstream_message,
                          error_type="invalid_request_error"))
    _, final = app.chat(app.client(), "Hello")

    message = title(split(final)[1])
    assert expected in message
    assert_clean(message)
    assert len(chat_posts(fake)) == 1
    assert_next_message_works(app, fake)


def test_unknown_model_message_points_to_the_model_list(app, fake):
    fake.enqueue(Scenario(status=404, error_code="model_not_found", error_message="no such model"))
    _, final = app.chat(app.client(), "Hello", "gpt-9-imaginary")

    message = title(split(final)[1])
    assert "“gpt-9-imaginary”" in message and "Model list" in message


@pytest.mark.parametrize("api", APIS)
def test_an_unreachable_endpoint_names_the_host_and_never_the_key(tmp_path, api):
    port = free_port()  # nothing listens here
    app = start_app({"OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
                     "OPENAI_API_KEY": "sk-secret-key-0123456789", "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_MAX_RETRIES": "1", "ASSISTANT_DATA_DIR": str(tmp_path)})
    try:
        _, final = app.chat(app.client(), "Hello", api=api)
        message = title(split(final)[1])
        assert f"Could not reach the model server at 127.0.0.1:{port}" in message
        assert "0123456789" not in message
        assert_clean(message)
    finally:
        app.close()


def test_a_server_that_cannot_stream_gets_one_non_streaming_request(app, fake):
    fake.enqueue(Scenario(reject_stream=True), Scenario(text="Whole reply at once."))
    _, final = app.chat(app.client(), "Hello")

    assert final == "Whole reply at once."
    posts = chat_posts(fake)
    assert [p.body.get("stream", False) for p in posts] == [True, False]


def test_a_json_body_in_answer_to_a_streaming_request_falls_back_once(app, fake):
    fake.enqueue(Scenario(json_body=True, text="ignored"), Scenario(text="Plain JSON reply."))
    _, final = app.chat(app.client(), "Hello")

    assert final == "Plain JSON reply."
    assert [p.body.get("stream", False) for p in chat_posts(fake)] == [True, False]


# --- during the stream ------------------------------------------------------

MID_STREAM = [
    (dict(fault="drop"), "connection to the model server dropped"),
    (dict(fault="stall"), "stalled"),
    (dict(fault="error_event", error_message="upstream exploded"), "reported an error: upstream exploded"),
    (dict(fault="error_chunk", error_message="overloaded mid-way"), "reported an error: overloaded mid-way"),
    (dict(fault="malformed"), "malformed reply"),
    (dict(fault="not_a_chunk"), "malformed reply"),
    (dict(fault="no_finish"), "ended without the server saying it was finished"),
]


@pytest.mark.parametrize("fault, expected", MID_STREAM, ids=[f["fault"] for f, _ in MID_STREAM])
def test_a_mid_stream_fault_keeps_the_partial_reply_marked_incomplete(app, fake, fault, expected):
    fake.enqueue(Scenario(n_tokens=10, fault_after=3, stall_seconds=5, **fault))
    client = app.client()
    _, final = app.chat(client, "Tell me something")

    text, notice = split(final)
    assert text == PARTIAL
    assert "Reply incomplete" in title(notice) and expected in title(notice)
    assert_clean(title(notice))
    assert options(notice) == ["Continue", "Regenerate"]
    assert len(chat_posts(fake)) == 1, "a stream that showed text must never be retried"
    assert_next_message_works(app, fake, client)


def test_a_responses_failure_event_keeps_the_partial_reply_and_says_why(running_app, fake):
    fake.enqueue(Scenario(n_tokens=10, fault_after=3, fault="failed", error_message="model crashed"))
    _, final = running_app.chat(running_app.client(), "Hello", api="responses")

    text, notice = split(final)
    assert text == PARTIAL
    assert title(notice) == "⚠️ Reply incomplete: The model server reported an error: model crashed"
    assert_next_message_works(running_app, fake)


def test_an_unknown_responses_event_is_skipped(running_app, fake):
    fake.enqueue(Scenario(n_tokens=6, fault_after=3, fault="unknown_event"))
    _, final = running_app.chat(running_app.client(), "Hello", api="responses")

    assert final == "w0 w1 w2 w3 w4 w5 "


@pytest.mark.parametrize("reason, expected", [("length", "maximum output length"),
                                              ("content_filter", "content filter")])
def test_a_reply_cut_by_the_server_is_marked_with_the_reason(app, fake, reason, expected):
    fake.enqueue(Scenario(text="Half a sentence", finish_reason=reason))
    _, final = app.chat(app.client(), "Hello")

    text, notice = split(final)
    assert text == "Half a sentence"
    assert expected in title(notice)


def test_continue_sends_the_partial_reply_and_asks_the_model_to_carry_on(app, fake):
    client = app.client()
    fake.enqueue(Scenario(n_tokens=10, fault_after=3, fault="drop"), Scenario(text="w3 w4."))
    app.chat(client, "Count for me")
    _, final = app.chat(client, None, endpoint="/continue_reply")

    assert final == "w3 w4."
    messages = sent(chat_posts(fake)[-1])
    assert messages[-3:] == [
        {"role": "user", "content": "Count for me"},
        {"role": "assistant", "content": PARTIAL},
        {"role": "user", "content": CONTINUE_INSTRUCTION},
    ]


def test_regenerate_asks_the_same_question_again_without_the_partial_reply(app, fake):
    client = app.client()
    fake.enqueue(Scenario(n_tokens=10, fault_after=3, fault="drop"), Scenario(text="Fresh."))
    app.chat(client, "Count for me")
    _, final = app.chat(client, None, endpoint="/regenerate_reply")

    assert final == "Fresh."
    messages = sent(chat_posts(fake)[-1])
    assert messages[-1] == {"role": "user", "content": "Count for me"}
    assert all(m["content"] != PARTIAL for m in messages)


# --- stop ---------------------------------------------------------------------

def test_stop_closes_the_upstream_stream_and_the_next_message_works(app, fake):
    fake.enqueue(Scenario(n_tokens=500, rate=20))
    client = app.client()
    job = client.submit("Write a long essay", *CHAT_INPUTS, app.api, api_name="/chat")
    for update in job:
        if isinstance(update, str) and len(update.split()) >= 2:
            break
    job.cancel()

    assert fake.wait_for_disconnect(timeout=0.5), "the upstream stream was not closed within 0.5 s"
    assert_next_message_works(app, fake, client)
