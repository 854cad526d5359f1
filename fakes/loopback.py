"""Loopback helpers for the tests and the benchmarks."""

from __future__ import annotations

import contextlib
import random
import socket


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that nothing listens on right now (the OS picks it; free until someone binds it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` ports in a row that nothing listens on, below the ephemeral range
    (32768 and up on Linux), so no outgoing connection takes one before it is bound."""
    while True:
        first = random.randrange(20_000, 32_000 - count)
        try:
            with contextlib.ExitStack() as held:
                for port in range(first, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind((host, port))
            return first
        except OSError:
            continue
