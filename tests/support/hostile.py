"""Hostile input for the fuzzers: the values that break intakes, and the JSON text that
Python's json module will not write (a key twice, a 5,001-digit number, NaN).

Each hostile value comes with the status it must get, or None when it may be
accepted (a non-character is valid Unicode and may be stored) or refused (it may
break a field's own rule). Wherever in a JSON body it is:

- 400: a key twice, ``NaN`` or ``Infinity``, nesting too deep for a parser;
- 422: a lone UTF-16 surrogate or a NUL in any text or key; an integer with more than
  20 digits, or a number beyond a double's range;

and in place of a field's valid value (:func:`variants`):

- 422: a string where a number or a boolean belongs, a number or a boolean where a
  string belongs, a fraction where an integer belongs; a date or an event time
  before 2000-01-01 or in the future.

Over 256 KiB, any body is 413 (:func:`expected`). The oracle is written from
docs/api.md, independently of the product's shared/jsonbody.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

MAX_BODY = 256 * 1024
INFINITY = float("inf")
# 413 beats 400 (the body is not read), 400 beats 422 (it does not parse).
PRECEDENCE = (413, 400, 422)


class Raw(str):
    """JSON text written as it is: ``NaN``, a 5,001-digit number, nesting 100,000 deep;
    with the status it must get anywhere in a body (None: it may pass)."""

    status: int | None

    def __new__(cls, text: str, status: int | None = None) -> Raw:
        raw = super().__new__(cls, text)
        raw.status = status
        return raw


class Pairs(tuple):
    """A JSON object written from its (key, value) pairs, in order: a key may come twice."""


def dumps(value: Any) -> str:
    """JSON text of ``value``, writing :class:`Raw` and :class:`Pairs` as they say.

    Everything else is ``json.dumps``, which writes a lone surrogate as its ``\\ud800``
    escape (ASCII only), and a float NaN as ``NaN``.
    """
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Pairs):
        items: Iterable[tuple[Any, Any]] = value
    elif isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(item) for item in value) + "]"
    else:
        return json.dumps(value)
    return "{" + ", ".join(f"{json.dumps(k)}: {dumps(v)}" for k, v in items) + "}"


def encode(value: Any) -> bytes:
    return dumps(value).encode("utf-8")


def demands(value: Any) -> int | None:
    """The status a JSON body holding ``value`` must get for what is in it, wherever it is
    (a key twice, NaN, text no database stores, a number no field holds); None if nothing
    in it must be refused."""
    found: list[int | None] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Raw):
            found.append(item.status)
        elif isinstance(item, str):
            found.append(text_status(item))
        elif isinstance(item, float) and (item != item or abs(item) == INFINITY):
            found.append(400)  # json.dumps writes NaN, Infinity
        elif isinstance(item, int):
            found.append(number_status(item))
        elif isinstance(item, dict | Pairs):
            pairs = list(item.items() if isinstance(item, dict) else item)
            if len({json.loads(json.dumps(k)) for k, _ in pairs}) < len(pairs):
                found.append(400)
            for key, child in pairs:
                found.append(text_status(key))
                stack.append(child)
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return strongest(*found)


def strongest(*statuses: int | None) -> int | None:
    """The status that wins when a body holds values that each demand one."""
    for status in PRECEDENCE:
        if status in statuses:
            return status
    return None


def expected(body: bytes, status: int | None) -> int | None:
    """What the whole body must get: 413 over the size limit, else what its values demand."""
    return 413 if len(body) > MAX_BODY else status


# -- text ------------------------------------------------------------------------------

SURROGATES = st.characters(categories=["Cs"])
NONCHARACTER_POINTS = (*range(0xFDD0, 0xFDF0), 0xFFFE, 0xFFFF, 0x1FFFE, 0x1FFFF, 0x10FFFE,
                       0x10FFFF)
NONCHARACTERS = st.sampled_from([chr(c) for c in NONCHARACTER_POINTS])
# C0 and C1 controls (NUL among them), format characters, line and paragraph separators.
CONTROLS = st.characters(categories=["Cc", "Cf", "Zl", "Zp"])
ORDINARY = st.characters(codec="utf-8", exclude_categories=["Cs"])


def text_status(text: str) -> int | None:
    """422 if ``text`` as JSON parses to text that cannot be stored (NUL, a lone surrogate)."""
    parsed = json.loads(json.dumps(text))  # the escapes of a surrogate pair join again
    if "\x00" in parsed:
        return 422
    try:
        parsed.encode("utf-8")
    except UnicodeEncodeError:
        return 422
    return None


def _around(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``inner`` inside ordinary text, as it would come in a real field."""
    return st.builds(lambda a, c, b: a + c + b, st.sampled_from(["", "east-", "CIT-", "é"]),
                     inner, st.sampled_from(["", "-7", " ward"]))


LONG_LENGTHS = (200, 201, 256, 257, 512, 513, 5_000, 70_000, 300_000)

TEXT_KINDS: dict[str, st.SearchStrategy[str]] = {
    "lone surrogate": _around(SURROGATES) | st.text(SURROGATES, min_size=1, max_size=4),
    "NUL": _around(st.just("\x00")) | st.just("\x00"),
    "non-character": _around(NONCHARACTERS) | st.text(NONCHARACTERS | ORDINARY, min_size=1,
                                                         max_size=12),
    "control character": _around(CONTROLS.filter(lambda c: c != "\x00"))
    | st.text(CONTROLS.filter(lambda c: c != "\x00"), min_size=1, max_size=8),
    "long text": st.builds(lambda ch, n: ch * n, st.sampled_from(["x", "é", "\ufffe", "𝒳"]),
                           st.sampled_from(LONG_LENGTHS)),
    "any text": st.text(SURROGATES | NONCHARACTERS | CONTROLS | ORDINARY, max_size=16),
}


def texts(kind: str | None = None) -> st.SearchStrategy[tuple[str, int | None]]:
    """Hostile text of one kind (or any), with the status it must get anywhere."""
    strategy = TEXT_KINDS[kind] if kind else st.one_of(*TEXT_KINDS.values())
    return strategy.map(lambda s: (s, text_status(s)))


# -- numbers ---------------------------------------------------------------------------

BIG_INTEGERS = (10**25, -(10**25), 10**20, 2**64, 2**63, -(2**63) - 1, 10**19, 10**20 - 1)
EXTREME_FLOATS = (1e308, -1e308, 1.7976931348623157e308, 5e-324, -5e-324, -0.0,
                  2.2250738585072014e-308, 2.589e-42, 1e-300)
# JSON number literals Python's json would not write, with the status each must get.
LITERALS: tuple[tuple[str, int | None], ...] = (
    ("9" * 5001, 422), ("-" + "9" * 5001, 422), ("1" + "0" * 5000, 422),
    ("123456789012345678901", 422),  # 21 digits
    ("1e400", 422), ("-1e400", 422), ("1" + "0" * 400 + ".5", 422), ("1.5e308000", 422),
    ("0." + "0" * 5000 + "1", None), ("1." + "0" * 5000, None), ("1e-400", None),
    ("-0", None), ("1E+2", None), ("12345678901234567890", None),  # 20 digits
)
NOT_JSON_NUMBERS = ("NaN", "Infinity", "-Infinity", "01", "+1", ".5", "1.", "0x10")


def number_status(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > 20:
        return 422
    return None


NUMBER_KINDS: dict[str, st.SearchStrategy[tuple[Any, int | None]]] = {
    "big integer": st.sampled_from(BIG_INTEGERS).map(lambda v: (v, number_status(v)))
    | st.integers(min_value=-(10**30), max_value=10**30).map(lambda v: (v, number_status(v))),
    "extreme float": st.sampled_from(EXTREME_FLOATS).map(lambda v: (v, None))
    | st.floats(allow_nan=False, allow_infinity=False).map(lambda v: (v, None)),
    "long number literal": st.sampled_from(LITERALS).map(lambda p: (Raw(*p), p[1])),
    "not a JSON number": st.sampled_from(NOT_JSON_NUMBERS).map(lambda s: (Raw(s, 400), 400)),
}


def numbers(kind: str | None = None) -> st.SearchStrategy[tuple[Any, int | None]]:
    return NUMBER_KINDS[kind] if kind else st.one_of(*NUMBER_KINDS.values())


# -- structure -------------------------------------------------------------------------


def _nesting(depth: int, objects: bool) -> tuple[Raw, int | None]:
    # Deeper than any parser's recursion (Python's stops near 1,000) is 400.
    status = 400 if depth >= 1000 else None
    if objects:
        return Raw('{"a": ' * depth + "1" + "}" * depth, status), status
    return Raw("[" * depth + "]" * depth, status), status


NESTING = st.builds(_nesting, st.sampled_from([30, 2_000, 20_000, 100_000]), st.booleans())

# -- dates and times -------------------------------------------------------------------


def _soon(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


# Event times (RFC 3339 with an offset): before 2000-01-01, in the future, at the very
# ends of what a datetime holds (year 1 at +14:00 is before year 1 in UTC), or naive.
BAD_TIMES = ("1999-12-31T23:59:59Z", "2000-01-01T00:30:00+01:00", "1970-01-01T00:00:00Z",
             "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
             "9999-12-31T23:59:59Z", "2999-01-01T00:00:00Z", "2026-02-03T09:30:00",
             "2026-02-30T09:30:00Z", "1969-12-31T23:59:59.999999Z")
GOOD_TIMES = ("2000-01-01T00:00:00Z", "1999-12-31T23:59:59-01:00", "2026-02-03T09:30:00+01:00",
              "2020-02-29T23:59:59.999999+14:00", "2021-06-01T12:00:00.5-12:00")
BAD_DATES = ("1999-12-31", "0001-01-01", "1970-01-01", "2026-02-30", "20260301",
             "2026-03-01T00:00:00Z")
# "2026-1-1" is not YYYY-MM-DD, but marshmallow's Date reads it as 2026-01-01.
GOOD_DATES = ("2000-01-01", "2024-02-29", "9999-12-31", "2026-1-1")


def times() -> st.SearchStrategy[tuple[str, int | None]]:
    """Event times, with the status they must get as ``occurred_at`` or a CloudEvent's time."""
    return (st.sampled_from(BAD_TIMES).map(lambda t: (t, 422))
            | st.sampled_from((1, 2)).map(lambda d: (_soon(d), 422))
            | st.sampled_from(GOOD_TIMES).map(lambda t: (t, None)))


def dates() -> st.SearchStrategy[tuple[str, int | None]]:
    return (st.sampled_from(BAD_DATES).map(lambda d: (d, 422))
            | st.sampled_from(GOOD_DATES).map(lambda d: (d, None)))


def wrong_types(value: Any) -> st.SearchStrategy[Any]:
    """Values of another JSON type than ``value``'s, each refused where ``value`` belongs."""
    if isinstance(value, bool):
        return st.sampled_from(["yes", "true", "false", "1", "", 1, 0, 1.0])
    if isinstance(value, int):
        return st.sampled_from([1.5, 2.589e-42, 0.5, "3", "24", True, False])
    if isinstance(value, float):
        return st.sampled_from(["3", "3.5", "", "1e3", "NaN", True, False])
    if isinstance(value, str):
        return st.sampled_from([1, 0, 1.5, 10**19, -0.0, True, False, [], {}, ["x"],
                                {"x": "y"}])
    return st.sampled_from([1, "x", True, []])  # an object (a CloudEvent's data)


# -- variants of a valid body ----------------------------------------------------------

KINDS = ("lone surrogate", "NUL", "non-character", "control character", "long text",
         "big integer", "extreme float", "long number literal", "not a JSON number",
         "deep nesting", "duplicate key", "wrong type", "hostile date or time", "hostile key")
TIME_KEYS = frozenset({"occurred_at", "time"})
DATE_KEYS = frozenset({"opened_on", "closes_on", "delivered_on", "planned_on"})

Path = tuple[Any, ...]


@dataclass(frozen=True)
class Variant:
    """A valid body made hostile in one place, and the status it must get."""

    body: Any
    kind: str
    where: str
    status: int | None
    touched: frozenset[str] = field(default_factory=frozenset)

    def encode(self) -> bytes:
        return encode(self.body)

    def expected(self) -> int | None:
        return expected(self.encode(), self.status)

    def __str__(self) -> str:
        return f"{self.kind} at {self.where or 'the body'}"


def _get(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _set(value: Any, path: Path, new: Any) -> Any:
    """``value`` with the item at ``path`` replaced by ``new`` (the root if ``path`` is ())."""
    if not path:
        return new
    _get(value, path[:-1])[path[-1]] = new
    return value


@st.composite
def variants(draw: st.DrawFn, template: Any, containers: Sequence[Path] = ((),),
             kinds: Sequence[str] = KINDS) -> Variant:
    """``template`` (valid JSON) with one hostile change, of a kind drawn from ``kinds``.

    ``containers`` are the paths to the objects in it whose keys may be changed.
    """
    kind = draw(st.sampled_from(kinds))
    path: Path = draw(st.sampled_from(list(containers)))
    body = copy.deepcopy(template)
    target = _get(body, path)
    keys = sorted(target)
    if kind == "hostile date or time":
        moments = [k for k in keys if k in TIME_KEYS | DATE_KEYS]
        if moments:
            key = draw(st.sampled_from(moments))
            value, status = draw(times() if key in TIME_KEYS else dates())
            target[key] = value
            return Variant(body, kind, _where(path, key), status, frozenset({key}))
        key = draw(st.sampled_from(keys))
        value, _ = draw(times() | dates())
        target[key] = value  # elsewhere a date is only text: it may be refused or not
        return Variant(body, kind, _where(path, key), None, frozenset({key}))
    key = draw(st.sampled_from(keys))
    where = _where(path, key)
    if kind == "duplicate key":
        other = draw(st.sampled_from([target[key], "other", 1, None]))
        pairs = [*target.items(), (key, other)]
        if draw(st.booleans()):
            pairs.reverse()
        return Variant(_set(body, path, Pairs(pairs)), kind, where, 400, frozenset({key}))
    if kind == "hostile key":
        name, status = draw(texts("any text") | texts("lone surrogate") | texts("NUL")
                            | texts("non-character") | st.just(("", None)))
        items = list(target.items())
        if draw(st.booleans()):  # renamed
            items = [(name if k == key else k, v) for k, v in items]
        else:  # added
            items.append((name, draw(st.sampled_from([target[key], "x", 1]))))
        return Variant(_set(body, path, dict(items)), kind, f"{where} -> key {name!r}", status,
                       frozenset({key}))
    if kind == "wrong type":
        value, status = draw(wrong_types(target[key])), 422
    elif kind == "deep nesting":
        value, status = draw(NESTING)
    elif kind in NUMBER_KINDS:
        value, status = draw(numbers(kind))
    else:
        value, status = draw(texts(kind))
    target[key] = value
    return Variant(body, kind, where, status, frozenset({key}))


def _nodes(value: Any, limit: int = 200) -> list[Path]:
    """Paths to the nodes of a JSON value, the root first (at most ``limit``)."""
    paths: list[Path] = []
    stack: list[tuple[Path, Any]] = [((), value)]
    while stack and len(paths) < limit:
        path, item = stack.pop(0)
        paths.append(path)
        if isinstance(item, dict):
            stack.extend(((*path, k), v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend(((*path, i), v) for i, v in enumerate(item))
    return paths


def refused_anywhere() -> st.SearchStrategy[tuple[Any, int | None]]:
    """Values Python's json writes that must be refused wherever they are: text with a
    lone surrogate or a NUL, integers of more than 20 digits."""
    return (texts("lone surrogate") | texts("NUL")
            | st.sampled_from([10**25, -(10**21), 10**30, 2**100]).map(lambda v: (v, 422))
            ).filter(lambda pair: pair[1] is not None)


@st.composite
def hostile_change(draw: st.DrawFn, value: Any, refusals_only: bool = False,
                   raw: bool = True) -> Any:
    """Any JSON ``value`` with one node replaced, or one key added, hostile.

    ``refusals_only``: only changes that must be refused wherever they land
    (:func:`refused_anywhere`), so that an invalid body stays invalid. ``raw``: the
    result may hold :class:`Raw` and :class:`Pairs` (write it with :func:`encode`);
    without, it holds only what ``json.dumps`` writes. :func:`demands` says what the
    result must get.
    """
    body = copy.deepcopy(value)
    path = draw(st.sampled_from(_nodes(body)))
    node = _get(body, path)
    if refusals_only:
        new, _ = draw(refused_anywhere())
        if isinstance(node, dict) and draw(st.booleans()):
            name, _ = draw(texts("lone surrogate") | texts("NUL"))
            if text_status(name):
                node[name] = new
                return body
        return _set(body, path, new)
    actions = ["text", "number", "moment", "key", "retype"] + (["raw", "duplicate"] if raw
                                                               else [])
    action = draw(st.sampled_from(actions))
    if action == "key" and isinstance(node, dict):
        name, _ = draw(texts())
        node[name] = draw(st.sampled_from([1, "x", True, None, []]))
        return body
    if action == "duplicate" and isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        return _set(body, path, Pairs([*node.items(), (key, node[key])]))
    if action == "retype" and not isinstance(node, dict | list):
        return _set(body, path, draw(wrong_types(node)))
    if action == "raw":
        new, _ = draw(numbers("long number literal") | numbers("not a JSON number") | NESTING)
    elif action == "number":
        new, _ = draw(numbers("big integer") | numbers("extreme float"))
    elif action == "moment":
        new, _ = draw(times() | dates())
    else:
        new, _ = draw(texts())
    return _set(body, path, new)


def _where(path: Path, key: str) -> str:
    return ".".join(str(p) for p in (*path, key))


# -- CloudEvents binary-mode headers ---------------------------------------------------


def percent(text: str) -> str:
    """``text`` percent-encoded as the CloudEvents HTTP binding says, lone surrogates too."""
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


# Header values (as sent, percent-encoded where it says), each with the status it demands.
HEADER_VALUES: tuple[tuple[str, int | None], ...] = (
    ("%ED%A0%80", 422),  # a lone surrogate, percent-encoded as UTF-8 would write it
    ("a%00b", 422), ("%FF%FE", 422), ("%C3", 422),  # NUL; bytes that are not UTF-8
    ("%EF%BF%BE%EF%BF%BF", None),  # U+FFFE U+FFFF
    ("%F4%8F%BF%BF", None),  # U+10FFFF
    ("\xff\xe9", None),  # raw latin-1 bytes
    ("%", None), ("%zz", None), ("", None), ("x" * 600, None),
)


@st.composite
def header_variants(draw: st.DrawFn, headers: dict[str, str]) -> tuple[dict[str, str], str,
                                                                       int | None]:
    """Binary-mode ``headers`` with one hostile change: (headers, what changed, status)."""
    headers = dict(headers)
    name = draw(st.sampled_from(sorted(headers)))
    choice = draw(st.sampled_from(["value", "text", "time", "drop", "extension"]))
    if choice == "drop":
        del headers[name]
        return headers, f"no {name}", 400 if name == "ce-specversion" else None
    if choice == "extension":
        ext, _ = draw(texts("any text"))
        headers["ce-" + percent(ext)[:40].lower()] = "x"
        return headers, f"extension ce-{ext!r}", None
    if choice == "time":
        value, status = draw(times())
        headers["ce-time"] = percent(value)
        return headers, f"ce-time {value!r}", status
    if choice == "text":
        text, status = draw(texts("lone surrogate") | texts("NUL") | texts("non-character")
                            | texts("control character"))
        headers[name] = percent(text)
        return headers, f"{name} {text!r} (percent-encoded)", status
    value, status = draw(st.sampled_from(HEADER_VALUES))
    headers[name] = value
    return headers, f"{name} {value[:20]!r}", status


# -- pinned variants: the cases every run must try, at every intake -------------------

DUPLICATE = Raw("")  # a Pin value: the key again, with another value


@dataclass(frozen=True)
class Pin:
    """One hostile value at the first of ``keys`` a template has (as its name if
    ``as_key``), and the status it must get."""

    kind: str
    keys: tuple[str, ...]
    value: Any
    status: int | None
    as_key: bool = False

    def apply(self, template: Any, containers: Sequence[Path]) -> Variant | None:
        """``template`` with this pin in place; None if it has none of ``keys``."""
        for key in self.keys:
            for path in containers:
                target = _get(template, path)
                if not isinstance(target, dict) or key not in target:
                    continue
                body = copy.deepcopy(template)
                target = _get(body, path)
                if self.value is DUPLICATE:
                    body = _set(body, path, Pairs([*target.items(), (key, "other")]))
                elif self.as_key:
                    body = _set(body, path, {(self.value if k == key else k): v
                                             for k, v in target.items()})
                else:
                    target[key] = self.value
                return Variant(body, self.kind, _where(path, key) + f" = {self.value!r:.60}",
                               self.status, frozenset({key}))
        return None


TEXT = ("org_unit", "citizen_ref")
NUMBER = ("hours", "learners", "interviews_count")
MOMENT = ("time", "occurred_at")
PINS: tuple[Pin, ...] = (
    Pin("lone surrogate", TEXT, "east-\ud800", 422), Pin("lone surrogate", TEXT, "\udfff", 422),
    Pin("lone surrogate", TEXT, "\udbff-\udc00", 422),  # a pair's halves apart
    Pin("lone surrogate", TEXT, "\ud800", 422, as_key=True),
    Pin("NUL", TEXT, "a\x00b", 422), Pin("NUL", TEXT, "\x00", 422, as_key=True),
    Pin("non-character", TEXT, "\ufffe\uffff\ufdd0\ufdef\U0010ffff\U0001fffe", None),
    Pin("surrogate pair", TEXT, "\ud83d\ude00 \U0010fffd", None),
    Pin("control character", TEXT, "\x01\x1f\x7f\x85\u2028\u2029\ufeff\u202e", None),
    Pin("long text", TEXT, "x" * 200, None), Pin("long text", TEXT, "\ufffe" * 256, None),
    Pin("long text", TEXT, "x" * 300_000, 413),
    Pin("big integer", NUMBER, 10**25, 422), Pin("big integer", NUMBER, -(10**21), 422),
    Pin("big integer", TEXT, 2**64, 422),
    Pin("long number literal", NUMBER, Raw("9" * 5001, 422), 422),
    Pin("long number literal", TEXT, Raw("-" + "9" * 5001, 422), 422),
    Pin("long number literal", NUMBER, Raw("1e400", 422), 422),
    Pin("long number literal", NUMBER, Raw("0." + "0" * 5000 + "1"), None),
    Pin("extreme float", NUMBER, 5e-324, None), Pin("extreme float", NUMBER, -0.0, None),
    Pin("extreme float", NUMBER, 1e308, None), Pin("extreme float", TEXT, 1.7976931348623157e308,
                                                   422),
    Pin("not a JSON number", NUMBER, Raw("NaN", 400), 400),
    Pin("not a JSON number", NUMBER, Raw("-Infinity", 400), 400),
    Pin("duplicate key", TEXT, DUPLICATE, 400), Pin("duplicate key", MOMENT, DUPLICATE, 400),
    Pin("deep nesting", TEXT, Raw("[" * 100_000 + "]" * 100_000, 400), 400),
    Pin("wrong type", ("hours", "learners"), "3", 422),
    Pin("wrong type", ("from_start", "feedback_given", "learners"), "yes", 422),
    Pin("wrong type", ("interviews_count", "learners"), 1.5, 422),
    Pin("wrong type", ("learners", "interviews_count"), 2.589e-42, 422),
    Pin("wrong type", ("from_start", "feedback_given"), 1, 422),
    Pin("wrong type", ("hours", "learners"), True, 422),
    Pin("wrong type", TEXT, 42, 422),
    *(Pin("hostile date or time", MOMENT, t, 422) for t in BAD_TIMES),
    Pin("hostile date or time", MOMENT, "1999-12-31T23:59:59-01:00", None),
    Pin("hostile date or time", ("opened_on", "delivered_on", "planned_on"), "1999-12-31", 422),
)
