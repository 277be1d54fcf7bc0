"""The one strict JSON parse every intake uses: RFC 8259 JSON whose text can be stored."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared import jsonbody, text

# Text any database stores: no NUL, no lone surrogates (non-characters are fine).
STORABLE = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))
NUMBERS = st.integers(min_value=-(10**20) + 1, max_value=10**20 - 1) | st.floats(
    allow_nan=False, allow_infinity=False)
VALUES = st.recursive(st.none() | st.booleans() | NUMBERS | STORABLE,
                      lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(STORABLE, inner, max_size=4), max_leaves=20)


@given(VALUES)
def test_storable_json_parses_as_python_parses_it(value: Any) -> None:
    body = json.dumps(value).encode()
    assert jsonbody.loads(body) == json.loads(body)
    assert jsonbody.loads(json.dumps(value, ensure_ascii=False).encode()) == json.loads(body)


@given(VALUES, st.characters(categories=["Cs"]) | st.just("\x00"), st.data())
def test_unstorable_text_anywhere_is_422_naming_where(value: Any, bad: str,
                                                      data: st.DataObject) -> None:
    prefix = data.draw(STORABLE)
    body = json.dumps({"ok": value, "field": [1, {"deep": prefix + bad}]}).encode()
    with pytest.raises(jsonbody.Refused) as refused:
        jsonbody.loads(body)
    assert refused.value.status == 422
    assert list(refused.value.errors["json"]) == ["field.1.deep"]
    assert refused.value.errors["json"]["field.1.deep"] == [text.problem(bad)]


def test_a_paired_surrogate_escape_is_one_character_and_fine() -> None:
    assert jsonbody.loads(b'["\\ud83d\\ude00"]') == ["\U0001f600"]


def test_an_escaped_backslash_before_u0000_is_ordinary_text() -> None:
    assert jsonbody.loads(b'["a\\\\u0000b", "\\\\ud800"]') == ["a\\u0000b", "\\ud800"]


@pytest.mark.parametrize("body", [b'{"a": 1, "a": 1}', b'[{"x": {"y": 1, "y": 2}}]'])
def test_a_key_twice_is_400(body: bytes) -> None:
    with pytest.raises(jsonbody.Refused) as refused:
        jsonbody.loads(body)
    assert refused.value.status == 400
    assert "twice" in refused.value.message


@pytest.mark.parametrize("body", [b"NaN", b"[Infinity]", b'{"a": -Infinity}', b"\xff\xfe",
                                  b"[1,]", b"", b"[" * 50_000 + b"]" * 50_000])
def test_what_is_not_json_is_400(body: bytes) -> None:
    with pytest.raises(jsonbody.Refused) as refused:
        jsonbody.loads(body)
    assert refused.value.status == 400


@pytest.mark.parametrize(("literal", "value"), [
    (b"1" + b"0" * 19, 10**19), (b"-" + b"9" * 20, -(10**20 - 1)), (b"5e-324", 5e-324),
    (b"1.7976931348623157e308", 1.7976931348623157e308), (b"-0.0", -0.0),
])
def test_numbers_a_field_can_hold_are_kept(literal: bytes, value: Any) -> None:
    assert jsonbody.loads(b'{"n": ' + literal + b"}") == {"n": value}


@pytest.mark.parametrize("literal", [b"1" + b"0" * 20, b"9" * 5001, b"1e309", b"-2e308"])
def test_numbers_no_field_can_hold_are_422(literal: bytes) -> None:
    with pytest.raises(jsonbody.Refused) as refused:
        jsonbody.loads(b'{"n": [0, ' + literal + b"]}")
    assert refused.value.status == 422
    assert refused.value.errors == {"json": {"n.1": ["Number out of range."]}}
