"""How a setting's text becomes its value, for the settings a plain type cannot read.
Each parser raises ValueError with what is allowed; settings.py names the setting."""

from __future__ import annotations

import re
from typing import Callable

from ..identity.owners import hf_user_owner, user_owner
from ..providers.protocols import ApiName
from .setting_checks import http_url, listen_host, postgres_url

_HOST = re.compile(r"(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?")
_SOURCE = re.compile(r"'self'|'none'|\*|(https?://)?(\*\.)?[A-Za-z0-9.\-]+(:\d+)?")

_API_NAMES: dict[str, ApiName] = {
    "chat": "chat_completions", "chat-completions": "chat_completions",
    "chat_completions": "chat_completions", "responses": "responses"}


def api_name(value: str) -> ApiName:
    api = _API_NAMES.get(value.strip().lower())
    if api is None:
        raise ValueError("it must be chat_completions or responses")
    return api


def image_hosts(value: str) -> tuple[str, ...]:
    """ASSISTANT_IMAGE_HOSTS: host names, comma- or space-separated; `*.` allows subdomains,
    `:port` another port than the default."""
    hosts = tuple(h.strip().lower() for h in re.split(r"[,\s]+", value) if h.strip())
    for host in hosts:
        if not _HOST.fullmatch(host):
            raise ValueError(f"“{host}” is not a host name (write example.com or *.example.com)")
    return hosts


def admin_owners(value: str) -> tuple[str, ...]:
    """ASSISTANT_ADMINS: user names as they sign in; hf:NAME for Hugging Face accounts."""
    owners = []
    for name in (n.strip() for n in re.split(r"[,\s]+", value) if n.strip()):
        hf = name.startswith("hf:")
        bare = name.removeprefix("hf:")
        if not bare or ":" in bare:
            raise ValueError(f"“{name}” is not a user name (write NAME or hf:NAME)")
        owners.append(hf_user_owner(bare) if hf else user_owner(bare) or "")
    return tuple(owners)


def frame_ancestors(value: str) -> tuple[str, ...]:
    """ASSISTANT_FRAME_ANCESTORS: the sites that may show the app in a frame."""
    sources = tuple(s.strip() for s in re.split(r"[,\s]+", value) if s.strip())
    for source in sources:
        if not _SOURCE.fullmatch(source):
            raise ValueError(f"“{source}” is not a frame source (write 'self', 'none' or "
                             "https://example.com)")
    return sources


def one_of(*allowed: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        choice = value.strip().lower()
        if choice not in allowed:
            raise ValueError(f"it must be {' or '.join(allowed)}")
        return choice
    return parse

def auth_pairs(value: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in value.split(","):
        user, sep, password = item.strip().partition(":")
        if not sep or not user or not password:
            raise ValueError("it must look like 'user:password,user2:password2'")
        pairs.append((user, password))
    return tuple(pairs)

PARSERS: dict[str, Callable[[str], object]] = {
    "auth": auth_pairs, "api": api_name, "visitor_keys": one_of("off", "allowed", "required"),
    "image_hosts": image_hosts, "frame_ancestors": frame_ancestors, "admins": admin_owners,
    "moderation": one_of("off", "openai"), "voice": one_of("auto", "offline", "server", "off"),
    "moderation_fail": one_of("open", "closed"),
    "openai_base_url": http_url, "database_url": postgres_url, "host": listen_host}
