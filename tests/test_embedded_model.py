"""The embedded SmolLM2 model, for real, through the same path as every backend."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.loopback import free_port
from tests.conftest import start_app, without_stats

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def offline_app(tmp_path_factory):
    app = start_app({"ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("data"))})  # no key, no URL
    yield app
    app.close()


def test_with_no_key_the_embedded_model_is_used_and_named(offline_app):
    backend = offline_app.app.backend
    assert backend.kind == "local"
    assert backend.label == "Local: SmolLM2-135M (offline)"
    assert backend.client.base_url.host == "127.0.0.1"


def test_the_embedded_model_streams_a_short_reply(offline_app):
    updates, final = offline_app.chat(offline_app.client(), "Say hello.", "smollm2", 0.0, "", 0, 16)

    # 16 tokens may cut the reply short: then the text comes first, then a notice
    text = final if isinstance(final, str) else final[0]
    assert isinstance(text, str) and text.strip(), f"expected text, got {final!r}"
    texts = [u for u in updates if isinstance(u, str)]
    assert texts and all(text.startswith(t) for t in texts)  # it grew into the final text
    assert offline_app.app.backend.local_server.ready


def test_two_users_of_the_embedded_model_both_get_whole_replies(offline_app):
    inputs = ("Count from one to twenty.", "smollm2", 0.0, "", 0, 24)
    first = offline_app.client().submit(*inputs, api_name="/chat")
    next(iter(first))  # the model is streaming the first reply
    second = offline_app.client().submit(*inputs, api_name="/chat")

    for job in (first, second):
        final = without_stats(job.result())
        text, *notices = final if isinstance(final, list) else [final]
        assert isinstance(text, str) and text.strip(), f"expected text, got {final!r}"
        titles = [n["metadata"].get("title", "") for n in notices]
        assert all("maximum output length" in t for t in titles), titles


def test_after_a_stopped_reply_the_embedded_model_answers_the_next(offline_app):
    client = offline_app.client()
    stopped = client.submit("Write a long story.", "smollm2", 0.0, "", 0, 400, api_name="/chat")
    next(iter(stopped))  # the model is streaming
    stopped.cancel()

    _, final = offline_app.chat(offline_app.client(), "Say hello.", "smollm2", 0.0, "", 0, 16)
    text = final if isinstance(final, str) else final[0]
    assert isinstance(text, str) and text.strip(), f"expected text, got {final!r}"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_the_embedded_model_server_ends_with_the_app(tmp_path, sig):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update(ASSISTANT_DATA_DIR=str(tmp_path), PYTHONUNBUFFERED="1")
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(free_port())], cwd=ROOT,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in app.stdout:  # Gradio says it is serving once the model server was started
            if "Running on local URL" in line:
                break
        children = [int(pid) for task in Path(f"/proc/{app.pid}/task").iterdir()
                    for pid in (task / "children").read_text().split()]
        [model_server] = [pid for pid in children
                          if b"assistant.providers.local.server" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        watch = os.pidfd_open(model_server)  # readable once that process has ended
        app.send_signal(sig)
        app.wait(timeout=30)
        readable, _, _ = select.select([watch], [], [], 30)
        os.close(watch)
        assert readable, "the model server outlived the app"
    finally:
        if app.poll() is None:
            app.kill()


@pytest.fixture(scope="module")
def signed_in_offline_app(tmp_path_factory):
    app = start_app({"ASSISTANT_DATA_DIR": str(tmp_path_factory.mktemp("signed-in")),
                     "ASSISTANT_AUTH": "ann:ann-pw"})
    yield app
    app.close()


def test_the_embedded_model_answers_from_a_document_and_lists_its_source(signed_in_offline_app,
                                                                         tmp_path):
    from gradio_client import handle_file
    app = signed_in_offline_app
    ann = app.client(auth=("ann", "ann-pw"))
    notes = tmp_path / "velmora.md"
    notes.write_text("# Harbour\n\nThe harbour of Velmora exports dried kelp.\n")
    ann.predict(handle_file(str(notes)), "", api_name="/add_document")
    _, final = app.chat(ann, "What does the harbour of Velmora export?", "smollm2", 0.0, "", 0, 32)

    sources = [m for m in final if isinstance(m, dict)
               and m["metadata"].get("title", "").startswith("📚 Sources")]
    assert sources and "velmora.md, Harbour" in sources[0]["content"]


def test_an_image_for_the_embedded_model_is_refused_before_anything_is_sent(
        signed_in_offline_app, tmp_path):
    from gradio_client import handle_file
    from PIL import Image
    app = signed_in_offline_app
    Image.new("RGB", (32, 32)).save(tmp_path / "dot.png")
    registry = app.app.metrics.registry

    def replies() -> float:  # every reply that reached the model, whatever its outcome
        return sum(s.value for m in registry.collect() if m.name == "assistant_replies"
                   for s in m.samples if s.name == "assistant_replies_total")

    before = replies()
    _, final = app.chat(app.client(auth=("ann", "ann-pw")),
                        {"text": "What is this?", "files": [handle_file(str(tmp_path / "dot.png"))]},
                        "smollm2", 0.0, "", 0, 32)

    assert "cannot read images" in str(final)
    assert replies() == before
