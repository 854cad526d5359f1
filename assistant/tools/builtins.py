"""The built-in tools: a safe calculator and the current time, with their JSON schemas.

Plain functions over the standard library; the registry wraps them for the model.
Failures raise ToolError with one short sentence the model can act on.
"""

from __future__ import annotations

import ast
import math
import operator
from datetime import datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ToolError

Number = int | float

# Limits that keep any input cheap to parse and to evaluate.
MAX_LENGTH = 500  # characters
MAX_DEPTH = 50  # brackets inside brackets, bounded before parsing
MAX_AST_DEPTH = 300  # a 500-character sum such as 1+1+…+1 is about 250 deep
MAX_NODES = 1000  # about the most 500 characters can make
MAX_EXPONENT = 1000
MAX_DIGITS = 4300  # also Python's default limit for int-to-str conversion
_INT_LIMIT = 10**MAX_DIGITS

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e, "tau": math.tau}

_UNARY: dict[type[ast.unaryop], Callable[[Number], Number]] = {
    ast.UAdd: operator.pos, ast.USub: operator.neg}


def _power(base: Number, exponent: Number) -> object:
    if abs(exponent) > MAX_EXPONENT:
        raise ToolError(f"Exponent too large: the limit is {MAX_EXPONENT}.")
    if base and exponent * math.log10(abs(base)) > MAX_DIGITS:
        raise ToolError(f"The result would have more than {MAX_DIGITS} digits.")
    return base**exponent  # complex for a negative base and a fractional exponent: _checked refuses it


_BINARY: dict[type[ast.operator], Callable[[Number, Number], object]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: _power}


def _round(number: Number, digits: Number | None = None) -> Number:
    if digits is None:
        return round(number)
    # round(5, -10**9) would compute 10**(10**9)
    if not isinstance(digits, int) or abs(digits) > MAX_EXPONENT:
        raise ToolError(f"round() takes a whole number of digits from -{MAX_EXPONENT} to {MAX_EXPONENT}.")
    return round(number, digits)


# name -> (function, fewest arguments, most arguments)
_FUNCTIONS: dict[str, tuple[Callable[..., Any], int, int]] = {
    "sqrt": (math.sqrt, 1, 1), "sin": (math.sin, 1, 1), "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1), "log": (math.log, 1, 2), "log10": (math.log10, 1, 1),
    "exp": (math.exp, 1, 1), "abs": (abs, 1, 1), "round": (_round, 1, 2),
    "floor": (math.floor, 1, 1), "ceil": (math.ceil, 1, 1),
    "min": (lambda *args: min(args), 1, MAX_NODES), "max": (lambda *args: max(args), 1, MAX_NODES),
}

_TOO_DEEP = f"The expression is nested too deeply (over {MAX_DEPTH} levels); split it into steps."


def calculator(expression: str) -> str:
    """Evaluates an arithmetic expression; returns the number as `str` (floats as `repr`)."""
    return str(_evaluate(_parse(expression).body))


def _parse(expression: str) -> ast.Expression:
    if len(expression) > MAX_LENGTH:
        raise ToolError(f"The expression is too long (over {MAX_LENGTH} characters).")
    text = expression.strip()
    if not text:
        raise ToolError("The expression is empty.")
    depth = deepest = 0
    for char in text:  # ast.parse recurses on nested brackets: bound them first
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_DEPTH:
        raise ToolError(_TOO_DEEP)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ToolError("This is not a valid arithmetic expression.") from None
    except (ValueError, RecursionError, MemoryError):  # ValueError: a null byte
        raise ToolError("The expression cannot be read.") from None
    _check_size(tree)
    return tree


def _check_size(tree: ast.AST) -> None:
    count, stack = 0, [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_AST_DEPTH:
            raise ToolError(_TOO_DEEP)
        if count > MAX_NODES:
            raise ToolError(f"The expression is too large (over {MAX_NODES} parts); split it into steps.")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _evaluate(node: ast.AST) -> Number:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (str, bytes)):
            raise ToolError("Strings are not allowed; use numbers only.")
        if type(node.value) not in (int, float):
            raise ToolError(f"Only whole and decimal numbers are allowed, not {node.value!r}.")
        return _checked(node.value)
    if isinstance(node, ast.Name):
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in _FUNCTIONS:
            raise ToolError(f"{node.id} is a function; call it like {node.id}(2).")
        raise ToolError(f"Names are not allowed: {node.id}. The only constants are pi, e and tau.")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _checked(_UNARY[type(node.op)](_evaluate(node.operand)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        try:
            return _checked(_BINARY[type(node.op)](left, right))
        except ZeroDivisionError:
            raise ToolError("Division by zero.") from None
        except OverflowError:
            raise ToolError("The result is too large.") from None
    if isinstance(node, ast.Call):
        return _call(node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitXor):
        raise ToolError("Use ** for powers; ^ is not supported.")
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        raise ToolError("Only the operators + - * / // % ** are supported.")
    raise ToolError(f"{type(node).__name__} is not allowed: use only numbers, + - * / // % **, "
                    "parentheses, pi, e, tau and the listed functions.")


def _call(node: ast.Call) -> Number:
    if not isinstance(node.func, ast.Name):
        raise ToolError("Only functions called by bare name are allowed, such as sqrt(2).")
    name = node.func.id
    if name not in _FUNCTIONS:
        raise ToolError(f"Unknown function: {name}. The functions are {', '.join(_FUNCTIONS)}.")
    function, fewest, most = _FUNCTIONS[name]
    if node.keywords or not fewest <= len(node.args) <= most:
        wanted = "1 argument" if most == 1 else "1 or 2 arguments" if most == 2 else "1 or more arguments"
        raise ToolError(f"{name}() takes {wanted}, without keywords.")
    args = [_evaluate(arg) for arg in node.args]
    try:
        return _checked(function(*args))
    except ZeroDivisionError:  # log(x, 1)
        raise ToolError("Division by zero.") from None
    except OverflowError:
        raise ToolError(f"A number is too large for {name}().") from None
    except ValueError:
        raise ToolError(f"Math domain error: {name}() is not defined for these arguments.") from None


def _checked(value: object) -> Number:
    """`value` if it is a finite float or an int of at most MAX_DIGITS digits."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ToolError("The result is too large.")
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if abs(value) >= _INT_LIMIT:
            raise ToolError(f"The result has more than {MAX_DIGITS} digits.")
        return value
    raise ToolError("The result is not a real number.")


_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def current_time(timezone: str = "UTC", *, now: Callable[[], datetime] | None = None) -> str:
    """The date and time in an IANA zone, e.g. "2026-12-01T21:30:05+01:00 (Tuesday, Europe/Paris)".

    `now` (not offered to the model) returns an aware datetime, for tests.
    """
    try:
        zone = ZoneInfo(timezone.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):  # ValueError: a path such as ../x
        raise ToolError(f"Unknown time zone: {timezone}. Use an IANA name such as Europe/Paris.") from None
    moment = datetime.now(zone) if now is None else now().astimezone(zone)
    return f"{moment.isoformat(timespec='seconds')} ({_WEEKDAYS[moment.weekday()]}, {zone.key})"


CALCULATOR_DESCRIPTION = (
    "Evaluates an arithmetic expression exactly and returns the number. Use it for any arithmetic "
    "rather than working it out yourself. Supports numbers, + - * / // % ** and parentheses, the "
    "constants pi, e and tau, and the functions sqrt, sin, cos, tan (radians), log(x) or log(x, base), "
    "log10, exp, abs, round(x) or round(x, digits), floor, ceil, min and max. At most 500 characters; "
    "exponents up to 1000.")

CALCULATOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"expression": {
        "type": "string",
        "description": "The expression in Python syntax, e.g. \"(3 + 4) * 2 ** 10 / sqrt(2)\"."}},
    "required": ["expression"],
    "additionalProperties": False,
}

CURRENT_TIME_DESCRIPTION = (
    "Returns the current date, time and weekday in a time zone, in ISO 8601 with the UTC offset. "
    "Use it whenever the answer depends on today's date or the time now.")

CURRENT_TIME_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"timezone": {
        "type": "string",
        "description": "An IANA time zone name such as Europe/Paris, America/New_York or Asia/Tokyo; "
                       "UTC when omitted."}},
    "required": [],
    "additionalProperties": False,
}
