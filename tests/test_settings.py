"""Where settings come from, and what `python app.py --help` tells a user."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from assistant.app.settings import load_settings
from assistant.web.security_headers import content_security_policy

ROOT = Path(__file__).resolve().parent.parent


def test_command_line_beats_environment_beats_defaults():
    env = {"ASSISTANT_PORT": "9000", "ASSISTANT_HOST": "0.0.0.0", "ASSISTANT_READ_TIMEOUT": "5"}
    settings = load_settings(["--port", "9100"], environ=env)
    assert (settings.port, settings.host, settings.read_timeout) == (9100, "0.0.0.0", 5.0)
    assert load_settings([], environ={}).port == 7860


def test_dotenv_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("OPENAI_API_KEY=sk-from-dotenv-123456\nASSISTANT_PORT=7000\n")
    monkeypatch.setenv("ASSISTANT_PORT", "7100")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = load_settings(["--env-file", str(env_file)])
    assert settings.openai_api_key == "sk-from-dotenv-123456"
    assert settings.port == 7100


def test_spaces_server_name_and_port_are_honoured():
    settings = load_settings([], environ={"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"})
    assert (settings.host, settings.port) == ("0.0.0.0", 7861)


def test_auth_pairs_are_parsed_and_bad_ones_refused():
    assert load_settings([], environ={"ASSISTANT_AUTH": "ann:pw1,bob:pw2"}).auth == (
        ("ann", "pw1"), ("bob", "pw2"))
    with pytest.raises(ValueError):
        load_settings([], environ={"ASSISTANT_AUTH": "nopassword"})


def test_help_documents_host_port_share_and_environment_variables():
    result = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    for word in ("--host", "--port", "--share", "OPENAI_BASE_URL", "ASSISTANT_READ_TIMEOUT"):
        assert word in result.stdout


def test_every_variable_in_the_help_is_in_env_example():
    help_text = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True,
                               text=True, timeout=60).stdout
    example = (ROOT / ".env.example").read_text()
    import re
    variables = set(re.findall(r"\[([A-Z_]+)\]", help_text))
    assert {"ASSISTANT_AUTH", "ASSISTANT_READ_TIMEOUT"} <= variables  # the help names them
    for variable in variables:
        assert variable in example, f"{variable} is missing from .env.example"


def test_framing_defaults_to_the_app_itself_and_to_huggingface_on_spaces():
    assert load_settings([], environ={}).page_frame_ancestors() == ("'self'",)
    spaces = load_settings([], environ={"SYSTEM": "spaces"})
    assert spaces.page_frame_ancestors() == ("'self'", "https://huggingface.co")
    chosen = load_settings(["--frame-ancestors", "'self' https://intranet.example"],
                           environ={"SYSTEM": "spaces"})
    assert chosen.page_frame_ancestors() == ("'self'", "https://intranet.example")
    assert "frame-ancestors 'self' https://huggingface.co" in \
        content_security_policy(ancestors=spaces.page_frame_ancestors())
