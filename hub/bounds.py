"""Input bounds, said once: what the boundary (REST, TAXII, forms, URLs) lets through.

Every layer below may then assume integers fit a BIGINT, numbers are finite, instants lie in
a sane range (so adding a NIS2 month or a time-zone offset never overflows), and JSON is shallow
enough to walk recursively.
"""
from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone

import orjson
from flask import request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)
MIN_YEAR, MAX_YEAR = 1970, 2200
EARLIEST = datetime(MIN_YEAR, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(MAX_YEAR, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc)
# STIX nests a handful of levels (extensions, kill chains, hashes); a full envelope stays below 20.
MAX_JSON_DEPTH = 32
# A TAXII envelope's objects are each held to MAX_JSON_DEPTH, so that one nested too deep fails
# alone; the envelope itself stays within what orjson writes back (255 levels).
MAX_ENVELOPE_DEPTH = 200
# The member that stands in for an envelope object whose JSON the hub cannot hold (a number beyond
# a double, a lone UTF-16 surrogate): its value says why, and ingest refuses that object alone.
# Not a STIX property name (the colon), so no object can carry it.
UNREADABLE = "hub:unreadable"
# Largest human-impact figure or amount: beyond any real count of records or any ransom.
MAX_FIGURE = 10**12


class OutOfBounds(ValueError):
    """A value outside the hub's bounds; the message says which bound, `field` where (a JSON path)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def parse_json(data: bytes | str, *, parts_judged_later: bool = False):
    """Parse JSON and refuse it nested deeper than MAX_JSON_DEPTH, carrying a >64-bit integer or
    a NUL character. With `parts_judged_later` (a TAXII envelope, whose objects ingest judges one
    by one so that a bad one fails alone) only the depth is checked here, up to
    MAX_ENVELOPE_DEPTH, and an object whose JSON orjson cannot read stands as UNREADABLE.

    orjson.JSONDecodeError (a ValueError) for malformed JSON; OutOfBounds for a bound.
    """
    depth = MAX_ENVELOPE_DEPTH if parts_judged_later else MAX_JSON_DEPTH
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        if not parts_judged_later:
            raise
        value = _envelope_with_unreadable_objects(data)
    try:
        if check_json(value, values_checked=not parts_judged_later, max_depth=depth):
            # orjson reads an integer beyond 64 bits as the nearest float, a changed value that the
            # bound above cannot see: read again, exactly (rare: only with such a float in the JSON).
            value = json.loads(data, parse_constant=_not_json)
            check_json(value, values_checked=not parts_judged_later, max_depth=depth)
    except OutOfBounds as exc:
        raise OutOfBounds(str(exc), _where(value, not parts_judged_later, depth)) from None
    return value


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _envelope_with_unreadable_objects(data: bytes | str):
    """Valid JSON that orjson refuses to read (a number beyond a double, a lone surrogate in a
    string) costs only the objects holding it: read with the standard library, each such object
    stands as {type, id, UNREADABLE: why}. Anything else orjson refused stays refused."""
    try:
        value = json.loads(data, parse_constant=_not_json)
    except (ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("objects"), list):
        orjson.loads(data)  # raises the reader's own error again
    _mark_unreadable_objects(value)
    if _unholdable(value):
        raise OutOfBounds("a number beyond a double or a lone surrogate outside the objects")
    return value


def writable_objects(objects: list) -> list:
    """The objects of an envelope, each one that orjson cannot write (an integer beyond 64 bits,
    which the envelope's reader kept for that object's own refusal) standing as UNREADABLE with
    the reason check_json gives it: what a request stored for later must hold (a TAXII add
    queued for the workers), so that the object fails alone there, as in a small add."""
    writable = []
    for obj in objects:
        try:
            orjson.dumps(obj)
        except TypeError:
            try:
                check_json(obj)
                reason = "a value the hub cannot hold"
            except OutOfBounds as exc:
                reason = str(exc)
            kept = {key: obj[key] for key in ("type", "id", "modified", "created")
                    if isinstance(obj, dict) and isinstance(obj.get(key), str)}
            obj = {**kept, UNREADABLE: reason}
        writable.append(obj)
    return writable


def _mark_unreadable_objects(envelope) -> None:
    objects = envelope.get("objects") if isinstance(envelope, dict) else None
    for index, obj in enumerate(objects if isinstance(objects, list) else []):
        reason = _unholdable(obj)
        if reason:
            kept = {key: obj[key] for key in ("type", "id", "modified", "created")
                    if isinstance(obj, dict) and isinstance(obj.get(key), str) and not _SURROGATE.search(obj[key])}
            objects[index] = {**kept, UNREADABLE: reason}


def _unholdable(value) -> str | None:
    """Why the hub cannot hold this parsed JSON (orjson would have refused it), or None."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if any(_SURROGATE.search(key) for key in node if not key.isascii()):
                return "a lone UTF-16 surrogate in a key"
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float) and not math.isfinite(node):
            return "a number beyond what a double holds"
        elif isinstance(node, str) and not node.isascii() and _SURROGATE.search(node):
            return "a lone UTF-16 surrogate in a string"
    return None


def _where(value, values_checked: bool, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """The JSON path of the first thing check_json refuses in `value` (only on a refusal)."""
    stack = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        if isinstance(node, (dict, list)):
            if depth > max_depth or (values_checked and isinstance(node, dict) and _any_nul(node)):
                return _path_text(path)
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((child, (*path, key), depth + 1) for key, child in reversed(list(items)))
        elif values_checked:
            try:
                _check_leaf(node)
            except OutOfBounds:
                return _path_text(path)
    return None


def _path_text(path: tuple) -> str:
    return "".join(f"[{key}]" if isinstance(key, int) else f".{key}" for key in path).lstrip(".") or "(body)"


# Beyond this magnitude an integral float may be an integer literal that orjson rounded.
_HUGE = float(2**63)


def check_json(value, *, values_checked: bool = True, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """OutOfBounds unless `value` (parsed JSON) is shallow enough, its integers fit 64 bits and
    its text has no NUL character (which PostgreSQL cannot store). True when it holds a whole
    float of 64 bits or more (see parse_json)."""
    # Runs on every shared object: leaves are judged where they are met, by exact type, and only
    # objects and arrays go on the stack (a large bundle spent a fifth of its checking time here).
    huge = False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if type(node) is dict or isinstance(node, dict):
            if values_checked and _any_nul(node):
                raise OutOfBounds("a NUL character in a key")
            if depth > max_depth:
                raise OutOfBounds(f"nested deeper than {max_depth} levels")
            children = node.values()
        elif type(node) is list or isinstance(node, list):
            if depth > max_depth:
                raise OutOfBounds(f"nested deeper than {max_depth} levels")
            children = node
        else:
            if values_checked:
                _check_leaf(node)
            huge = huge or _huge_whole_float(node)
            continue
        for child in children:
            kind = type(child)
            if kind is str:
                if values_checked and "\x00" in child:
                    raise OutOfBounds("a NUL character in a string")
            elif kind is dict or kind is list or isinstance(child, (dict, list)):
                stack.append((child, depth + 1))
            else:
                if values_checked:
                    _check_leaf(child)
                if kind is float and not huge:
                    huge = _huge_whole_float(child)
    return huge


def _huge_whole_float(node) -> bool:
    return type(node) is float and abs(node) >= _HUGE and node.is_integer()


def _any_nul(keys) -> bool:
    try:
        return "\x00" in "".join(keys)
    except TypeError:  # a key that is not text (not from JSON): look at each
        return any("\x00" in key for key in keys)


def _check_leaf(node) -> None:
    if isinstance(node, int) and not isinstance(node, bool) and not INT64_MIN <= node <= INT64_MAX:
        raise OutOfBounds("an integer beyond 64 bits")
    if isinstance(node, str) and "\x00" in node:
        raise OutOfBounds("a NUL character in a string")


def bounded_int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise OutOfBounds("an integer beyond 64 bits")
    return value


def parse_count(text: str, low: int = 0, high: int = INT64_MAX) -> int:
    """A whole number written in ASCII digits, from `low` to `high`; OutOfBounds otherwise.

    Length first: int() of thousands of digits raises, and str.isdigit() also accepts "²".
    """
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or not low <= int(text) <= high:
        raise OutOfBounds(f"an integer from {low} to {high}")
    return int(text)


def bounded_instant(value: datetime) -> datetime:
    """`value` (aware) unchanged when it lies within MIN_YEAR..MAX_YEAR (UTC); OutOfBounds otherwise."""
    try:
        in_range = EARLIEST <= value <= LATEST
    except OverflowError:  # year 1 with a positive offset cannot even be compared
        in_range = False
    if not in_range:
        raise OutOfBounds(f"a date between {MIN_YEAR} and {MAX_YEAR}")
    return value


def parse_instant(text: str, default_zone=None) -> datetime:
    """An ISO 8601 / RFC 3339 date-time in MIN_YEAR..MAX_YEAR, as an aware datetime.

    Without an offset it is taken in `default_zone`; with no default zone either, OutOfBounds.
    ValueError (OutOfBounds for the range) otherwise.
    """
    parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is None:
        if default_zone is None:
            raise OutOfBounds("a time zone is required (e.g. Z)")
        parsed = parsed.replace(tzinfo=default_zone)
    return bounded_instant(parsed)


def bounded_figure(value, *, integer: bool) -> int | float:
    """A human-impact figure: a finite number from 0 to MAX_FIGURE (whole when `integer`)."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds):
        raise OutOfBounds("a whole number" if integer else "a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise OutOfBounds("a finite number")
    if not 0 <= value <= MAX_FIGURE:
        raise OutOfBounds(f"from 0 to {MAX_FIGURE:,}")
    return value


class Int64Converter(IntegerConverter):
    """`<int:...>` in every URL rule: beyond a BIGINT it cannot name a row, so the route does not match (404)."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", INT64_MAX)
        super().__init__(map, *args, **kwargs)


def refuse_nul_characters() -> None:
    """Before every request: a NUL in the path, the query or a form field is a 400.

    PostgreSQL text cannot hold NUL, so such a value would otherwise fail in the first query
    that used it. The handlers of each boundary turn the 400 into their own error shape.
    """
    if _has_nul(request.path, *_texts(request.args)):
        raise BadRequest("NUL characters are not accepted in the URL")
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data") and _has_nul(*_texts(request.form)):
        raise BadRequest("NUL characters are not accepted in a form")


def _texts(multidict) -> list:
    return [text for pair in multidict.items(multi=True) for text in pair]


def _has_nul(*texts) -> bool:
    # A multipart part without a name has None for its key.
    return any(isinstance(text, str) and "\x00" in text for text in texts)
