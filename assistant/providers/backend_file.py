"""ASSISTANT_BACKENDS: the model servers one app talks to, read from a YAML or JSON file.

    backends:
      - name: openai
        base_url: https://api.openai.com/v1
        key_env: OPENAI_API_KEY        # the name of a variable; a key is never in the file
        api: responses                 # or chat_completions (the default)
        models: [gpt-4.1-mini, gpt-4.1]  # or "ask": whatever the server lists
        visitor_keys: true             # visitors may use their own key here (one backend)
    default: openai/gpt-4.1-mini

A bad file stops the start with its line and the reason (BackendsFileError).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping
from urllib.parse import urlsplit

import yaml

from ..domain.redaction import shown_url
from .protocols import ApiName

BACKEND_KEYS = ("name", "base_url", "key_env", "api", "models", "context_window",
                "visitor_keys")
TOP_KEYS = ("backends", "default", "routes")
ROUTE_KEYS = ("name", "when", "models", "examples")
CONDITIONS = ("images", "documents", "tools", "code", "min_chars", "max_chars", "keywords",
              "pattern", "language")
LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl")
LOCAL_NAME = "local"  # the embedded model, whenever it is on
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
_APIS: dict[str, ApiName] = {"chat_completions": "chat_completions", "chat": "chat_completions",
                             "responses": "responses"}


class BackendsFileError(ValueError):
    def __init__(self, line: int, reason: str) -> None:
        super().__init__(f"line {line}: {reason}")
        self.line, self.reason = line, reason


@dataclass(frozen=True)
class BackendEntry:
    name: str
    base_url: str
    api_key: str | None = field(repr=False)  # read from the variable the file names
    api: ApiName
    models: tuple[str, ...] | None  # None: ask the server
    context_window: int | None = None
    visitor_keys: bool = False  # where a visitor's own key goes


@dataclass(frozen=True)
class RouteEntry:
    """An Auto route: when its conditions hold, the first of its models answers (the next
    ones if it fails before its first token). No conditions: everything else."""
    name: str
    models: tuple[str, ...]  # backend/model
    when: Mapping[str, bool | int | str | tuple[str, ...]]
    line: int
    examples: tuple[str, ...] = ()  # messages it is for: it holds when one is the closest


@dataclass(frozen=True)
class BackendsFile:
    backends: tuple[BackendEntry, ...]
    default: str | None  # "backend/model"
    routes: tuple[RouteEntry, ...] = ()

    @property
    def for_visitor_keys(self) -> BackendEntry | None:
        return next((entry for entry in self.backends if entry.visitor_keys), None)


def read_backends(path: str | Path, environ: Mapping[str, str]) -> BackendsFile:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BackendsFileError(0, f"the file cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise BackendsFileError(0, "the file is not UTF-8 text") from None
    return parse_backends(text, environ)


def parse_backends(text: str, environ: Mapping[str, str]) -> BackendsFile:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise BackendsFileError(1, "it nests too deep") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise BackendsFileError(mark.line + 1 if mark else 1,
                                f"this is not YAML or JSON ({getattr(exc, 'problem', exc)})"
                                ) from None
    if not isinstance(root, yaml.MappingNode):
        raise BackendsFileError(_line(root), 'the file must be a mapping with a "backends" list')
    top = _mapping(root, TOP_KEYS)
    listed = top.get("backends")
    if not isinstance(listed, yaml.SequenceNode) or not listed.value:
        raise BackendsFileError(_line(listed or root), '"backends" must be a list of servers')
    entries: list[BackendEntry] = []
    for node in listed.value:
        entry = _entry(node, environ)
        if entry.visitor_keys and any(e.visitor_keys for e in entries):
            raise BackendsFileError(_line(node), f"“{entry.name}” takes visitors' keys, and "
                                    "so does another backend: only one may")
        if entry.name in {e.name for e in entries} or entry.name == LOCAL_NAME:
            taken = "is the embedded model's" if entry.name == LOCAL_NAME else "is taken"
            raise BackendsFileError(_line(node), f"a second backend is named “{entry.name}” "
                                                 f"(the name {taken}; each needs its own)")
        entries.append(entry)
    default = _scalar(top["default"], "default") if "default" in top else None
    names = {e.name for e in entries} | {LOCAL_NAME}
    if default is not None and (default.partition("/")[0] not in names
                                or not default.partition("/")[2]):
        raise BackendsFileError(_line(top["default"]), f"default is “{default}”: it must be "
                                "backend/model, with a backend named in this file")
    routes = top.get("routes")
    if routes is not None and (not isinstance(routes, yaml.SequenceNode) or not routes.value):
        raise BackendsFileError(_line(routes), '"routes" must be a list of routes')
    return BackendsFile(tuple(entries), default,
                        tuple(_route(node, names) for node in routes.value) if routes else ())


def _route(node: yaml.Node, backends: set[str]) -> RouteEntry:
    if not isinstance(node, yaml.MappingNode):
        raise BackendsFileError(_line(node), "each route must be a mapping with a name and "
                                             "models")
    fields = _mapping(node, ROUTE_KEYS)
    if "name" not in fields or "models" not in fields:
        raise BackendsFileError(_line(node), "this route needs a name and models")
    models = _models(fields["models"])
    if not models:
        raise BackendsFileError(_line(fields["models"]), "a route's models must be a list of "
                                                         "backend/model names")
    for model in models:
        if model.partition("/")[0] not in backends or not model.partition("/")[2]:
            raise BackendsFileError(_line(fields["models"]), f"the model “{model}” must be "
                                    "backend/model, with a backend named in this file")
    when: dict[str, bool | int | str | tuple[str, ...]] = {}
    if "when" in fields:
        if not isinstance(fields["when"], yaml.MappingNode):
            raise BackendsFileError(_line(fields["when"]), "when must be a mapping of "
                                    f"conditions: {', '.join(CONDITIONS)}")
        for key, value in _mapping(fields["when"], CONDITIONS).items():
            when[key] = _condition(key, value)
    examples: tuple[str, ...] = ()
    if "examples" in fields:
        examples = _models(fields["examples"]) or ()
        if not examples:
            raise BackendsFileError(_line(fields["examples"]), "examples must be a list of "
                                                               "messages")
    return RouteEntry(_scalar(fields["name"], "name"), models, when, _line(node), examples)


def _condition(key: str, node: yaml.Node) -> bool | int | str | tuple[str, ...]:
    if key == "keywords":
        words = _models(node)
        if not words:
            raise BackendsFileError(_line(node), "keywords must be a list of words or phrases")
        return tuple(w.lower() for w in words)
    if key in ("min_chars", "max_chars"):
        return _whole(node, key, 0, "characters")
    value = _scalar(node, key)
    if key == "language":
        if value.lower() not in LANGUAGES:
            raise BackendsFileError(_line(node), f"language is “{value}”: it must be one of "
                                                 f"{', '.join(LANGUAGES)}")
        return value.lower()
    if key == "pattern":
        try:
            re.compile(value)
        except re.error as exc:
            raise BackendsFileError(_line(node), f"pattern is not a regular expression "
                                                 f"({exc})") from None
        return value
    if value.lower() not in ("true", "false"):
        raise BackendsFileError(_line(node), f"{key} is “{value}”: it must be true or false")
    return value.lower() == "true"


def _entry(node: yaml.Node, environ: Mapping[str, str]) -> BackendEntry:
    if not isinstance(node, yaml.MappingNode):
        raise BackendsFileError(_line(node), "each backend must be a mapping with a name and "
                                             "a base_url")
    fields = _mapping(node, BACKEND_KEYS)
    for needed in ("name", "base_url"):
        if needed not in fields:
            raise BackendsFileError(_line(node), f"this backend has no {needed}")
    name = _scalar(fields["name"], "name")
    if not _NAME.fullmatch(name):
        raise BackendsFileError(_line(fields["name"]), f"the name “{name}” must be letters, "
                                "digits, '.', '-' or '_' (no '/' or spaces)")
    url = _scalar(fields["base_url"], "base_url")
    try:
        parts = urlsplit(url)
        good = parts.scheme in ("http", "https") and bool(parts.hostname) and \
            (parts.port is None or parts.port > 0)
    except ValueError:  # a bad port or bracket
        good = False
    if not good:
        raise BackendsFileError(_line(fields["base_url"]), f"base_url “{shown_url(url)}” is "
                                "not an http:// or https:// address")
    key = None
    if "key_env" in fields:
        variable = _scalar(fields["key_env"], "key_env")
        key = environ.get(variable) or None
        if key is None:
            raise BackendsFileError(_line(fields["key_env"]), f"key_env names {variable}, "
                                    "which is not set in the environment or .env")
    api_word = _scalar(fields["api"], "api") if "api" in fields else "chat_completions"
    if api_word not in _APIS:
        raise BackendsFileError(_line(fields["api"]), f"api is “{api_word}”: it must be "
                                "chat_completions or responses")
    visitors = _condition("visitor_keys", fields["visitor_keys"]) \
        if "visitor_keys" in fields else False
    return BackendEntry(name, url, key, _APIS[api_word], _models(fields.get("models")),
                        _window(fields.get("context_window")), visitors is True)


def _whole(node: yaml.Node, what: str, least: int, unit: str) -> int:
    value = _scalar(node, what)
    if not value.isascii() or not value.isdecimal() or len(value) > 9 or int(value) < least:
        raise BackendsFileError(_line(node), f"{what} is “{value[:20]}”: it must be a whole "
                                             f"number of {unit}, {least} or more")
    return int(value)


def _models(node: yaml.Node | None) -> tuple[str, ...] | None:
    if node is None or (isinstance(node, yaml.ScalarNode) and node.value == "ask"):
        return None
    if isinstance(node, yaml.SequenceNode) and node.value and all(
            isinstance(m, yaml.ScalarNode) and m.value.strip() for m in node.value):
        return tuple(m.value.strip() for m in node.value)
    raise BackendsFileError(_line(node), 'models must be a list of model names, or "ask" '
                                         "to ask the server")


def _window(node: yaml.Node | None) -> int | None:
    return _whole(node, "context_window", 256, "tokens") if node is not None else None


def _mapping(node: yaml.MappingNode, allowed: tuple[str, ...]) -> dict[str, yaml.Node]:
    fields: dict[str, yaml.Node] = {}
    for key_node, value_node in node.value:
        key = str(key_node.value) if isinstance(key_node, yaml.ScalarNode) else "(a list)"
        if key not in allowed:
            raise BackendsFileError(_line(key_node), f"unknown key “{key[:40]}” (allowed: "
                                                     f"{', '.join(allowed)})")
        if key in fields:
            raise BackendsFileError(_line(key_node), f"“{key}” is given twice")
        fields[key] = value_node
    return fields


def _scalar(node: yaml.Node, what: str) -> str:
    if not isinstance(node, yaml.ScalarNode) or not str(node.value).strip():
        raise BackendsFileError(_line(node), f"{what} must be a single value")
    return str(node.value).strip()


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 1
