"""A fake Hugging Face Hub on loopback: the one endpoint Gradio's local sign-in asks.

Off Spaces, `gr.LoginButton` signs you in as the account the machine's token belongs
to, which Gradio looks up with huggingface_hub's `whoami()` (`GET /api/whoami-v2`).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeHub:
    def __init__(self, username: str, fullname: str) -> None:
        user = {"type": "user", "name": username, "fullname": fullname,
                "avatarUrl": "/avatar.png", "orgs": []}
        body = json.dumps(user).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                ok = self.path == "/api/whoami-v2" and self.headers.get("authorization")
                self.send_response(200 if ok else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body) if ok else 0))
                self.end_headers()
                if ok:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
