"""What a witness checks of a release's figures before it keeps them, what its CSV does
with text a spreadsheet would run, and how LADDER_WITNESS_LOGS names each ledger's URL."""

from __future__ import annotations

import base64
from datetime import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.ledger.releases import DICTIONARY, PATTERNS
from services.witness import published
from shared import notes
from shared.config import ConfigError, load
from shared.spreadsheets import spreadsheet_safe

TYPES = {"area": "text", "org_unit": "text", "period_kind": "text", "period": "text",
         "activities": "count", "coverage": "share", "index": "number", "suppressed": "text"}
HEADER = ",".join(TYPES)
RELEASE = published.Release(1, "month", "2026-01", datetime(2026, 2, 8), None, 5, 0, bytes(32),
                         bytes(64), {"method": "cell key random rounding", "base": 5,
                                     "threshold": 10}, "0" * 64)


def _vkey(name: str) -> str:
    return notes.vkey(name, notes.raw_public_key(Ed25519PrivateKey.generate()))


def test_each_ledger_url_follows_its_key_and_a_list_of_keys_alone_still_reads() -> None:
    rose, oak = _vkey("ledger.rose.example"), _vkey("ledger.oak.example")
    config = load("witness", {"LADDER_WITNESS_LOGS": f"{rose} https://ledger.rose.example/,\n"
                                                     f"{oak}"})
    assert [v.name for v in config["WITNESS_LOGS"]] == ["ledger.rose.example",
                                                        "ledger.oak.example"]
    assert config["WITNESS_LOG_URLS"] == {"ledger.rose.example": "https://ledger.rose.example"}
    assert (config["WITNESS_MONITOR_INTERVAL"], config["WITNESS_MONITOR_STALE_AFTER"]) == (
        300.0, 900.0)
    assert load("witness", {"LADDER_WITNESS_LOGS": f"{rose} {oak}"})["WITNESS_LOG_URLS"] == {}
    for wrong in (f"https://ledger.rose.example {rose}", f"{rose} https://a.example https://b",
                  f"{rose} https://"):
        with pytest.raises(ConfigError, match="LADDER_WITNESS_LOGS"):
            load("witness", {"LADDER_WITNESS_LOGS": wrong})
    with pytest.raises(ConfigError, match="LADDER_WITNESS_MONITOR_INTERVAL"):
        load("witness", {"LADDER_WITNESS_MONITOR_INTERVAL": "0"})


def test_the_columns_the_witness_relies_on_are_the_ones_a_release_has() -> None:
    """The ledger's data dictionary and periods (services/ledger/releases.py) declare what
    a release holds; a column the witness could not show, a key column that changed type,
    or another way of writing a period fails here."""
    assert published.PERIODS == PATTERNS
    declared = {name: kind for name, kind, _ in DICTIONARY}
    assert all(declared[name] == "text" for name in (*published.KEYS, published.SUPPRESSED))
    measures = [name for name, kind in declared.items() if kind in published.MEASURE_TYPES]
    assert measures and all(published.MEASURE_NAME.fullmatch(name) for name in measures)
    assert not set(measures) & set(published.COMPARISON)


def _read(*lines: str, types: dict[str, str] = TYPES) -> list[published.Row]:
    return published.read_figures(RELEASE, "\n".join([HEADER, *lines]) + "\n", types, 5)


def test_published_figures_are_read_a_hidden_one_as_none() -> None:
    rows = _read("recruitment,all,month,2026-01,5,,,coverage index",
                 "recruitment,east,month,2026-01,10,0.5,61.25,")
    assert rows[0].figures == {"activities": 5, "coverage": None, "index": None}
    assert rows[0].suppressed == ("coverage", "index")
    assert rows[1].figures == {"activities": 10, "coverage": 0.5, "index": 61.25}


@pytest.mark.parametrize(("line", "reason"), [
    ("recruitment,all,month,2026-01,7,,,", "multiple of 5"),
    ("recruitment,all,month,2026-01,5,1.5,,", "at most 1"),
    ("recruitment,all,month,2026-01,5,0.5,,coverage", "names 'coverage' hidden"),
    ("recruitment,all,month,2026-01,5,,,activities", "names 'activities' hidden"),
    ("recruitment,all,month,2026-01,5,,,hours", "names 'hours' hidden"),
    ("recruitment,all,month,2026-01,-5,,,", "not a number"),
    ("recruitment,all,month,2026-01,5,,nan,", "not a number"),
    ("recruitment,all,month,2026-01,5,,1e999,", "not a finite number"),
    ("recruitment,all,month,2026-01, 5,,,", "not a number"),
    ("recruitment,all,month,2026-01,\u0665,,,", "not a number"),
    ("recruitment,all,month,2026-13,5,,,", "no period"),
    ("recruitment,all,week,2026-01,5,,,", "no period"),
    ("recruitment,,month,2026-01,5,,,", "no org_unit"),
    ("recruitment,all,month,2026-01,5,,", "has 7 cells"),
    ("recruitment,all,month,2026-02,5,,,", "none of its period"),
])
def test_figures_not_as_a_ledger_publishes_them_are_refused(line: str, reason: str) -> None:
    with pytest.raises(published.FiguresRefused, match=reason):
        _read(line)


def test_a_cell_given_twice_or_columns_unlike_the_dictionary_are_refused() -> None:
    with pytest.raises(published.FiguresRefused, match="repeats a cell"):
        _read("recruitment,all,month,2026-01,5,,,", "recruitment,all,month,2026-01,5,,,")
    with pytest.raises(published.FiguresRefused, match="columns their dictionary lists"):
        _read("recruitment,all,month,2026-01,5,,,", types={**TYPES, "hours": "number"})


def test_a_dictionary_naming_a_figure_the_witness_cannot_show_is_refused() -> None:
    for name in ("=cmd", "origin", "state"):
        dictionary = f"column,type,meaning\narea,text,\norg_unit,text,\nperiod_kind,text,\n" \
                     f"period,text,\nsuppressed,text,\n\"{name}\",count,x\n"
        with pytest.raises(published.FiguresRefused, match="cannot show"):
            published.column_types(RELEASE, dictionary.encode())


@pytest.mark.parametrize("label", [
    {"method": "exact"}, {"method": "cell key random rounding"},
    {"method": "cell key random rounding", "base": 1, "threshold": 10},
    {"method": "cell key random rounding", "base": 5, "threshold": 3},
    {"method": ["x"], "base": 5, "threshold": 10}])
def test_figures_not_said_to_be_disclosure_controlled_are_refused(label: dict[str, object]
                                                                  ) -> None:
    release = published.Release(**{**RELEASE.__dict__, "disclosure": label})
    with pytest.raises(published.FiguresRefused, match="disclosure-controlled"):
        published.disclosure_base(release)


def test_a_release_described_otherwise_is_refused_naming_its_id() -> None:
    item = {"id": 3, "period_kind": "month", "period": "2026-01",
            "created_at": "2026-02-08T00:00:00.000000Z", "replaces": None,
            "tree_head": {"tree_size": 5, "timestamp": 1,
                          "sha256_root_hash": base64.b64encode(bytes(32)).decode(),
                          "tree_head_signature": base64.b64encode(bytes(64)).decode()},
            "disclosure": {}, "figures_sha256": "a" * 64}
    assert published.parse_release(item).created_at == datetime(2026, 2, 8)
    for change in ({"period": "2026-1"}, {"id": True}, {"created_at": "2026-02-08"},
                   {"figures_sha256": "A" * 64}, {"tree_head": {"tree_size": 5}}):
        with pytest.raises(published.FiguresRefused, match="release 3 is not described|"
                                                         "release None is not described"):
            published.parse_release({**item, **change})


@pytest.mark.parametrize(("cell", "shown"), [
    ("=1+2", "'=1+2"), ("+44", "'+44"), ("-3", "'-3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("  =x", "'  =x"), ("\uff1dx", "'\uff1dx"),
    ("east", "east"), ("a=b", "a=b"), (5, 5), (0.5, 0.5), ("", "")])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(cell: object, shown: object) -> None:
    assert spreadsheet_safe(cell) == shown
