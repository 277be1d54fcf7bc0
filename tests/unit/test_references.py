"""Rule 2, the normal form of a citizen's reference, as docs/api.md (Privacy) states it."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.area import references
from shared.area.references import DEFAULT_IGNORABLE, normalise, recorded_forms


@pytest.mark.parametrize(("written", "why"), [
    ("cit-0042", "lower case"), ("Cit-0042", "title case"),
    ("\uff23\uff29\uff34\uff0d\uff10\uff10\uff14\uff12", "full width"),
    ("CIT\u200b-0042", "zero-width space"), ("C\u200dI\u200cT-0042", "zero-width joiners"),
    ("\ufeffCIT-0042", "byte order mark"), ("CIT-\u00ad0042", "soft hyphen"),
    ("\u202eCIT-0042\u202c", "bidirectional override"), ("\u2066CIT-0042\u2069", "isolate"),
    ("CIT-0042\ufe0f", "variation selector"), ("CIT\u2060-0042", "word joiner"),
    ("\u00a0CIT-0042\u00a0", "no-break spaces"), ("\u3000CIT-0042\u3000", "ideographic spaces"),
    (" \tCIT-0042\n", "ordinary white space"), ("\u2028CIT-0042\u2029", "line separators"),
])
def test_a_variant_of_a_reference_has_its_normal_form(written: str, why: str) -> None:
    assert normalise(written) == "cit-0042", why


def test_white_space_inside_is_one_space_and_other_characters_stay() -> None:
    assert normalise("CIT \u3000\u00a0\t 0042") == normalise("cit 0042") == "cit 0042"
    assert len({normalise(r) for r in ("CIT-0042", "CIT 0042", "CIT0042", "CIT-0043",
                                      "CIT_0042")}) == 5
    assert normalise("Stra\u00dfe-1") == normalise("STRASSE-1") == "strasse-1"


def test_nothing_visible_normalises_to_nothing() -> None:
    assert normalise("\u200b \u3000\u00a0\ufeff\u00ad\u200d\U000e0041\u180e") == ""


@given(st.text())
def test_the_normal_form_is_its_own_normal_form(text: str) -> None:
    assert normalise(normalise(text)) == normalise(text)


def test_default_ignorable_code_points_are_invisible_ones() -> None:
    """Format controls, marks that draw nothing, Hangul fillers, and unassigned ones."""
    matched = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF
               and DEFAULT_IGNORABLE.fullmatch(chr(c))]
    assert len(matched) == 4174
    assert {unicodedata.category(c) for c in matched} == {"Cf", "Mn", "Lo", "Cn"}
    assert [c for c in matched if unicodedata.category(c) == "Lo"] == [
        "\u115f", "\u1160", "\u3164", "\uffa0"]


def test_the_forms_tried_for_rows_of_rule_1_are_the_reference_as_sent_and_its_cases() -> None:
    assert recorded_forms("\u3000Cit\u200b-0042 ") == {
        "Cit\u200b-0042", "CIT\u200b-0042", "cit\u200b-0042", "Cit-0042", "CIT-0042",
        "cit-0042"}
    assert recorded_forms("\uff23\uff29\uff34-0042") >= {"\uff23\uff29\uff34-0042",
                                                        "CIT-0042", "cit-0042"}
    assert recorded_forms(" \u200b ") == set()


def test_lookups_and_pseudonyms_are_keyed_and_reveal_nothing() -> None:
    assert references.lookup("k1", "cit-1") != references.lookup("k2", "cit-1")
    made = references.pseudonym("k1", "salt", "cit-1")
    assert made == references.pseudonym("k1", "salt", "cit-1") != references.pseudonym(
        "k1", "another salt", "cit-1")
    assert made.startswith("p_") and len(made) == 34 and "cit" not in made
