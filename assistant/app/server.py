"""Assemble the app from settings and serve it."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
from dataclasses import dataclass

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home, works offline
# Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event
# (1.4-4.6 ms of CPU each) for its monitoring page, which we don't enable: /metrics has it all.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000000")

import gradio as gr  # noqa: E402

from .backends import Backend, select_backend  # noqa: E402
from .chat import ChatService  # noqa: E402
from .conversations_ui import STATUS_WORDS, ConversationPanel  # noqa: E402
from .owners import Identity, OwnerTokens, Sessions, load_secret  # noqa: E402
from .recorder import ConversationRecorder  # noqa: E402
from .store import Store  # noqa: E402
from .errors import RedactingFilter  # noqa: E402
from .metrics import ReplyMetrics, metrics_routes  # noqa: E402
from .settings import Settings, build_parser, load_settings  # noqa: E402
from .ui import build_ui  # noqa: E402

log = logging.getLogger("assistant")


@dataclass
class App:
    settings: Settings
    backend: Backend
    service: ChatService
    demo: gr.Blocks
    store: Store
    metrics: ReplyMetrics
    panel: ConversationPanel

    def close(self) -> None:
        self.demo.close()
        self.store.close()
        self.panel.close()
        if self.backend.local_server is not None:
            self.backend.local_server.stop()


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(tuple(s for s in (settings.openai_api_key,) if s)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "httpx2", "httpcore", "httpcore2", "openai"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _default_model(backend: Backend) -> str:
    """The model shown first; for a custom server without one configured, its first listed."""
    model = backend.default_model or backend.discover_default_model()
    if not model:
        log.warning("%s lists no models yet; type a model name in the sidebar", backend.label)
    return model or ""


def create_app(settings: Settings) -> App:
    backend = select_backend(settings)
    store = Store.in_directory(settings.data_dir)
    interrupted = store.mark_interrupted(STATUS_WORDS["streaming"])
    if interrupted:
        log.warning("%d replies were cut off by the last shutdown; marked incomplete", interrupted)
    metrics = ReplyMetrics()
    service = ChatService(settings, backend, observers=[ConversationRecorder(store), metrics])
    secret = load_secret(settings.secret, settings.data_dir)
    panel = ConversationPanel(store, Identity(OwnerTokens(secret), Sessions()), secret)
    demo = build_ui(service, _default_model(backend), panel)
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency_limit)
    return App(settings, backend, service, demo, store, metrics, panel)


def launch(app: App, **overrides) -> None:
    s = app.settings
    options = dict(
        server_name=s.host, server_port=s.port, share=s.share,
        auth=list(s.auth) or None, max_threads=s.max_threads, show_error=False,
        app_kwargs={"routes": metrics_routes(app.metrics.registry, token=s.metrics_token)},
    )
    options.update(overrides)
    app.demo.launch(**options)
    if options.get("share") and not getattr(app.demo, "share_url", None) \
            and os.environ.get("SYSTEM") != "spaces":
        log.warning("The public share link could not be created (Gradio's share server is "
                    "unreachable). The app still runs at %s", app.demo.local_url)


def run(argv: list[str]) -> int:
    build_parser().parse_args(argv)  # --help and bad flags exit here, before any work
    settings = load_settings(argv)
    configure_logging(settings)
    app = create_app(settings)
    # SIGTERM (docker stop, systemd, a Space restarting) exits through `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Startup leaves ~300k long-lived objects; full collections over them stalled every
    # stream for 100-250 ms under load. Freezing them keeps collections short.
    gc.collect()
    gc.freeze()
    log.info("backend: %s", app.backend.label)
    try:
        launch(app)
    finally:
        app.close()
    return 0
