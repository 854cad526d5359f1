"""Manage the password file: `python -m assistant.passwords add NAME` (asks for the password).

    python -m assistant.passwords add ann            # adds ann, or changes her password
    python -m assistant.passwords remove ann
    python -m assistant.passwords list

The file is ASSISTANT_AUTH_FILE, else `--file`, else `data/passwords`. A password
piped on stdin is read from its first line, for scripts.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from .identity.passwords import PasswordFileError, read_file, remove_user, write_user


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.passwords",
                                     description="Add, remove or list users of the password file.")
    parser.add_argument("--file", default=os.environ.get("ASSISTANT_AUTH_FILE") or "data/passwords")
    parser.add_argument("action", choices=("add", "remove", "list"))
    parser.add_argument("name", nargs="?")
    args = parser.parse_args(argv)
    path = Path(args.file)
    try:
        if args.action == "list":
            print("\n".join(read_file(path)) if path.exists() else "")
            return 0
        if not args.name:
            parser.error(f"{args.action} needs a user name")
        if args.action == "remove":
            if not remove_user(path, args.name):
                print(f"{args.name} is not in {path}", file=sys.stderr)
                return 1
            print(f"Removed {args.name} from {path}")
            return 0
        password = _ask_password()
        if not password:
            print("The password cannot be empty.", file=sys.stderr)
            return 1
        path.parent.mkdir(parents=True, exist_ok=True)
        write_user(path, args.name, password)
    except (OSError, ValueError, PasswordFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Saved {args.name} in {path}")
    return 0


def _ask_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        print("The passwords differ.", file=sys.stderr)
        return ""
    return first


if __name__ == "__main__":
    sys.exit(main())
