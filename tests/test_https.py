"""HTTPS served by the app itself, with a self-signed certificate the test makes."""

from __future__ import annotations

import datetime
import os
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from gradio_client import Client

from fakes.fake_openai import Scenario
from fakes.loopback import free_port
from tests.conftest import FAKE_MODEL, without_stats

ROOT = Path(__file__).resolve().parent.parent


def self_signed(folder: Path, name: str = "assistant.test") -> tuple[Path, Path]:
    """A certificate for `name` only: not valid for 127.0.0.1, where Gradio checks the start."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_the_app_starts_and_serves_https_with_a_self_signed_certificate(fake, tmp_path):
    cert, key = self_signed(tmp_path)
    port = free_port()
    env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "ASSISTANT_MODEL": FAKE_MODEL,
           "ASSISTANT_DATA_DIR": str(tmp_path / "data"), "PYTHONUNBUFFERED": "1"}
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--ssl-certfile",
                            str(cert), "--ssl-keyfile", str(key)], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert app.stdout is not None
        output = []
        for line in app.stdout:  # until the app says where it runs, or exits
            output.append(line)
            if "Running on local URL" in line:
                break
        assert f"https://127.0.0.1:{port}" in output[-1], "".join(output)

        trusted = ssl.create_default_context(cafile=str(cert))
        trusted.check_hostname = False  # the certificate names assistant.test, not 127.0.0.1
        page = httpx.get(f"https://127.0.0.1:{port}/", verify=trusted)
        assert page.status_code == 200 and "gradio_config" in page.text
        assert "form-action 'self'" in page.headers["content-security-policy"]

        fake.enqueue(Scenario(text="Over TLS."))
        client = Client(f"https://127.0.0.1:{port}/", ssl_verify=False, verbose=False)
        assert without_stats(client.predict("Hi", api_name="/chat")) == "Over TLS."
        client.close()
    finally:
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=30) == 0
