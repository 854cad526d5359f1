"""N app replicas behind HAProxy, sharing PostgreSQL, on one machine.

    python -m deploy.run --replicas 2            # then open http://127.0.0.1:7860

The replicas share what must be shared: the database (ASSISTANT_DATABASE_URL, or a
PostgreSQL cluster this starts in DATA_DIR/postgres), the secret that signs owner ids
(ASSISTANT_SECRET, or the one kept in DATA_DIR), the data directory for documents, and,
with neither OPENAI_API_KEY nor OPENAI_BASE_URL, one embedded model server instead of
one each. Each replica is `python app.py` on the next port; HAProxy (deploy/haproxy.cfg)
listens on --port. Ctrl-C stops everything.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = Path(__file__).resolve().parent / "haproxy.cfg"


def balancer_config(bind: str, ports: list[int]) -> str:
    """deploy/haproxy.cfg, listening on `bind`, with one server line per replica port."""
    text = CONFIG.read_text()
    text = re.sub(r"(?m)^    bind .*$", f"    bind {bind}", text)
    servers = "\n".join(f"    server app{i} 127.0.0.1:{port} check cookie app{i}"
                        for i, port in enumerate(ports, 1))
    return re.sub(r"(?m)(^    server .*\n?)+", servers + "\n", text)


def wait_healthy(url: str, process: subprocess.Popen[Any], timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited with code {process.returncode} while starting")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not become healthy in {timeout:.0f} s")


class LocalPostgres:
    """A PostgreSQL cluster of our own in `directory` (as the postgres user when we are root)."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
        self.bin = found[-1] if found else Path(os.path.dirname(shutil.which("initdb") or ""))
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        subprocess.run([*self.as_user, *command], check=True, stdout=subprocess.DEVNULL)

    def start(self) -> str:
        data = self.directory / "data"
        if not data.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.as_user:
                shutil.chown(self.directory, "postgres")
            self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.directory / "log"),
                  "-w", "-o", f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
                  " -c max_connections=300", "start")
        url = f"postgresql://postgres@127.0.0.1:{self.port}"
        subprocess.run([str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "assistant"], stderr=subprocess.DEVNULL)  # once
        return url + "/assistant"

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.directory / "data"), "-m", "fast",
                  "stop")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.run", description=__doc__.split("\n")[0])
    parser.add_argument("--replicas", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--host", default="127.0.0.1", help="where the balancer listens")
    parser.add_argument("--port", type=int, default=7860, help="the balancer's port")
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("ASSISTANT_DATA_DIR", "data")))
    parser.add_argument("--postgres-port", type=int, default=54320)
    args = parser.parse_args(argv)

    from assistant.identity.owners import load_secret
    env = dict(os.environ, PYTHONUNBUFFERED="1", ASSISTANT_DATA_DIR=str(args.data_dir.resolve()),
               ASSISTANT_TRUSTED_PROXIES="127.0.0.1")
    env["ASSISTANT_SECRET"] = load_secret(env.get("ASSISTANT_SECRET"), args.data_dir)
    postgres = model = None
    children: list[subprocess.Popen[Any]] = []
    stopping = False

    def stop(*_: Any) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if not env.get("ASSISTANT_DATABASE_URL"):
            postgres = LocalPostgres(args.data_dir.resolve() / "postgres", args.postgres_port)
            env["ASSISTANT_DATABASE_URL"] = postgres.start()
        if not (env.get("OPENAI_API_KEY") or env.get("OPENAI_BASE_URL")):
            from assistant.providers.local.model import MODEL_ALIAS, LocalModelServer, bundled_model_path
            path = env.get("ASSISTANT_LOCAL_MODEL_PATH") or bundled_model_path()
            if path is None:
                raise SystemExit("no OPENAI_API_KEY or OPENAI_BASE_URL, and no embedded model")
            model = LocalModelServer(Path(path))
            model.start()
            if not model.wait_ready():
                raise SystemExit(f"the embedded model did not start:\n{model.failure}")
            env.update(OPENAI_BASE_URL=model.base_url, ASSISTANT_MODEL=env.get("ASSISTANT_MODEL")
                       or MODEL_ALIAS)
            print(f"model server on {model.base_url}", flush=True)
        ports = [args.port + i for i in range(1, args.replicas + 1)]
        for i, port in enumerate(ports, 1):
            replica = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1",
                                        "--port", str(port)], cwd=ROOT, env=env)
            children.append(replica)
            print(f"replica app{i} pid {replica.pid} port {port}", flush=True)
        for port, replica in zip(ports, children):
            wait_healthy(f"http://127.0.0.1:{port}", replica)
        config = args.data_dir / "haproxy.cfg"
        config.write_text(balancer_config(f"{args.host}:{args.port}", ports))
        balancer = subprocess.Popen(["haproxy", "-f", str(config), "-db"])
        children.append(balancer)
        local = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        wait_healthy(f"http://{local}:{args.port}", balancer)
        print(f"balancer pid {balancer.pid} on http://{args.host}:{args.port}", flush=True)
        while not stopping and balancer.poll() is None:
            time.sleep(0.5)
    finally:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
        if model is not None:
            model.stop()
        if postgres is not None:
            postgres.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
