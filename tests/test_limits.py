"""Per-user limits: requests a minute, replies at once, tokens a day, by owner and address."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any, Iterator

import pytest

from assistant.quotas.meter import Admission, UsageMeter, limit_keys
from assistant.quotas.policy import DAY, Exceeded, LimitSettings
from assistant.web.client_address import client_address, parse_proxies
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.conftest import FAKE_MODEL, Clock, RunningApp, model_posts, start_app

MIDNIGHT = 1_795_000_000 // DAY * DAY  # a UTC midnight


def admitted(meter: UsageMeter, *keys: str) -> Admission:
    result = meter.admit(keys)
    assert isinstance(result, Admission), result
    result.release()
    return result


def test_requests_a_minute_refuse_the_next_and_say_when_to_try_again():
    clock = Clock(MIDNIGHT + 100)
    meter = UsageMeter(LimitSettings(requests_per_minute=3), clock)
    for _ in range(3):
        admitted(meter, "user:ann")
        clock.now += 10
    refused = meter.admit(["user:ann"])

    assert isinstance(refused, Exceeded) and refused.limit == "requests"
    assert refused.retry_at == pytest.approx(MIDNIGHT + 160)  # when the first leaves the window
    assert "3 messages in the last minute" in refused.message(clock.now)
    assert "Try again in 30 s" in refused.message(clock.now)
    admitted(meter, "user:bob")  # others are not limited by ann
    clock.now = MIDNIGHT + 161
    admitted(meter, "user:ann")


def test_a_refused_turn_counts_under_none_of_its_keys():
    clock = Clock(MIDNIGHT)
    meter = UsageMeter(LimitSettings(requests_per_minute=1), clock)
    admitted(meter, "ip:10.0.0.9")
    assert isinstance(meter.admit(["anon:new", "ip:10.0.0.9"]), Exceeded)
    admitted(meter, "anon:new")  # its refused turn was not counted under anon:new


def test_replies_at_once_free_a_slot_when_one_ends():
    meter = UsageMeter(LimitSettings(concurrent_streams=2), Clock(MIDNIGHT))
    first, second = meter.admit(["user:ann"]), meter.admit(["user:ann"])
    refused = meter.admit(["user:ann"])
    assert isinstance(refused, Exceeded) and "2 replies being written" in refused.message(0)
    assert isinstance(first, Admission) and isinstance(second, Admission)
    with first:
        pass
    assert isinstance(meter.admit(["user:ann"]), Admission)


def test_tokens_a_day_run_out_and_come_back_at_midnight_utc():
    clock = Clock(MIDNIGHT + 22 * 3600)
    meter = UsageMeter(LimitSettings(tokens_per_day=1000), clock)
    meter.record_tokens(["user:ann"], 600)
    assert meter.usage("user:ann").tokens_left == 400
    admitted(meter, "user:ann")
    meter.record_tokens(["user:ann"], 500)
    refused = meter.admit(["user:ann"])

    assert isinstance(refused, Exceeded) and refused.retry_at == MIDNIGHT + DAY
    assert "today's 1,000 tokens" in refused.message(clock.now)
    assert "after 00:00 UTC (in 2 h 00 min)" in refused.message(clock.now)
    clock.now = MIDNIGHT + DAY + 1
    assert meter.usage("user:ann").tokens_left == 1000
    admitted(meter, "user:ann")


def test_switched_off_limits_admit_everything():
    meter = UsageMeter(LimitSettings(), Clock(MIDNIGHT))
    for _ in range(1000):
        meter.admit(["user:ann"])
    meter.record_tokens(["user:ann"], 10**9)
    assert isinstance(meter.admit(["user:ann"]), Admission)
    assert meter.usage("user:ann").tokens_left is None


def test_anonymous_visitors_count_by_id_and_address_signed_in_users_by_name():
    assert list(limit_keys("anon:x1", "10.1.2.3")) == ["anon:x1", "ip:10.1.2.3"]
    assert list(limit_keys(None, "10.1.2.3")) == ["ip:10.1.2.3"]
    assert list(limit_keys("user:ann", "10.1.2.3")) == ["user:ann"]


def request(peer: str, forwarded: str | None = None) -> Any:
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    return SimpleNamespace(client=SimpleNamespace(host=peer), headers=headers)


def test_forwarded_for_is_believed_only_from_a_trusted_proxy():
    proxies = parse_proxies("10.0.0.1, 172.16.0.0/12")
    assert client_address(request("203.0.113.7", "1.2.3.4"), proxies) == "203.0.113.7"
    assert client_address(request("10.0.0.1", "6.6.6.6, 198.51.100.2"), proxies) == "198.51.100.2"
    assert client_address(request("10.0.0.1", "198.51.100.2, 172.16.3.4"), proxies) == \
        "198.51.100.2"  # the nearest hop that no trusted proxy owns
    assert client_address(request("10.9.9.9", "6.6.6.6, 198.51.100.2"), (), on_spaces=True) == \
        "198.51.100.2"
    with pytest.raises(ValueError):
        parse_proxies("not-an-address")


# Through the real app: the page's /chat, an injected clock, the fake upstream.

@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(MIDNIGHT + 12 * 3600)


@pytest.fixture(scope="module")
def limited_app(fake_server: FakeOpenAI, clock: Clock, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[RunningApp]:
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_AUTH": "ann:ann-pw,bob:bob-pw,cy:cy-pw",
                     "ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("limits")),
                     "ASSISTANT_REQUESTS_PER_MINUTE": "2", "ASSISTANT_CONCURRENT_STREAMS": "1",
                     "ASSISTANT_TOKENS_PER_DAY": "60"}, clock=clock)
    yield app
    app.close()


def chat(client: Any, text: str) -> str:
    job = client.submit(text, FAKE_MODEL, 0.7, "", 10, 1024, False, "chat_completions", [],
                        False, api_name="/chat")
    list(job)
    return json.dumps(job.result(), ensure_ascii=False)


def test_the_api_meets_each_limit_with_its_message_and_nothing_upstream(limited_app, fake, clock):
    ann = limited_app.client(auth=("ann", "ann-pw"))
    fake.enqueue(Scenario(text="One."), Scenario(text="Two."))
    assert "One." in chat(ann, "first") and "Two." in chat(ann, "second")
    sent = len(model_posts(fake))
    refused = chat(ann, "third")

    assert "2 messages in the last minute" in refused and "Try again in" in refused
    assert len(model_posts(fake)) == sent
    clock.now += 61
    fake.enqueue(Scenario(text="Three."))
    assert "Three." in chat(ann, "third again")


def test_tokens_a_day_are_counted_from_replies_and_shown_left(limited_app, fake, clock):
    bob = limited_app.client(auth=("bob", "bob-pw"))
    fake.enqueue(Scenario(text="word " * 70))  # more than the day's 60 tokens
    chat(bob, "talk a lot")
    sent = len(model_posts(fake))
    refused = chat(bob, "more")

    assert "today's 60 tokens" in refused and "00:00 UTC" in refused
    assert len(model_posts(fake)) == sent
    assert limited_app.app.limits.left_today(None, "user:bob") == "0 of 60 tokens left today"
    clock.now += DAY
    fake.enqueue(Scenario(text="Fresh."))
    assert "Fresh." in chat(bob, "a new day")


def test_a_second_reply_at_once_is_refused_while_the_first_streams(limited_app, fake):
    cy = limited_app.client(auth=("cy", "cy-pw"))
    other = limited_app.client(auth=("cy", "cy-pw"))
    fake.enqueue(Scenario(text="Slow reply.", hang_before_headers=1.5))
    job = cy.submit("slow", FAKE_MODEL, 0.7, "", 10, 1024, False, "chat_completions", [], False,
                    api_name="/chat")
    assert fake.wait_for_requests(len(fake.requests) + 1)
    refused = chat(other, "meanwhile")
    list(job)

    assert "1 reply being written" in refused
    assert "Slow reply." in json.dumps(job.result())
