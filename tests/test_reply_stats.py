"""The one-line summary under a reply (assistant/reply_stats.py)."""

from __future__ import annotations

from assistant.domain.failures import Failure
from assistant.domain.reply import Reply
from assistant.domain.validation import ReplyOptions
from assistant.web.reply_stats import format_stats

OPTIONS = ReplyOptions("gpt-4.1-mini", 0.7, "", 10, 1024)


def make_reply(**fields) -> Reply:
    values = dict(backend="openai", model="gpt-4.1-mini", options=OPTIONS, user_message="Hi",
                  started=100.0, first_token=100.42, ended=105.42, text="w " * 250,
                  prompt_tokens=1000, completion_tokens=250, usage_estimated=False,
                  outcome="complete")
    values.update(fields)
    return Reply(**values)


def test_a_complete_reply_shows_first_token_speed_tokens_and_cost():
    # gpt-4.1-mini: $0.40 in, $1.60 out per million: 1000*0.4 + 250*1.6 = 800 µ$
    assert format_stats(make_reply()) == (
        "0.42 s to first token · 50 tokens/s · 1,000 → 250 tokens · $0.0008")


def test_estimated_counts_are_marked_everywhere_they_are_used():
    line = format_stats(make_reply(usage_estimated=True))
    assert line == ("0.42 s to first token · ~50 tokens/s · ~1,000 → ~250 tokens (est.)"
                    " · ~$0.0008")


def test_an_unknown_model_has_no_cost():
    line = format_stats(make_reply(model="fake-model"))
    assert line == "0.42 s to first token · 50 tokens/s · 1,000 → 250 tokens"
    assert "$" not in line


def test_a_dated_snapshot_is_priced_like_its_model():
    assert format_stats(make_reply(model="gpt-4.1-mini-2025-04-14")).endswith("$0.0008")


def test_costs_are_rounded_for_reading():
    assert format_stats(make_reply(prompt_tokens=10, completion_tokens=10)).endswith("<$0.0001")
    big = make_reply(model="gpt-4.1", prompt_tokens=500_000, completion_tokens=30_000)
    assert format_stats(big).endswith("$1.24")  # 500k*2 + 30k*8 = 1.24 $


def test_a_reply_that_failed_before_any_text_shows_only_its_estimated_prompt():
    reply = make_reply(first_token=None, text="", completion_tokens=0, prompt_tokens=12,
                       usage_estimated=True, outcome="failed",
                       failure=Failure("unreachable", "Could not reach the model server."))
    assert format_stats(reply) == "~12 → ~0 tokens (est.) · <$0.0001"


def test_a_reply_still_streaming_shows_what_is_known():
    reply = make_reply(ended=None, prompt_tokens=None, completion_tokens=None, outcome="streaming")
    assert format_stats(reply) == "0.42 s to first token"


def test_no_rate_for_a_reply_that_arrived_at_once():
    line = format_stats(make_reply(ended=100.43))
    assert "tokens/s" not in line
    assert line.startswith("0.42 s to first token · 1,000 → 250 tokens")


def test_slow_rates_and_long_waits_keep_a_sensible_precision():
    line = format_stats(make_reply(started=0.0, first_token=12.5, ended=112.5,
                                   completion_tokens=250))
    assert line.startswith("12.5 s to first token · 2.5 tokens/s")


def test_nothing_known_gives_an_empty_line():
    reply = make_reply(first_token=None, ended=None, prompt_tokens=None, completion_tokens=None)
    assert format_stats(reply) == ""


def test_the_summary_is_one_line_without_content():
    reply = make_reply(user_message="secret question sk-abcdef123456", text="secret answer")
    line = format_stats(reply)
    assert "\n" not in line and "secret" not in line and "sk-" not in line
