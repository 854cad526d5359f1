"""JSON schemas for tool arguments: derived from type hints, and checked before a call."""

from __future__ import annotations

import inspect
from typing import Any

from .errors import ToolError

_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean",
                          list: "array", dict: "object"}
_CHECKS: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,),
                                         "number": (int, float), "boolean": (bool,),
                                         "array": (list,), "object": (dict,)}


def schema_from_hints(signature: inspect.Signature, hints: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = {}
    required = []
    for name, parameter in signature.parameters.items():
        if parameter.kind is not inspect.Parameter.POSITIONAL_OR_KEYWORD:
            continue
        hint = hints.get(name, str)
        kind = _TYPES.get(getattr(hint, "__origin__", hint), "string")
        properties[name] = {"type": kind}
        if parameter.default is inspect.Parameter.empty:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required,
            "additionalProperties": False}


def check_arguments(arguments: Any, schema: dict[str, Any]) -> None:
    """Raises ToolError saying what is wrong with `arguments` for `schema` (top level)."""
    if not isinstance(arguments, dict):
        raise ToolError("the arguments must be a JSON object.")
    properties = schema.get("properties") or {}
    missing = [n for n in schema.get("required") or [] if n not in arguments]
    if missing:
        raise ToolError(f"missing arguments: {', '.join(missing)}.")
    if schema.get("additionalProperties") is False:
        unknown = [n for n in arguments if n not in properties]
        if unknown:
            raise ToolError(f"unknown arguments: {', '.join(unknown)}.")
    for name, value in arguments.items():
        kind = (properties.get(name) or {}).get("type")
        allowed = _CHECKS.get(kind) if isinstance(kind, str) else None
        if allowed and (not isinstance(value, allowed) or
                        (isinstance(value, bool) and kind in ("integer", "number"))):
            raise ToolError(f"“{name}” must be of type {kind}.")
