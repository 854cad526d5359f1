"""Moderation: OpenAI's model on the fake server's /v1/moderations, and the offline blocklist."""

from __future__ import annotations

import base64
import logging
from pathlib import Path
from typing import Any

import pytest
from gradio_client import handle_file

from assistant.conversation.moderation import Blocklist
from assistant.web.stored_chat import chat_messages
from fakes.fake_openai import Scenario
from tests.conftest import CHAT_INPUTS, FAKE_MODEL, model_posts, run_in_process, start_app

FLAGGED = "kill them all"  # what the fake's /v1/moderations flags (fakes/fake_openai.py)
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4z8DwHwAFAAH/"
                       "q842iQAAAABJRU5ErkJggg==")


@pytest.fixture(scope="module")
def blocklist(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("moderation") / "blocklist.txt"
    path.write_text("# words, and /regular expressions/\nforbidden phrase\n/sec+ret-\\d+/\n")
    return path


def moderated_app(fake_server, folder: Path, **env: str) -> Any:
    return start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                      "ASSISTANT_DATA_DIR": str(folder), "ASSISTANT_MODERATION": "openai",
                      "ASSISTANT_AUTH": "ann:ann-pw", **env})


@pytest.fixture(scope="module")
def strict(fake_server, tmp_path_factory, blocklist):
    """Fails closed (the default), with a blocklist, and message text in the log."""
    app = moderated_app(fake_server, tmp_path_factory.mktemp("strict"),
                        ASSISTANT_BLOCKLIST=str(blocklist), ASSISTANT_LOG_CONTENT="on")
    yield app
    app.close()


@pytest.fixture(scope="module")
def lenient(fake_server, tmp_path_factory):
    app = moderated_app(fake_server, tmp_path_factory.mktemp("lenient"),
                        ASSISTANT_MODERATION_FAIL="open")
    yield app
    app.close()


def chat(app: Any, client: Any, message: Any) -> tuple[list[Any], list[Any]]:
    """Every streamed value and the final one, as lists of messages."""
    job = client.submit(message, *CHAT_INPUTS, "chat_completions", [], False, api_name="/chat")
    updates = [u if isinstance(u, list) else [u] for u in job]
    final = job.result()
    return updates, final if isinstance(final, list) else [final]


def text_of(messages: list[Any]) -> str:
    return "\n".join(m if isinstance(m, str) else
                     str(m.get("content") or "") + str((m.get("metadata") or {}).get("title") or "")
                     for m in messages)


def moderation_posts(fake) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("/moderations")]


def flagged_count(app: Any) -> float:
    return app.app.metrics.registry.get_sample_value(
        "assistant_replies_total", {"backend": "custom", "model": FAKE_MODEL,
                                    "outcome": "flagged"}) or 0.0


def test_a_message_that_passes_is_answered_and_was_checked_while_the_model_started(strict, fake):
    fake.moderation_delay = 0.3
    fake.enqueue(Scenario(text="Paris is the capital."))
    _, final = chat(strict, strict.client(auth=("ann", "ann-pw")), "What is the capital?")

    assert "Paris is the capital." in text_of(final)
    [check] = moderation_posts(fake)
    assert check.body["model"] == "omni-moderation-latest"
    assert check.body["input"] == [{"type": "text", "text": "What is the capital?"}]
    [answer] = model_posts(fake)
    assert answer.time < check.time + fake.moderation_delay  # sent before the check answered


def test_a_flagged_message_shows_no_text_runs_no_tool_and_is_never_sent_again(
        strict, fake, caplog):
    fake.moderation_delay = 0.3  # the model answers first, and asks for a tool
    fake.enqueue(Scenario(tool_calls=[{"name": "calculator", "arguments": '{"expression": "1+1"}'}]),
                 Scenario(text="Here is how to do it."))
    client = strict.client(auth=("ann", "ann-pw"))
    before = flagged_count(strict)
    with caplog.at_level(logging.INFO, logger="assistant"):
        updates, final = chat(strict, client, f"Tell me how to {FLAGGED}")

    assert not any("Here is how" in text_of(u) or "🔧" in text_of(u) for u in updates)
    assert "🚩 This message was flagged by moderation (harassment / threatening, violence)" \
        in text_of(final)
    assert len(model_posts(fake)) == 1  # the tool's round never ran
    assert flagged_count(strict) == before + 1
    lines = [r.getMessage() for r in caplog.records if r.name == "assistant.replies"]
    assert any("outcome=flagged" in line for line in lines)
    assert not any(FLAGGED in r.getMessage() for r in caplog.records)

    fake.reset()
    fake.enqueue(Scenario(text="Hello again."))
    chat(strict, client, "Hello")
    sent = str(model_posts(fake)[0].body["messages"])
    assert FLAGGED not in sent and "Hello" in sent

    store = strict.app.store
    [conversation] = [c for c in store.list_conversations("user:ann") if "Tell me" in c.title]
    shown = chat_messages(store.get_conversation("user:ann", conversation.id))
    assert "🚩 This message was flagged" in text_of(shown)  # and so when the chat is reopened


def test_an_image_is_checked_with_the_text(strict, fake, tmp_path):
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    fake.flag_images = True
    _, final = chat(strict, strict.client(auth=("ann", "ann-pw")),
                    {"text": "What is this?", "files": [handle_file(str(image))]})

    [check] = moderation_posts(fake)
    assert [p["type"] for p in check.body["input"]] == ["text", "image_url"]
    assert check.body["input"][1]["image_url"]["url"].startswith("data:image/")
    assert "(sexual)" in text_of(final)


def test_when_moderation_is_down_closed_refuses_and_open_answers_and_says_so(
        strict, lenient, fake):
    fake.moderation_status = 503
    fake.default = Scenario(text="An unchecked answer.")
    _, refused = chat(strict, strict.client(auth=("ann", "ann-pw")), "Hi")
    _, answered = chat(lenient, lenient.client(auth=("ann", "ann-pw")), "Hi")

    assert "Moderation is unavailable right now, so this message was not answered" \
        in text_of(refused)
    assert "An unchecked answer." not in text_of(refused)
    assert "An unchecked answer." in text_of(answered)
    assert "Moderation was unavailable, so this message was answered unchecked" \
        in text_of(answered)


@pytest.mark.parametrize("message", ["This is a Forbidden   Phrase!", "my secccret-42 here"])
def test_the_blocklist_stops_a_message_before_anything_is_sent(strict, fake, message):
    _, final = chat(strict, strict.client(auth=("ann", "ann-pw")), message)

    assert "contains words this app does not allow" in text_of(final)
    assert fake.requests == []  # neither the model nor moderation saw it


def test_the_blocklist_matches_whole_words_in_any_case(blocklist):
    words = Blocklist.read(blocklist)
    assert words.matches("FORBIDDEN phrase") and words.matches("x secret-7")
    assert not words.matches("forbidden phrases") and not words.matches("secret-")


def test_a_bad_blocklist_or_setting_stops_the_start_with_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("fine\n/unclosed(/\n")
    assert run_in_process(["--blocklist", str(bad)]) == 2
    assert run_in_process(["--moderation", "maybe"]) == 2
    assert run_in_process(["--image-hosts", "https://a.example/x"]) == 2
    assert run_in_process(["--requests-per-minute", "abc"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].endswith("bad.txt, line 2: not a regular expression "
                             "(missing ), unterminated subpattern at position 8).")
    assert lines[1:] == [
        "python app.py: --moderation (ASSISTANT_MODERATION) is “maybe”: it must be off or openai.",
        "python app.py: --image-hosts (ASSISTANT_IMAGE_HOSTS) is “https://a.example/x”: "
        "“https://a.example/x” is not a host name (write example.com or *.example.com).",
        "python app.py: --requests-per-minute (ASSISTANT_REQUESTS_PER_MINUTE) is “abc”: "
        "it must be a whole number.",
    ]


def test_a_flagged_message_stops_a_silent_model_as_soon_as_the_check_answers(strict, fake):
    fake.moderation_delay = 0.2
    fake.enqueue(Scenario(first_token_delay=30, text="Much later."))  # the model thinks, silent
    _, final = chat(strict, strict.client(auth=("ann", "ann-pw")), f"Please {FLAGGED}")

    assert "🚩 This message was flagged" in text_of(final)
    assert fake.wait_for_disconnect(timeout=5)  # the model's request was closed, not waited out
