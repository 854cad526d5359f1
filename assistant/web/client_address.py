"""The address a request came from: the peer, or what a trusted proxy says it forwarded."""

from __future__ import annotations

import ipaddress
from typing import Any, Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(value: str | None) -> tuple[Network, ...]:
    """'10.0.0.1, 172.16.0.0/12' -> networks; a bad entry raises ValueError."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False)
                 for item in (value or "").split(",") if item.strip())


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def client_address(request: Any, proxies: Sequence[Network], *, on_spaces: bool = False
                   ) -> str | None:
    """X-Forwarded-For is read only when the peer is a trusted proxy (or on Spaces, whose
    proxy appends the visitor's address): the nearest address no trusted proxy owns."""
    client = getattr(request, "client", None)
    peer = getattr(client, "host", None)
    headers = getattr(request, "headers", None) or {}
    forwarded = headers.get("x-forwarded-for", "") if hasattr(headers, "get") else ""
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if not hops or not (on_spaces or (peer and _trusted(peer, proxies))):
        return peer
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop
    return hops[0]
