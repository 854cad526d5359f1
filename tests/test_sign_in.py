"""Sign-in: the password file and its command, and the warning for a public link without it."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from gradio_client import Client

from assistant.identity.passwords import PasswordFile, PasswordFileError, read_file, verify_password
from tests.conftest import FAKE_MODEL, start_app


def add_user(path: Path, name: str, password: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assistant.passwords", "--file", str(path), "add", name],
                          input=password + "\n", capture_output=True, text=True, timeout=60)


def test_the_command_stores_a_salted_hash_and_never_the_password(tmp_path):
    path = tmp_path / "passwords"
    assert add_user(path, "ann", "correct horse").returncode == 0
    assert add_user(path, "bob", "correct horse").returncode == 0
    text = path.read_text()
    users = read_file(path)

    assert "correct horse" not in text and set(users) == {"ann", "bob"}
    assert users["ann"] != users["bob"]  # salted: the same password hashes differently
    assert verify_password("correct horse", users["ann"])
    assert not verify_password("wrong", users["ann"])
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
    assert add_user(path, "ann", "new one").returncode == 0  # changes her password
    assert verify_password("new one", read_file(path)["ann"])
    assert add_user(path, "bad:name", "x").returncode == 1


def test_a_line_the_command_did_not_write_is_refused_by_number(tmp_path):
    path = tmp_path / "passwords"
    path.write_text("# users\nann:plain-password\n")
    with pytest.raises(PasswordFileError, match="line 2"):
        PasswordFile(path)


def test_sign_in_checks_the_file_and_picks_up_new_users(tmp_path, fake_server):
    path = tmp_path / "passwords"
    add_user(path, "ann", "ann-secret")
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "ASSISTANT_AUTH_FILE": str(path)})
    try:
        Client(app.url, auth=("ann", "ann-secret"), verbose=False).close()
        with httpx.Client(base_url=app.url) as web:
            refused = web.post("/login", data={"username": "ann", "password": "wrong"})
            assert refused.status_code == 400 and web.get("/config").status_code == 401
        add_user(path, "bob", "bob-secret")  # no restart needed
        Client(app.url, auth=("bob", "bob-secret"), verbose=False).close()
    finally:
        app.close()


def test_a_public_link_without_sign_in_warns_of_the_risks(tmp_path, fake_server, caplog):
    caplog.set_level(logging.WARNING, logger="assistant")
    app = start_app({"OPENAI_BASE_URL": fake_server.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
                     "ASSISTANT_DATA_DIR": str(tmp_path / "data")}, share=True)
    try:
        warned = " ".join(r.getMessage() for r in caplog.records)
        assert "no sign-in" in warned and "anyone with the link" in warned
        assert "spend" in warned
    finally:
        app.close()
