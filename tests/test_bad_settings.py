"""Every bad setting stops the start with one line that names it, the value given and
what is allowed, and exit code 2: flags, environment variables and `.env` lines alike."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fakes.loopback import free_port
from tests.conftest import run_in_process

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def start(tmp_path, monkeypatch, capsys):
    """Runs `python app.py ARGV` in-process from an empty folder; its exit code and the
    one line it printed."""
    monkeypatch.chdir(tmp_path)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ASSISTANT_PORT", "ASSISTANT_HOST"):
        monkeypatch.delenv(name, raising=False)

    def start(*argv: str) -> tuple[int, str]:
        try:
            code = run_in_process(["--data-dir", str(tmp_path / "data"), *argv])
        except SystemExit as exc:  # argparse
            code = exc.code  # type: ignore[assignment]
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
        return code, err.strip()
    return start


@pytest.mark.parametrize(("argv", "expected"), [
    (["--requests-per-minute", "abc"],
     "--requests-per-minute (ASSISTANT_REQUESTS_PER_MINUTE) is “abc”: it must be a whole number."),
    (["--read-timeout", "soon"], "--read-timeout (ASSISTANT_READ_TIMEOUT) is “soon”: it must be a number."),
    (["--port", "0"], "--port (ASSISTANT_PORT) is “0”: it must be from 1 to 65535."),
    (["--read-timeout", "0"], "is “0”: it must be more than 0."),
    (["--max-images", "-1"], "--max-images (ASSISTANT_MAX_IMAGES) is “-1”: it must be from 0 to 100."),
    (["--visitor-base-urls", "maybe"], "is “maybe”: it must be on or off."),
    (["--visitor-keys", "sometimes"], "is “sometimes”: it must be off or allowed or required."),
    (["--api", "graphql"], "--api (ASSISTANT_API) is “graphql”: it must be chat_completions or responses."),
    (["--base-url", "localhost:11434"], "--base-url (OPENAI_BASE_URL) is “localhost:11434”: it must be an http://"),
    (["--host", "999.1.1.1"], "--host (ASSISTANT_HOST) is “999.1.1.1”: it must be an address of this machine"),
    (["--database-url", "mysql://db"], "--database-url (ASSISTANT_DATABASE_URL) is “mysql://db”: it must be a postgresql://"),
    (["--image-hosts", "http://x/"], "--image-hosts (ASSISTANT_IMAGE_HOSTS) is “http://x/”"),
    (["--auth", "ann"], "--auth (ASSISTANT_AUTH) is not valid: it must look like"),
    (["--auth-file", "missing.txt"], "--auth-file (ASSISTANT_AUTH_FILE) is “missing.txt”: it cannot be read "
                                    "(No such file or directory)."),
    (["--mcp-servers", "{nope"], "--mcp-servers (ASSISTANT_MCP_SERVERS): The MCP server config is not valid JSON"),
    (["--blocklist", "missing.txt"], "--blocklist (ASSISTANT_BLOCKLIST)"),
    (["--ssl-certfile", "cert.pem"], "give both, or neither."),
    (["--local-model-path", "missing.gguf"], "--local-model-path (ASSISTANT_LOCAL_MODEL_PATH) is "
                                             "“missing.gguf”: it cannot be read"),
    (["--frobnicate", "3"], "unrecognized arguments: --frobnicate 3"),
    (["--env-file", "missing.env"], "--env-file is “missing.env”: there is no such file."),
    (["--max-document-mb", "nan"], "--max-document-mb (ASSISTANT_MAX_DOCUMENT_MB) is “nan”: it "
                                   "must be a finite number."),
    (["--max-image-mb", "inf"], "is “inf”: it must be a finite number."),
    (["--database-url", "mysql://u:pw-SECRET@db/x?sslkey=SECRET"],
     "is “mysql://…@db/x?…”: it must be a postgresql://"),
    (["--base-url", "ftp://u:sk-SECRET@host/v1"], "is “ftp://…@host/v1”: it must be an http://"),
])
def test_a_bad_flag_is_one_line_and_exit_code_2(start, argv, expected):
    code, line = start(*argv)
    assert code == 2
    assert line.startswith("python app.py: ") and expected in line and "SECRET" not in line


def test_a_bad_environment_variable_is_named_as_the_variable(start, monkeypatch):
    monkeypatch.setenv("ASSISTANT_TOKENS_PER_DAY", "lots")
    assert start() == (2, "python app.py: --tokens-per-day (ASSISTANT_TOKENS_PER_DAY) is "
                          "“lots”: it must be a whole number.")
    monkeypatch.delenv("ASSISTANT_TOKENS_PER_DAY")
    monkeypatch.setenv("ASSISTANT_SHARE", "perhaps")
    assert start() == (2, "python app.py: --share (ASSISTANT_SHARE) is “perhaps”: it must be "
                          "on or off.")


@pytest.mark.parametrize(("dotenv", "expected"), [
    ("OPENAI_BASE_URL=http://localhost:1/v1\nASSISTANT_MAX_IMAGES=lots\n",
     "--max-images (ASSISTANT_MAX_IMAGES) is “lots”: it must be a whole number."),
    ("# my settings\nASSISTANT_PROT=8000\n",
     ".env line 2 sets ASSISTANT_PROT, which is not a setting; did you mean ASSISTANT_PORT?"),
    ("ASSISTANT_PORT=8000\nOPENAI_API_KEY: sk-proj-SECRET\n",
     ".env line 2 is not a setting: write NAME=value."),
])
def test_a_bad_dotenv_line_is_named_by_its_line(start, tmp_path, dotenv, expected):
    (tmp_path / ".env").write_text(dotenv)
    code, line = start()
    assert code == 2 and expected in line and "SECRET" not in line


def test_a_port_in_use_or_certificates_that_do_not_load_are_named(start, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert start("--port", str(port)) == (
            2, f"python app.py: --port (ASSISTANT_PORT) is “{port}”: another program listens "
               "there; choose another port.")
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    code, line = start("--ssl-certfile", "cert.pem", "--ssl-keyfile", "key.pem")
    assert code == 2 and "they are not a PEM certificate and its private key" in line
    (tmp_path / "taken").write_text("a file where the data folder should be")
    code, line = start("--data-dir", str(tmp_path / "taken" / "data"))
    assert code == 2 and "the app cannot write there" in line


def test_the_real_command_prints_no_traceback():
    result = subprocess.run([sys.executable, "app.py", "--port", "0"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr == "python app.py: --port (ASSISTANT_PORT) is “0”: it must be from 1 " \
                            "to 65535.\n"


def test_a_database_that_cannot_be_opened_is_one_line(start, monkeypatch):
    import assistant.app.server as server

    def refuse(*_):
        raise ConnectionRefusedError("connection refused")
    monkeypatch.setattr(server, "open_store", refuse)
    assert start("--database-url", "postgresql://u:pw-SECRET@127.0.0.1:1/db", "--port",
                 str(free_port())) == (
        2, "python app.py: --database-url (ASSISTANT_DATABASE_URL) is "
           "“postgresql://…@127.0.0.1:1/db”: the database cannot be opened "
           "(ConnectionRefusedError).")
