"""The chat through the running app's /chat API, against our fake OpenAI server."""

from __future__ import annotations

from fakes.fake_openai import Scenario
from tests.conftest import FAKE_MODEL

REPLY = "Streaming works: one token at a time, all the way to the browser."


def test_partial_replies_grow_to_exactly_the_text_sent(app, fake):
    fake.default = Scenario(text=REPLY, rate=200)
    updates, final = app.chat(app.client(), "Hello")

    assert final == REPLY
    texts = [u for u in updates if isinstance(u, str)]
    assert len(texts) >= 3, "the reply should arrive in several updates"
    for shorter, longer in zip(texts, texts[1:]):
        assert longer.startswith(shorter)
    assert texts[-1] == REPLY


def test_every_sidebar_setting_reaches_the_upstream_request(app, fake):
    fake.default = Scenario(text="ok")
    app.chat(app.client(), "Hi there", "other-model", 1.25, "Answer in French.", 4, 77)

    body = fake.requests[-1].body
    assert body["model"] == "other-model"
    assert body["temperature"] == 1.25
    assert body["max_tokens"] == 77
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hi there"},
    ]


def test_defaults_work_for_every_input_after_message(app, fake):
    fake.default = Scenario(text="defaults ok")
    _, final = app.chat(app.client(), "Only a message")

    assert final == "defaults ok"
    body = fake.requests[-1].body
    assert body["model"] == FAKE_MODEL
    assert 0 <= body["temperature"] <= 2
    assert body["max_tokens"] >= 1
    assert body["messages"][0]["role"] == "system"


def test_a_second_turn_carries_the_first(app, fake):
    client = app.client()
    fake.enqueue(Scenario(text="Paris."), Scenario(text="About 2.1 million."))
    app.chat(client, "What is the capital of France?")
    _, final = app.chat(client, "How many people live there?")

    assert final == "About 2.1 million."
    messages = fake.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[1]["content"] == "What is the capital of France?"
    assert messages[2]["content"] == "Paris."
    assert messages[3]["content"] == "How many people live there?"


def test_history_length_limits_the_turns_sent(app, fake):
    client = app.client()
    for i in range(3):
        fake.enqueue(Scenario(text=f"answer {i}"))
        app.chat(client, f"question {i}", FAKE_MODEL, 0.7, "", 1, 50)
    fake.enqueue(Scenario(text="last"))
    app.chat(client, "question 3", FAKE_MODEL, 0.7, "", 1, 50)

    contents = [m["content"] for m in fake.requests[-1].body["messages"]]
    assert contents == ["question 2", "answer 2", "question 3"]


def test_history_length_zero_sends_no_earlier_turns(app, fake):
    client = app.client()
    fake.enqueue(Scenario(text="first"), Scenario(text="second"))
    app.chat(client, "one", FAKE_MODEL, 0.7, "sys", 0, 50)
    app.chat(client, "two", FAKE_MODEL, 0.7, "sys", 0, 50)

    assert fake.requests[-1].body["messages"] == [
        {"role": "system", "content": "sys"}, {"role": "user", "content": "two"}]


def test_a_fast_stream_is_coalesced_into_at_most_25_updates_a_second(app, fake):
    fake.default = Scenario(n_tokens=1000, rate=2000)  # half a second of tokens
    updates, final = app.chat(app.client(), "Go fast")

    assert final == "".join(f"w{i} " for i in range(1000))
    # 0.5 s of streaming at <= 25 updates/s is ~13 updates, plus the first and the final one
    assert 2 <= len(updates) <= 25



def test_a_complete_reply_ends_with_its_stats_line_from_the_servers_usage(app, fake):
    fake.default = Scenario(text="Priced reply.")
    job = app.client().submit("Hello", "gpt-4.1-mini", api_name="/chat")
    final = job.result()

    text, stats = final
    assert text == "Priced reply."
    title = stats["content"]
    assert stats["metadata"]["id"] == "stats"
    assert "to first token" in title and "tokens" in title
    assert "(est.)" not in title  # the fake server reported usage
    assert "$" in title  # gpt-4.1-mini has a known price


def test_without_usage_from_the_server_each_streamed_piece_counts_as_a_token(app, fake):
    fake.default = Scenario(n_tokens=40, usage=False)
    text, stats = app.client().submit("Hello", api_name="/chat").result()

    assert text.endswith("w39 ")
    assert "→ ~40 tokens (est.)" in stats["content"]


def test_an_incomplete_reply_carries_its_stats_in_the_notice(app, fake):
    fake.enqueue(Scenario(n_tokens=10, fault_after=3, fault="drop"))
    final = app.client().submit("Hello", api_name="/chat").result()

    text, notice = final
    assert text == "w0 w1 w2 "
    assert "Reply incomplete" in notice["metadata"].get("title", "")
    assert "tokens" in notice["metadata"]["log"] and "(est.)" in notice["metadata"]["log"]
