"""Per-user limits with several replicas: counted in the PostgreSQL database they share."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.quotas.policy import DAY, Exceeded, LimitSettings
from assistant.storage.postgres.store import PostgresStore
from fakes.fake_openai import FakeOpenAI, Scenario
from tests.conftest import FAKE_MODEL, Clock, model_posts, start_app

NOON = 20_000 * DAY + 12 * 3600


def test_a_dead_replicas_stream_slots_are_freed_with_its_replies(database_url):
    one_at_a_time = LimitSettings(concurrent_streams=1)
    with PostgresStore(database_url, "alive") as store:
        assert store.usage.admit(["user:ann"], NOON, one_at_a_time, "dead") != []
        assert isinstance(store.usage.admit(["user:ann"], NOON, one_at_a_time, "alive"), Exceeded)
        store.beat("alive", NOON)
        store.mark_interrupted("stopped", alive_since=NOON - 3)
        slots = store.usage.admit(["user:ann"], NOON, one_at_a_time, "alive")
        assert not isinstance(slots, Exceeded)
        store.usage.release(slots)
        store.flush()
        assert not isinstance(store.usage.admit(["user:ann"], NOON, one_at_a_time, "alive"),
                              Exceeded)


def test_two_replicas_count_one_users_messages_and_tokens_together(
        fake_server: FakeOpenAI, fake, database_url, tmp_path: Path):
    clock = Clock(NOON)
    env = {"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
           "ASSISTANT_DATABASE_URL": database_url, "ASSISTANT_AUTH": "ann:ann-pw",
           "ASSISTANT_REQUESTS_PER_MINUTE": "2", "ASSISTANT_TOKENS_PER_DAY": "60"}
    one = start_app({**env, "ASSISTANT_DATA_DIR": str(tmp_path / "one")}, clock=clock)
    two = start_app({**env, "ASSISTANT_DATA_DIR": str(tmp_path / "two")}, clock=clock)
    try:
        ann_one, ann_two = one.client(auth=("ann", "ann-pw")), two.client(auth=("ann", "ann-pw"))
        fake.enqueue(Scenario(text="One."), Scenario(text="Two."))
        assert one.chat(ann_one, "first")[1] == "One."
        assert two.chat(ann_two, "second")[1] == "Two."
        sent = len(model_posts(fake))
        for app, ann in ((one, ann_one), (two, ann_two)):
            assert "2 messages in the last minute" in json.dumps(app.chat(ann, "third")[1])
        assert len(model_posts(fake)) == sent

        clock.now += 61
        fake.enqueue(Scenario(text="word " * 70))  # more than the day's 60 tokens
        two.chat(ann_two, "talk a lot")
        two.app.store.flush()
        refused = json.dumps(one.chat(ann_one, "more")[1], ensure_ascii=False)
        assert "today's 60 tokens" in refused
        assert one.app.limits.left_today(None, "user:ann") == "0 of 60 tokens left today"
    finally:
        one.close()
        two.close()
