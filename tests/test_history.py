"""Normalising Gradio's two history shapes, and trimming what is sent."""

from __future__ import annotations

import pytest

from assistant.conversation import history as core
from assistant.conversation.history import (
    CONTINUE_INSTRUCTION,
    DoesNotFit,
    Exchange,
    build_messages,
    estimate_tokens,
)
from assistant.domain.messages import Image, Message, Reasoning, Text, ToolCall, ToolResult
from assistant.web.chatbot_history import history_messages
from assistant.web.render import INCOMPLETE_NOTICE_ID


def exchanges(history):
    return core.exchanges(history_messages(history))


def prepare_turn(history, message, continues=False):
    return core.prepare_turn(history_messages(history), message, continues)

UI_SHAPE = [
    {"role": "user", "content": [{"type": "text", "text": "Hi"}], "metadata": None, "options": None},
    {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}], "metadata": None},
]
API_SHAPE = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]


def _incomplete(text: str) -> list[dict]:
    return [
        {"role": "user", "content": "Tell me a story"},
        {"role": "assistant", "content": text},
        {"role": "assistant", "content": "", "metadata": {"title": "⚠️ Reply incomplete",
                                                          "id": INCOMPLETE_NOTICE_ID}},
    ]


@pytest.mark.parametrize("history", [UI_SHAPE, API_SHAPE], ids=["browser", "api"])
def test_both_history_shapes_give_the_same_exchanges(history):
    [exchange] = exchanges(history)
    assert (exchange.user, exchange.assistant, exchange.incomplete) == ("Hi", "Hello!", False)


def test_notices_are_never_sent_back_to_the_model():
    history = API_SHAPE + [
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "", "metadata": {"title": "⏳ Retrying", "id": "retrying"}},
        {"role": "assistant", "content": "done"},
    ]
    assert [(e.user, e.assistant) for e in exchanges(history)] == [("Hi", "Hello!"), ("again", "done")]


def test_file_parts_are_skipped_and_text_parts_joined():
    history = [{"role": "user", "content": [{"type": "file", "file": {"path": "/x.png"}},
                                            {"type": "text", "text": "what is this"}]}]
    assert exchanges(history)[0].user == "what is this"


def test_continuing_sends_the_partial_text_and_asks_to_carry_on():
    past, user = prepare_turn(_incomplete("Once upon a"), "", continues=True)
    assert user == CONTINUE_INSTRUCTION
    assert (past[-1].user, past[-1].assistant) == ("Tell me a story", "Once upon a")


def test_a_continuation_joins_the_partial_reply_and_decides_whether_it_is_complete():
    history = [Message.of("user", "Tell me a story"),
               Message("assistant", (Text("Once upon a"),), incomplete=True),
               Message.of("assistant", " time.")]
    [exchange] = core.exchanges(history)
    assert (exchange.assistant, exchange.incomplete) == ("Once upon a time.", False)


@pytest.mark.parametrize("word", ["Continue", "Regenerate"])
def test_continue_or_regenerate_typed_is_an_ordinary_message_even_after_a_cut_reply(word):
    past, user = prepare_turn(_incomplete("Once upon a"), word)
    assert user == word
    assert [(e.user, e.assistant, e.incomplete) for e in past] == [
        ("Tell me a story", "Once upon a", True)]


def test_each_round_of_tool_calls_is_sent_as_calls_then_results_with_their_own_ids():
    exchange = Exchange("Weather in Oslo and Paris?", assistant="Both mild.", tool_parts=[
        Reasoning("I should look both up."),
        ToolCall("call_a", "weather", '{"city": "Oslo"}'),
        ToolCall("call_b", "weather", '{"city": "Paris"}'),
        ToolResult("call_a", "weather", "9 °C"), ToolResult("call_b", "weather", "14 °C"),
        ToolCall("call_c", "clock", "{}"), ToolResult("call_c", "clock", "noon")])
    sent = exchange.replies()
    assert [m.role for m in sent] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert [p.call_id for p in sent[0].parts] == ["call_a", "call_b"]
    assert [p.call_id for p in sent[1].parts] == ["call_a", "call_b"]
    assert "9 °C" in sent[1].parts[0].output and sent[2].parts[0].call_id == "call_c"
    assert not any(isinstance(p, Reasoning) for m in sent for p in m.parts)
    assert sent[-1] == Message.of("assistant", "Both mild.")


def test_history_is_trimmed_oldest_first_to_fit_the_context_window():
    long_turns = exchanges([{"role": "user", "content": "x" * 3000},
                            {"role": "assistant", "content": "y" * 3000}] * 10)
    messages = build_messages(system_prompt="sys", history=long_turns, user_message="new",
                              history_turns=10, context_window=8192, max_tokens=1024)
    assert messages[0] == Message.of("system", "sys")
    assert messages[-1] == Message.of("user", "new")
    sent_turns = (len(messages) - 2) // 2
    assert 0 < sent_turns < 10
    assert sum(estimate_tokens(m.text) for m in messages) < 8192 - 1024


def test_a_message_too_long_for_the_context_window_is_refused():
    with pytest.raises(DoesNotFit):
        build_messages(system_prompt="", history=[], user_message="word " * 20_000,
                       history_turns=0, context_window=4096, max_tokens=256)


def test_token_estimates_work_offline_and_count_non_latin_text_higher():
    assert estimate_tokens("hello world") < estimate_tokens("こんにちは世界")
    assert estimate_tokens("a" * 4000) >= 1000


PICTURE = Image("image/png", b"png-bytes", "a.png")


@pytest.mark.parametrize("file_part", [
    {"type": "file", "file": "/up/a.png"},  # the /chat API's history
    {"type": "file", "file": {"path": "/up/a.png", "mime_type": "image/png"}},  # the page's
    {"path": "/up/a.png"},
])
def test_an_earlier_image_is_sent_again_only_within_the_image_allowance(file_part):
    history = [{"role": "user", "content": [file_part, {"type": "text", "text": "What is it?"}]},
               {"role": "assistant", "content": "A cat."}]
    past = core.exchanges(history_messages(history, {"/up/a.png": PICTURE}))
    assert past[0].user == "What is it?" and past[0].images == (PICTURE,)

    def sent(allowance: int) -> tuple[Image, ...]:
        messages = build_messages(system_prompt="", history=past, user_message="Its colour?",
                                  history_turns=10, context_window=8192, max_tokens=256,
                                  earlier_images=allowance)
        return tuple(i for m in messages for i in m.images)

    assert sent(4) == (PICTURE,) and sent(0) == ()
    assert history_messages(history)[0].images == ()  # a path not prepared is never read


def test_a_conversation_that_ends_with_tool_results_is_answered_without_a_new_message():
    history = [Message.of("user", "Weather in Oslo?"),
               Message("assistant", (Text("Let me look."),
                                     ToolCall("call_a", "get_weather", '{"city": "Oslo"}'))),
               Message("tool", (ToolResult("call_a", "get_weather", "Sunny"),))]
    past, user = core.prepare_turn(history, "", continues=True)
    assert user is None
    sent = core.build_messages(system_prompt="", history=past, user_message=user,
                               history_turns=10, context_window=8000, max_tokens=100)
    assert [m.role for m in sent] == ["user", "assistant", "tool"]
    assert sent[1].text == "Let me look." and sent[1].parts[1].call_id == "call_a"
    assert "Sunny" in sent[2].parts[0].output
