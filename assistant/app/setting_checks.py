"""What makes a setting's value usable, so that a bad one stops the start with one line
that names the setting, the value given and what is allowed (never a traceback)."""

from __future__ import annotations

import difflib
import errno
import io
import ipaddress
import math
import re
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from dotenv.parser import parse_stream

if TYPE_CHECKING:
    from .settings import Settings


class BadSetting(ValueError):
    """A setting whose value cannot be used; says which, what was given and what is allowed."""


# Settings field: (least, most) allowed; None: no bound. Floats must be above a 0 least.
BOUNDS: dict[str, tuple[float | None, float | None]] = {
    "port": (1, 65535), "max_audio_seconds": (1, 24 * 3600), "concurrency_limit": (1, None), "max_threads": (1, None),
    "queue_size": (1, None), "connect_timeout": (0, None), "read_timeout": (0, None),
    "max_retries": (0, 20), "retry_budget": (0, None), "max_message_chars": (1, None),
    "context_window": (256, None), "local_threads": (1, 1024), "tool_timeout": (0, None),
    "tool_approval_timeout": (0, None), "max_tool_rounds": (1, 100),
    "max_document_mb": (0, None), "max_document_pages": (1, None), "max_documents": (1, None),
    "max_image_side": (16, 16384), "max_image_mb": (0, None), "max_images": (0, 100),
    "requests_per_minute": (0, None), "concurrent_streams": (0, None),
    "tokens_per_day": (0, None), "own_key_requests_per_minute": (0, None),
    "own_key_concurrent_streams": (0, None), "own_key_tokens_per_day": (0, None),
    "retention_days": (0, None)}
_ABOVE_ZERO = {"connect_timeout", "read_timeout", "tool_timeout", "tool_approval_timeout",
               "max_document_mb", "max_image_mb"}
_ON = {"1", "true", "yes", "on"}
_OFF = {"0", "false", "no", "off", ""}
_HOST_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


def out_of_bounds(name: str, value: float) -> str | None:
    """Why `value` is not allowed for the field `name`, or None."""
    if not math.isfinite(value):
        return "it must be a finite number"
    least, most = BOUNDS.get(name, (None, None))
    if name in _ABOVE_ZERO and value <= 0:
        return "it must be more than 0"
    if (least is not None and value < least) or (most is not None and value > most):
        if most is None:
            return f"it must be {least:g} or more"
        return f"it must be from {least:g} to {most:g}"
    return None


def on_or_off(value: str) -> bool:
    word = value.strip().lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise ValueError("it must be on or off")


def http_url(value: str) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("it must be an http:// or https:// address, such as "
                         "http://localhost:11434/v1")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("its port is not a number from 1 to 65535") from None
    return value.strip()


def postgres_url(value: str) -> str:
    if urlsplit(value.strip()).scheme.lower() not in ("postgresql", "postgres"):
        raise ValueError("it must be a postgresql:// address, such as "
                         "postgresql://user:password@host/db")
    return value.strip()


def listen_host(value: str) -> str:
    name = value.strip()
    try:
        ipaddress.ip_address(name)
        return name
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(name) or name.replace(".", "").isdigit():
        raise ValueError("it must be an address of this machine, such as 127.0.0.1 or 0.0.0.0")
    return name


def env_file_problem(path: Path, known: set[str]) -> str | None:
    """The first line of a `.env` file that cannot be read, or that sets an ASSISTANT_
    variable that does not exist (a typo would otherwise be ignored)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return f"{path} cannot be read: {getattr(exc, 'strerror', None) or exc}"
    for binding in parse_stream(io.StringIO(text)):
        line = binding.original.line
        if binding.error:  # its text may hold a key: not shown
            return f"{path} line {line} is not a setting: write NAME=value"
        key = binding.key or ""
        if key.startswith("ASSISTANT_") and key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            return f"{path} line {line} sets {key}, which is not a setting{hint}"
    return None


def port_problem(host_name: str, port: int) -> str | None:
    """Why the app cannot listen on host:port, or None."""
    try:
        infos = socket.getaddrinfo(host_name, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return f"--host (ASSISTANT_HOST) is “{host_name}”: no address of this machine has " \
               "that name."
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return f"--port (ASSISTANT_PORT) is “{port}”: another program listens " \
                       "there; choose another port."
            if exc.errno == errno.EACCES:
                return f"--port (ASSISTANT_PORT) is “{port}”: ports below 1024 need root; " \
                       "choose 1024 or more."
            return f"--host (ASSISTANT_HOST) is “{host_name}”: it is not an address of " \
                   f"this machine ({exc.strerror})."
    return None


def certificate_problem(certfile: str | None, keyfile: str | None) -> str | None:
    """Why HTTPS cannot start with these files, or None."""
    if not certfile and not keyfile:
        return None
    if not certfile or not keyfile:
        return "--ssl-certfile and --ssl-keyfile (ASSISTANT_SSL_CERTFILE, " \
               "ASSISTANT_SSL_KEYFILE) go together: give both, or neither."
    for flag, var, path in (("--ssl-certfile", "ASSISTANT_SSL_CERTFILE", certfile),
                            ("--ssl-keyfile", "ASSISTANT_SSL_KEYFILE", keyfile)):
        problem = unreadable(path)
        if problem:
            return f"{flag} ({var}) is “{path}”: {problem}."
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        return f"--ssl-certfile and --ssl-keyfile are “{certfile}” and “{keyfile}”: they are " \
               f"not a PEM certificate and its private key ({exc.reason or exc})."
    return None


def unreadable(path: str | Path) -> str | None:
    """Why the file at `path` cannot be read, or None."""
    try:
        with open(path, "rb"):
            return None
    except IsADirectoryError:
        return "it is a folder, not a file"
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"


def data_dir_problem(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"--data-dir (ASSISTANT_DATA_DIR) is “{path}”: the app cannot write there " \
               f"({exc.strerror})."
    return None


def startup_problem(settings: Settings) -> str | None:
    """What stops the start among the settings that name files, folders and ports."""
    from ..identity.passwords import PasswordFile, PasswordFileError
    from ..tools.mcp_config import load_servers

    if settings.auth_file is not None:
        try:
            PasswordFile(settings.auth_file)
        except OSError as exc:
            return f"--auth-file (ASSISTANT_AUTH_FILE) is “{settings.auth_file}”: it cannot " \
                   f"be read ({exc.strerror})."
        except PasswordFileError as exc:
            return f"--auth-file (ASSISTANT_AUTH_FILE): {exc}."
    try:
        load_servers(settings.mcp_servers)
    except ValueError as exc:
        return f"--mcp-servers (ASSISTANT_MCP_SERVERS): {str(exc).rstrip('.')}."
    if settings.local_model_path and (problem := unreadable(settings.local_model_path)):
        return f"--local-model-path (ASSISTANT_LOCAL_MODEL_PATH) is " \
               f"“{settings.local_model_path}”: {problem}."
    return certificate_problem(settings.ssl_certfile, settings.ssl_keyfile) \
        or data_dir_problem(settings.data_dir) or port_problem(settings.host, settings.port)
