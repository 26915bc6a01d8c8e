"""Pydantic validation errors in plain words for operators (Marathon, Chronos, Metronome).

Pydantic says "Input should be greater than 0"; an operator wants to read what was sent and what
is expected: "got -1, expected a number greater than 0". The caller names the field (a JSON path
or a dotted key) next to the text.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["plain_message", "shown"]

_EXPECTED_BY_TYPE = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "finite_number": "a finite number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "tuple_type": "a list",
    "set_type": "a list",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "dataclass_type": "an object",
}


def shown(value: Any, limit: int = 40) -> str:
    """`value` as a short quote of what was sent: strings in quotes, big values shortened."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "..."
        return "'" + text.encode("utf-8", "backslashreplace").decode("utf-8") + "'"
    try:
        text = json.dumps(value, allow_nan=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def plain_message(err: Any) -> str:
    """The text of one pydantic error (`ValidationError.errors()` item), without its location.

    Example:
        >>> plain_message({"type": "greater_than", "input": -1, "ctx": {"gt": 0}, "msg": "..."})
        'got -1, expected a number greater than 0'
    """
    kind = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    msg = str(err.get("msg", "invalid"))
    got = f"got {shown(err.get('input'))}"
    if kind == "missing":
        return "is required"
    if kind in _EXPECTED_BY_TYPE:
        return f"{got}, expected {_EXPECTED_BY_TYPE[kind]}"
    if kind == "greater_than":
        return f"{got}, expected a number greater than {ctx.get('gt')}"
    if kind == "greater_than_equal":
        return f"{got}, expected {ctx.get('ge')} or more"
    if kind == "less_than":
        return f"{got}, expected a number less than {ctx.get('lt')}"
    if kind == "less_than_equal":
        return f"{got}, expected {ctx.get('le')} or less"
    if kind in ("literal_error", "enum"):
        return f"{got}, expected {ctx.get('expected')}"
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in ("value_error", "assertion_error"):
        for prefix in ("Value error, ", "Assertion failed, "):
            msg = msg.removeprefix(prefix)
        return msg
    return msg
