"""The operators' figures: tallies of replies, their daily sums on both databases, consent
to show one's questions, the topics made of them, and the dashboard's arithmetic."""

from __future__ import annotations

import pytest

from assistant.app.settings import BadSetting, load_settings
from assistant.domain.events import Failed, Finished, TextDelta, ToolFinished, ToolStarted, Usage
from assistant.domain.failures import Failure
from assistant.domain.messages import ToolCall, ToolResult
from assistant.domain.reply import Place, Reply
from assistant.domain.tally import DAY, ReplyTally, ToolTally, bucket_seconds, ttft_bucket
from assistant.domain.validation import ReplyOptions
from assistant.insights.dashboard import build_dashboard, cost, owner_name, percentile
from assistant.insights.topics import topics
from assistant.quotas.policy import LimitSettings

TODAY = 20_000  # a day number: 2024-10-04
NOON = TODAY * DAY + 43_200.0
OPTIONS = ReplyOptions(model="gpt-4o-mini", temperature=0.5, system_prompt="", history_turns=0,
                       max_tokens=100)


def finished_reply(owner: str = "user:ann") -> Reply:
    reply = Reply("openai", "gpt-4o-mini", OPTIONS, "What is 6 times 7?",
                  place=Place(owner=owner))
    reply.fold([ToolStarted(ToolCall("c1", "calculator", "{}"), 0)])
    reply.fold([ToolFinished(ToolResult("c1", "calculator", "42"), 0.25), Usage(100, 10)])
    reply.fold([TextDelta("Forty-two."), Usage(120, 5), Finished("stop")])
    return reply


def test_a_reply_s_tally_has_its_day_tokens_first_token_and_tools():
    reply = finished_reply()
    tally = ReplyTally.of(reply, NOON)
    assert (tally.day, tally.owner, tally.outcome) == (TODAY, "user:ann", "complete")
    assert (tally.prompt_tokens, tally.completion_tokens) == (220, 15)
    assert tally.tools == (ToolTally("calculator", False, 0.25),)
    first = reply.first_token - reply.started
    assert tally.ttft_bucket == ttft_bucket(first)

    failed = Reply("openai", "gpt-4o", OPTIONS, "Hi")
    failed.prompt_tokens = 40  # our estimate: the server reported nothing, so used nothing
    failed.fold([Failed(Failure("server_error", "The model server failed."))])
    assert ReplyTally.of(failed, NOON).outcome == "failed:server_error"
    assert ReplyTally.of(failed, NOON).prompt_tokens == 0
    assert ReplyTally.of(failed, NOON).owner == ""
    assert ReplyTally.limit_hit("user:bob", "tokens", NOON).outcome == "limit:tokens"


def test_time_to_first_token_buckets_keep_a_percentile_within_five_percent():
    for seconds in (0.004, 0.08, 0.35, 1.7, 12.0):
        assert abs(bucket_seconds(ttft_bucket(seconds)) - seconds) / seconds < 0.05
    histogram = [(ttft_bucket(0.1), 90), (ttft_bucket(2.0), 10)]
    assert percentile(histogram, 0.5) == pytest.approx(0.1, rel=0.05)
    assert percentile(histogram, 0.95) == pytest.approx(2.0, rel=0.05)
    assert percentile([], 0.5) is None


def test_costs_follow_list_prices_and_are_unknown_for_other_servers():
    assert cost("openai", "gpt-4o-mini-2024-07-18", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost("openai", "gpt-4o", 1_000_000, 0) == pytest.approx(2.5)
    assert cost("local", "smollm2", 10**6, 10**6) == 0.0
    assert cost("custom", "gpt-4o", 10, 10) is None
    assert cost("visitor", "gpt-4o", 10**6, 10**6) == 0.0  # the visitor's own key pays
    assert cost("openai", "my-fine-tune", 10, 10) is None


def test_topics_group_questions_by_shared_words_and_name_them_as_written():
    questions = ["How do I export my chats to PDF?", "Can I export chats as markdown?",
                 "Exporting a chat fails", "What is the weather in Paris?",
                 "Weather in Lyon tomorrow", "Write a poem about cats"]
    found, left = topics(questions)
    assert [(t.name, t.questions) for t in found] == [("export chats", 3), ("weather", 2)]
    assert found[0].examples == tuple(questions[:3])
    assert left == 1
    assert topics(["one question only"]) == ([], 1)


def test_owners_are_named_without_their_anonymous_ids():
    assert owner_name("user:ann") == "ann"
    assert owner_name("hf:bob") == "bob (Hugging Face)"
    assert owner_name("anon:0123456789abcdef") == "anonymous 01234567"


def test_admins_need_a_way_to_sign_in():
    with pytest.raises(BadSetting, match="ASSISTANT_ADMINS"):
        load_settings([], environ={"ASSISTANT_ADMINS": "ann"})
    with pytest.raises(BadSetting, match="not a user name"):
        load_settings([], environ={"ASSISTANT_ADMINS": "ann:x", "ASSISTANT_AUTH": "ann:pw"})
    with pytest.raises(BadSetting, match="Hugging Face"):  # sign-in with it is off
        load_settings([], environ={"ASSISTANT_ADMINS": "hf:bob", "ASSISTANT_AUTH": "ann:pw"})
    with pytest.raises(BadSetting, match="stand-in"):  # public, off Spaces: Gradio's mock
        load_settings([], environ={"ASSISTANT_ADMINS": "hf:bob", "ASSISTANT_HF_LOGIN": "on",
                                   "ASSISTANT_HOST": "0.0.0.0"})
    settings = load_settings([], environ={"ASSISTANT_ADMINS": "ann, hf:bob",
                                          "ASSISTANT_AUTH": "ann:pw", "ASSISTANT_HF_LOGIN": "on"})
    assert settings.admins == ("user:ann", "hf:bob")


# Both databases ------------------------------------------------------------------------

def test_replies_add_up_per_day_backend_model_and_user(any_store):
    reply = finished_reply()
    for _ in range(2):
        any_store.count_reply(ReplyTally.of(reply, NOON))
    any_store.count_reply(ReplyTally.of(finished_reply("user:bob"), NOON - DAY))
    any_store.count_reply(ReplyTally.limit_hit("user:bob", "requests", NOON))
    any_store.count_reply(ReplyTally.of(reply, NOON - 9 * DAY))  # outside the week

    week = build_dashboard(any_store, 7, NOON, {"openai": "openai"}, LimitSettings(tokens_per_day=1000))
    assert week.replies[-2:] == [1, 2] and sum(week.replies) == 3
    assert week.active_users[-2:] == [1, 1]
    assert week.tokens[-1] == {"openai": 2 * 235}
    assert week.outcomes == {"complete": 3, "limit hit: requests": 1}
    [usage] = week.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (3 * 220, 3 * 15)
    assert usage.cost == pytest.approx((660 * 0.15 + 45 * 0.60) / 1e6)
    [tool] = week.tools
    assert (tool.tool, tool.calls, tool.failures) == ("calculator", 3, 0)
    assert tool.mean_seconds == pytest.approx(0.25)
    assert [(u.name, u.replies, u.tokens, u.limit_hits, u.today) for u in week.users] == [
        ("ann", 2, 470, 0, "470 of 1,000"), ("bob", 1, 235, 1, "0 of 1,000")]
    assert week.ttft[-1][0] is not None and week.ttft[0] == (None, None)
    today = build_dashboard(any_store, 1, NOON, {}, LimitSettings())
    assert today.replies == [2] and today.usage[0].cost is None


def test_questions_show_only_while_their_owner_consents(any_store):
    def ask(owner: str, text: str) -> int:
        chat = any_store.create_conversation(owner)
        return any_store.add_message(owner, chat, "user", text)

    ask("user:ann", "How do I export my chats?")  # before she said yes: never listed
    any_store.set_consent("user:ann", True, NOON)
    assert any_store.consents("user:ann") and not any_store.consents("user:bob")
    ask("user:ann", "Can I export chats as PDF?")
    ask("user:bob", "Does export work for bob?")  # bob never said yes
    assert any_store.shared_questions(0, 10) == ["Can I export chats as PDF?"]

    any_store.set_consent("user:ann", False, NOON)
    assert any_store.shared_questions(0, 10) == [] and not any_store.consents("user:ann")
    any_store.set_consent("user:ann", True, NOON)
    assert any_store.shared_questions(0, 10) == []  # saying yes again shares only what follows

    ask("user:ann", "Another question")
    assert any_store.shared_questions(0, 10) == ["Another question"]
    any_store.count_reply(ReplyTally.of(finished_reply(), NOON))
    any_store.delete_owner("user:ann")
    assert any_store.shared_questions(0, 10) == [] and not any_store.consents("user:ann")
    assert build_dashboard(any_store, 1, NOON, {}, LimitSettings()).users == []


def test_deleting_a_chat_takes_its_questions_out_of_the_view(any_store):
    any_store.set_consent("user:ann", True, NOON)
    chat = any_store.create_conversation("user:ann")
    any_store.add_message("user:ann", chat, "user", "Where is my invoice?")
    assert any_store.shared_questions(0, 10) == ["Where is my invoice?"]
    any_store.delete_conversation("user:ann", chat)
    assert any_store.shared_questions(0, 10) == []
