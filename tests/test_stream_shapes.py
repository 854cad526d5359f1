"""Every stream shape real servers send, through the running app (Chat Completions)."""

from __future__ import annotations

import pytest

from fakes.fake_openai import Scenario
from tests.conftest import model_posts

TEXT = "Grüße aus Köln — 你好, 世界! 🎉"


@pytest.mark.parametrize("json_body", [False, True], ids=["streamed", "not-streamed"])
def test_content_sent_as_a_list_of_typed_parts_is_the_answer_not_a_repr(app, fake, json_body):
    fake.enqueue(Scenario(text="Plain words.", content_parts=True, json_body=json_body),
                 Scenario(text="Plain words.", content_parts=True))
    _, final = app.chat(app.client(), "Hi")

    assert final == "Plain words."


def test_thinking_parts_in_a_non_streamed_reply_are_a_step_too(app, fake):
    fake.enqueue(Scenario(text="42.", reasoning="six sevens", reasoning_shape="parts",
                          json_body=True), Scenario(text="42.", reasoning="six sevens",
                                                    reasoning_shape="parts"))
    _, final = app.chat(app.client(), "6 x 7?")

    step, text = final
    assert (step["content"], text) == ("six sevens", "42.")


def test_only_choice_zero_is_the_reply_when_a_chunk_has_several(app, fake):
    fake.enqueue(Scenario(text="The first choice.", choices=3))
    _, final = app.chat(app.client(), "Hi")

    assert final == "The first choice."


@pytest.mark.parametrize("quirk", ["keepalive", "leading_blank_lines", "split_utf8", "azure_filter"])
def test_transport_quirks_do_not_change_the_reply(app, fake, quirk):
    fake.enqueue(Scenario(text=TEXT, **{quirk: True}))
    _, final = app.chat(app.client(), "Hi")

    assert final == TEXT
    assert len(model_posts(fake)) == 1


def test_an_event_error_line_mid_stream_keeps_the_text_and_says_what_the_server_said(app, fake):
    fake.enqueue(Scenario(n_tokens=6, fault_after=2, fault="event_error_line",
                          error_message="worker lost"))
    _, final = app.chat(app.client(), "Hi")

    text, mark = final
    assert text == "w0 w1 "
    assert mark["metadata"].get("title", "") == ("⚠️ Reply incomplete: The model server reported an "
                                         "error: worker lost")
