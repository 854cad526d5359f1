"""What an address in a reply points at, and which images the page may load by itself."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from .server_fetches import OUTSIDE_FETCH

DEAD_SCHEMES = ("javascript:", "data:", "vbscript:")
OWN_FILES = "/gradio_api/file="  # where Gradio serves the app's files
_URL_NOISE = re.compile(r"[\t\n\r]")
_PLAIN_HOST = re.compile(r"[A-Za-z0-9.:\[\]-]+")


@dataclass(frozen=True)
class ImagePolicy:
    """Images that show by themselves: the app's own files, `data:`, `blob:`, and the
    operator's allowed hosts (ASSISTANT_IMAGE_HOSTS, already checked and lower-case). Not
    a path that asks the server to fetch elsewhere (web/server_fetches.py closes those),
    nor another of the app's paths: loading `/logout` as an image would sign the reader out."""
    allowed_hosts: frozenset[str] = frozenset()

    def shows(self, address: str) -> bool:
        url = browser_url(address)
        lowered = url.lower()
        if lowered.startswith(("data:image/", "blob:")):
            return True
        if re.match(r"/[A-Za-z0-9_~%.\-]", url):  # a path on this app, not //host
            return _own_file(unquote(url))
        if not self.allowed_hosts or not lowered.startswith(("https://", "http://")):
            return False
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            return False
        return host is not None and any(_host_allowed(host, port, allowed)
                                        for allowed in self.allowed_hosts)


def _own_file(path: str) -> bool:
    """A file Gradio serves, with no dot segment the browser would climb out of it by."""
    segments = re.split(r"[?#]", path, maxsplit=1)[0].split("/")
    return (path.lower().startswith(OWN_FILES) and OUTSIDE_FETCH.search(path) is None
            and not any(segment in (".", "..") for segment in segments))


def _host_allowed(host: str, port: int | None, allowed: str) -> bool:
    """As CSP matches a host source: `*.` for subdomains, no port for the default one."""
    name, _, allowed_port = allowed.partition(":")
    if (str(port) if port is not None else "") != allowed_port:
        return False
    return host == name or (name.startswith("*.") and host.endswith(name[1:]))


def browser_url(address: str) -> str:
    """The address as a browser reads it: entities decoded, backslashes as slashes, and the
    tabs and line breaks that URL parsers drop removed."""
    url = html.unescape(address.strip().strip("<>"))
    url = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", url)  # Markdown's backslash escapes
    return _URL_NOISE.sub("", url).replace("\\", "/").strip()


def shown_host(address: str) -> str:
    """The host an address points at, as a reader should see it; "" when it has none."""
    url = browser_url(address)
    if url.startswith("//"):
        url = "https:" + url
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return host if _PLAIN_HOST.fullmatch(host) else ""


def is_dead_link(address: str) -> bool:
    return browser_url(address).lower().replace(" ", "").startswith(DEAD_SCHEMES)
