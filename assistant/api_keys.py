"""Manage users' API keys: `python -m assistant.api_keys add NAME` prints a new key once.

    python -m assistant.api_keys add ann --label laptop   # the key on stdout, nothing else
    python -m assistant.api_keys list ann                 # id, label, created; never a key
    python -m assistant.api_keys revoke ann key_0123456789ab

NAME is a user of the password file (the owner `user:NAME`); a NAME with a ':' in it,
such as `hf:alice`, is an owner id as it is. The keys go into the store the app uses:
ASSISTANT_DATABASE_URL, else the SQLite file in ASSISTANT_DATA_DIR (the environment,
then `.env`, as the app reads them).
"""

from __future__ import annotations

import argparse
import sys
import time
from contextlib import closing

from .app.settings import load_settings
from .identity.api_keys import ApiKeys
from .identity.owners import user_owner
from .identity.passwords import check_name
from .storage.opening import open_store
from .storage.sqlite.store import FILENAME


def owner_named(name: str) -> str:
    return name if ":" in name else user_owner(check_name(name)) or ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.api_keys",
                                     description="Make, list or revoke users' API keys.")
    actions = parser.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="make a key and print it (only this once)")
    add.add_argument("name", help="a user of the password file, or an owner id such as hf:alice")
    add.add_argument("--label", default="", help="what the key is for, shown in lists")
    actions.add_parser("list", help="the user's keys: id, label, created").add_argument("name")
    revoke = actions.add_parser("revoke", help="stop a key from working")
    revoke.add_argument("name")
    revoke.add_argument("key_id")
    args = parser.parse_args(argv)
    try:
        owner = owner_named(args.name)
        settings = load_settings([])
        sqlite_file = settings.data_dir / FILENAME
        if not settings.database_url and not sqlite_file.exists():  # a mistyped directory
            raise FileNotFoundError(f"no database at {sqlite_file}: start the app once, or "
                                    "set ASSISTANT_DATA_DIR or ASSISTANT_DATABASE_URL")
        with closing(open_store(settings.database_url, settings.data_dir, "")) as store:
            return _run(ApiKeys(store), owner, args)
    except Exception as exc:  # a command answers in one line, never with a traceback
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _run(keys: ApiKeys, owner: str, args: argparse.Namespace) -> int:
    if args.action == "add":
        key, record = keys.create(owner, args.label)
        print(key)
        print(f"Made {record.id} for {owner}. Copy the key now: it is not shown again.",
              file=sys.stderr)
    elif args.action == "list":
        records = keys.list(owner)
        for record in records:
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created))
            print(f"{record.id}\t{record.name}\t{created}")
        if not records:
            print(f"{owner} has no keys.", file=sys.stderr)
    elif keys.revoke(owner, args.key_id):
        print(f"Revoked {args.key_id} of {owner}.")
    else:
        print(f"error: {owner} has no key {args.key_id}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
