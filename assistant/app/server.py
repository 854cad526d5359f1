"""Assemble the app from settings and serve it."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from starlette.middleware import Middleware

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no phoning home, works offline
# Gradio's queue rebuilds a pandas summary of its last 10,000 events after every event
# (1.4-4.6 ms of CPU each) for its monitoring page, which we don't enable: /metrics has it all.
os.environ.setdefault("GRADIO_ANALYTICS_CACHE_FREQUENCY", "1000000")


from ..api.access import Access
from ..api.endpoints import ApiEndpoints
from ..api.saving import ChatSaving
from ..conversation.approvals import Approvals, Choice
from ..conversation.moderation import Blocklist, Moderation
from ..conversation.remote_runs import RemoteRuns
from ..conversation.rounds import ToolRounds
from ..conversation.routing import AUTO, Router
from ..conversation.runs import Runs
from ..conversation.turn import ChatService, Update
from ..documents.embeddings import Embeddings
from ..documents.library import Library, Limits
from ..documents.search_tool import search_documents_tool
from ..domain.redaction import shown_url
from ..identity.api_keys import ApiKeys
from ..identity.owners import OwnerTokens, Sessions, browser_storage_key, load_secret
from ..identity.passwords import PasswordFile
from ..insights.recorder import FiguresRecorder
from ..providers.backends import Backend
from ..providers.moderation import OpenAIModeration
from ..providers.retrying import RetryPolicy
from ..providers.routes import VISITOR_KEY, OwnKeyRoutes
from ..quotas.meter import Meter, TokenCounter, UsageMeter
from ..quotas.policy import LimitSettings
from ..quotas.shared import SharedUsageMeter
from ..storage.opening import open_store
from ..storage.recorder import ConversationRecorder
from ..storage.replicas import Heartbeat, new_replica_id
from ..storage.repository import Store
from ..storage.retention import Retention
from ..tools.catalog import McpRuntime, builtin_toolbox
from ..tools.mcp_config import load_servers
from ..voice.tickets import SpeechTickets
from ..web.admin_gate import AdminGate
from ..web.at_shutdown import AtShutdown
from ..web.attachments import Attachments
from ..web.callers import Identity
from ..web.client_address import parse_proxies
from ..web.conversations_panel import ConversationPanel
from ..web.dashboard_page import PATH as DASHBOARD_PATH
from ..web.dashboard_page import DashboardPage
from ..web.documents_panel import DocumentsPanel
from ..web.image_policy import ImagePolicy
from ..web.own_key_panel import OwnKeyPanel
from ..web.page import Page, build_ui
from ..web.page_style import PAGE_CSS
from ..web.render import STATUS_WORDS
from ..web.security_headers import SecurityHeaders, security_headers
from ..web.server_fetches import NoOutsideFetches
from ..web.session_state import use_lazy_session_state
from ..web.share_page import share_routes
from ..web.source_links import SourceLinks, source_routes
from ..web.usage_limits import UsageLimits
from ..web.voice_panel import VoicePanel
from ..web.voice_routes import voice_routes
from ..web.your_data_panel import YourDataPanel
from .logs import adopt_server_loggers, configure_logging
from .metrics import ReplyMetrics, metrics_routes
from .server_backends import backend_secrets, server_backends, server_routes
from .setting_checks import startup_problem
from .settings import BadSetting, Settings, build_parser, load_settings
from .tracing import TurnTracer, tracing_wanted
from .voice_setup import voice_service

log = logging.getLogger("assistant")


@dataclass
class App:
    settings: Settings
    backend: Backend
    service: ChatService
    demo: Page
    store: Store
    metrics: ReplyMetrics
    panel: ConversationPanel
    mcp: McpRuntime
    library: Library
    links: SourceLinks
    limits: UsageLimits
    retention: Retention
    heartbeat: Heartbeat
    approvals: Approvals  # the questions replies wait on, before a tool that asks first
    api_keys: ApiKeys
    api: ApiEndpoints  # /v1: the OpenAI-compatible endpoints
    own_key_routes: OwnKeyRoutes  # the clients made for visitors' own keys
    tracer: TurnTracer | None = None  # OpenTelemetry, when an OTLP endpoint is set
    dashboard: DashboardPage | None = None  # /admin, when ASSISTANT_ADMINS names someone
    speech: SpeechTickets = field(default_factory=SpeechTickets)  # links to replies read aloud
    logins: Any = None  # what Gradio checks sign-ins with: a PasswordFile, --auth pairs, or None

    async def close_connections(self) -> None:
        """The model servers' connections, closed on the server's loop as it stops; one
        that fails to close does not keep the others open."""
        closing = [b.client.close() for b in self.service.routes.backends]
        results = await asyncio.gather(*closing, self.own_key_routes.aclose(),
                                       return_exceptions=True)
        for failed in (r for r in results if isinstance(r, Exception)):
            log.warning("closing a model server's connections failed: %s", failed)

    def close(self) -> None:
        self.demo.close()
        if self.tracer is not None:
            self.tracer.close()
        self.retention.stop()
        self.heartbeat.stop()
        self.mcp.close()
        self.store.close()
        self.panel.close()
        for backend in self.service.routes.backends:
            if backend.local_server is not None:
                backend.local_server.stop()


def _default_model(backend: Backend) -> str:
    """The model shown first; for a custom server without one configured, its first listed."""
    model = backend.default_model or backend.discover_default_model()
    if not model:
        log.warning("%s lists no models yet; type a model name in the sidebar", backend.label)
    return model or ""


def _embeddings(settings: Settings, backend: Backend) -> Embeddings | None:
    model = settings.embedding_model or ("text-embedding-3-small" if backend.kind == "openai"
                                         else None)
    return Embeddings(backend.client, model) if model else None


def _limits(settings: Settings, clock: Callable[[], float], store: Store,
            replica: str) -> UsageLimits:
    """Counted in the shared database when there is one (replicas), else in memory."""
    ledger = getattr(store, "usage", None)

    def meter(limits: LimitSettings, namespace: str) -> Meter:
        if ledger is not None and limits.active:
            return SharedUsageMeter(limits, ledger, replica, namespace, clock)
        return UsageMeter(limits, clock)
    return UsageLimits(meter(settings.limits(), "server"),
                       meter(settings.own_key_limits(), "own"),
                       parse_proxies(settings.trusted_proxies), on_spaces=settings.on_spaces)


def read_blocklist(settings: Settings) -> Blocklist | None:
    """ASSISTANT_BLOCKLIST, read at start: a bad file stops it."""
    if settings.blocklist is None:
        return None
    try:
        return Blocklist.read(settings.blocklist)
    except ValueError as exc:
        raise BadSetting(f"--blocklist (ASSISTANT_BLOCKLIST): {exc}.") from None


def create_app(settings: Settings, clock: Callable[[], float] = time.time, *,
               blocklist: Blocklist | None = None) -> App:
    """`clock`: the time the per-user limits count in (tests move it). `blocklist`: the one
    `run` has read already; else it is read here."""
    replica = new_replica_id()
    try:
        store = open_store(settings.database_url, settings.data_dir, replica)
    except Exception as exc:  # unreachable, refused, a wrong password: said in one line
        if not settings.database_url:
            raise
        raise BadSetting(f"--database-url (ASSISTANT_DATABASE_URL) is "
                         f"“{shown_url(settings.database_url)}”: the database cannot be "
                         f"opened ({type(exc).__name__}).") from None
    retry = RetryPolicy(max_retries=settings.max_retries, budget=settings.retry_budget)
    routes = server_routes(settings, server_backends(settings), retry, backend_secrets(settings))
    backend = routes.default_route.backend
    openai_backend = next((b for b in routes.backends if b.kind == "openai"), backend)
    moderation = Moderation(blocklist or read_blocklist(settings),
                            OpenAIModeration(openai_backend.client)
                            if settings.moderation == "openai" else None,
                            fail_open=settings.moderation_fail == "open")
    heartbeat = Heartbeat(store, replica, STATUS_WORDS["streaming"])
    heartbeat.start()  # marks what a stopped process left streaming, now and every second
    tracer = TurnTracer.exporting(settings.log_content) if tracing_wanted(os.environ) else None
    toolbox = builtin_toolbox(settings.tool_timeout)
    mcp = McpRuntime(load_servers(settings.mcp_servers), settings.tool_timeout)
    mcp.start(toolbox)  # a server that cannot start is logged and shown on the page
    embeddings = _embeddings(settings, openai_backend)
    library = Library(store.documents, settings.data_dir / "documents",
                      Limits(int(settings.max_document_mb * 1e6), settings.max_document_pages,
                             settings.max_documents), embeddings)
    toolbox.add(search_documents_tool(library, settings.tool_timeout))
    rounds = ToolRounds(toolbox, max_rounds=settings.max_tool_rounds)
    metrics = ReplyMetrics(log_content=settings.log_content, tool_named=toolbox.get)
    recorder = ConversationRecorder(store)
    figures = FiguresRecorder(store, clock)
    listed = settings.backends_file
    service = ChatService(routes, rounds, router=Router(listed.routes, embeddings) if listed and
                          listed.routes else None,
                          max_message_chars=settings.max_message_chars,
                          observers=[recorder, figures, metrics, TokenCounter(),
                                     *([tracer] if tracer else [])],
                          documents=library,
                          earlier_images=settings.max_images, moderation=moderation)
    secret = load_secret(settings.secret, settings.data_dir)
    identity = Identity(OwnerTokens(secret), Sessions(), hf_login=settings.hf_login,
                        login=bool(settings.auth or settings.auth_file))
    links = SourceLinks(secret)
    panel = ConversationPanel(store, identity, browser_storage_key(secret), links,
                              ImagePolicy(frozenset(settings.image_hosts)), recorder.written)
    attachments = Attachments(library, links, max_side=settings.max_image_side,
                              max_bytes=int(settings.max_image_mb * 1e6),
                              max_images=settings.max_images,
                              folders=[panel.images_dir])
    limits = _limits(settings, clock, store, replica)
    limits.on_refused = figures.limit_hit
    api_keys = ApiKeys(store)
    logins = _auth(settings)
    visitors_server = listed.for_visitor_keys if listed else None
    own_key_routes = OwnKeyRoutes(settings.connection(), retry, default_base_url=(
        visitors_server.base_url if visitors_server else settings.openai_base_url))
    own_keys = OwnKeyPanel(own_key_routes, backend, settings.visitor_key_mode(),  # type: ignore[arg-type]
                           custom_servers=settings.visitor_base_urls)
    runs: Runs[Update] = Runs()
    signals = getattr(store, "signals", None)  # replicas share a PostgreSQL database
    approvals = Approvals(settings.tool_approval_timeout, store)

    def answer_reply(message_id: int, choice: Choice) -> None:
        """Another process's page answered the question of a reply running here."""
        place = runs.place_of(message_id)
        if place is not None and place.owner is not None:
            approvals.answer(place.owner, choice, place.conversation_id)
    remote = RemoteRuns(store, signals, replica, watch=recorder.watch, stop=runs.stop_reply,
                        answer=answer_reply) if signals is not None else None
    dashboard = DashboardPage(store, identity, frozenset(settings.admins),
                              {VISITOR_KEY: "visitor", **{b.name: b.kind for b in routes.backends}},
                              settings.limits(),
                              clock) if settings.admins else None
    default_model = AUTO if service.router else routes.default_choice() if routes.several \
        else _default_model(backend)
    speech = SpeechTickets()
    voice = VoicePanel(voice_service(settings, backend), speech, panel, limits, runs) \
        if settings.voice != "off" else None
    demo = build_ui(service, default_model, panel, DocumentsPanel(library, identity),
                    attachments, settings.concurrency_limit, mcp, limits, own_keys,
                    YourDataPanel(store, library, panel, api_keys), runs, remote, approvals, api_keys,
                    sharing=settings.sharing_on, dashboard=dashboard, voice=voice)
    demo.queue(max_size=settings.queue_size, default_concurrency_limit=settings.concurrency_limit)
    api = ApiEndpoints(
        service, Access(api_keys, settings.api_open_locally, _is_user(logins)), limits,
        ChatSaving(store, recorder.written), runs, approvals,
        memories=panel.memory.saved_facts, max_image_bytes=int(settings.max_image_mb * 1e6),
        max_images=settings.max_images,
        default_tools=lambda: [t.name for t in toolbox.tools] if backend.tools_by_default else [])
    retention = Retention(store, settings.retention_days, clock)
    retention.start()
    return App(settings, backend, service, demo, store, metrics, panel, mcp, library, links,
               limits, retention, heartbeat, approvals, api_keys, api, own_key_routes, tracer,
               dashboard, speech, logins)


SHARE_WITHOUT_LOGIN = (
    "The public share link has no sign-in: anyone with the link can chat on this server's "
    "key and spend it without limit beyond the per-user limits. Each visitor sees only their "
    "own chats. Set ASSISTANT_AUTH_FILE (python -m assistant.passwords add NAME) or --auth "
    "to require sign-in.")


METRICS_OPEN = (
    "/metrics is open to anyone who reaches this public app: it shows the models, tools "
    "and traffic. Set ASSISTANT_METRICS_TOKEN to require a token.")


def _auth(settings: Settings) -> Any:
    """What Gradio checks logins with: the password file (and --auth users), or --auth alone."""
    if settings.auth_file is not None:
        return PasswordFile(settings.auth_file, settings.auth)
    return list(settings.auth) or None


def _is_user(logins: Any) -> Callable[[str], bool] | None:
    """Whether a password user may still sign in; None when sign-in is not by password."""
    if isinstance(logins, PasswordFile):
        return logins.knows
    return {name for name, _ in logins}.__contains__ if logins else None


def launch(app: App, **overrides: Any) -> None:
    s = app.settings
    options: dict[str, Any] = dict(
        server_name=s.host, server_port=s.port, share=s.share, css=PAGE_CSS,
        auth=app.logins, max_threads=s.max_threads, show_error=False,
        ssl_certfile=s.ssl_certfile, ssl_keyfile=s.ssl_keyfile,
        # Gradio's start-up check calls the app at 127.0.0.1, which no certificate names.
        ssl_verify=not s.ssl_certfile,
        app_kwargs={"routes": [*app.api.routes(),
                               *metrics_routes(app.metrics.registry, token=s.metrics_token),
                               *source_routes(app.library, app.links),
                               *share_routes(app.store, s.sharing_on, app.library.file),
                               *voice_routes(app.speech)],
                    "middleware": [Middleware(SecurityHeaders, headers=security_headers(
                        s.image_hosts, s.page_frame_ancestors())), Middleware(NoOutsideFetches),
                        Middleware(AtShutdown, close=app.close_connections),
                        *([Middleware(AdminGate, path=DASHBOARD_PATH,
                                      is_admin=app.dashboard.is_admin)] if app.dashboard else [])]},
    )
    extra = overrides.pop("app_kwargs", {})
    options.update(overrides)
    ours = options["app_kwargs"]  # another caller's routes come first, and keep ours
    options["app_kwargs"] = {**ours, **extra,
                             "routes": [*extra.get("routes", []), *ours["routes"]],
                             "middleware": [*ours["middleware"], *extra.get("middleware", [])]}
    if options.get("share") and not options.get("auth"):
        log.warning(SHARE_WITHOUT_LOGIN)
    if (s.public or options.get("share")) and not s.metrics_token:
        log.warning(METRICS_OPEN)
    wait = not options.pop("prevent_thread_lock", False)
    app.demo.launch(prevent_thread_lock=True, **options)
    adopt_server_loggers()
    use_lazy_session_state(app.demo)
    if options.get("share") and not getattr(app.demo, "share_url", None) \
            and os.environ.get("SYSTEM") != "spaces":
        log.warning("The public share link could not be created (Gradio's share server is "
                    "unreachable). The app still runs at %s", app.demo.local_url)
    if wait:
        app.demo.block_thread()


def run(argv: list[str]) -> int:
    build_parser().parse_args(argv)  # --help and bad flags exit here, before any work
    try:
        settings = load_settings(argv)
        blocklist = read_blocklist(settings)
        problem = startup_problem(settings)
        if problem:
            raise BadSetting(problem)
    except BadSetting as exc:
        print(f"python app.py: {exc}", file=sys.stderr)
        return 2
    stop_logging = configure_logging(backend_secrets(settings))
    try:
        try:
            app = create_app(settings, blocklist=blocklist)
        except BadSetting as exc:  # found on connecting: the database, a backends file
            stop_logging()  # what was logged before comes before the one line
            print(f"python app.py: {exc}", file=sys.stderr)
            return 2
        return _serve(app, settings)
    finally:
        stop_logging()  # what is still queued is written before the process ends


def _serve(app: App, settings: Settings) -> int:
    # SIGTERM (docker stop, systemd, a Space restarting) exits through `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # Startup leaves ~300k long-lived objects; full collections over them stalled every
    # stream for 100-250 ms under load. Freezing them keeps collections short.
    gc.collect()
    gc.freeze()
    log.info("backend: %s", app.backend.label)
    if settings.log_content:
        log.warning("ASSISTANT_LOG_CONTENT is on: every message and reply is written to the log")
    try:
        launch(app)
    finally:
        app.close()
    return 0
