"""Each area's rubric, row by row, as docs/rubrics.md argues for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services import area_packages
from shared import areas
from shared.area import Area, service
from shared.errors import Invalid
from shared.involvement import (
    DECISION_POWER,
    DEFINITIONS,
    INFLUENCE,
    PARTS,
    RECOGNITION,
    RUBRIC_VERSION,
    Facts,
    said,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rubrics.md"
AREAS = {name: area_packages.domain(name) for name in areas.names()}


# (row, what happened, the facts a recorder posts): each area's own worked cases, at least
# one for every row, with the step docs/rubrics.md argues for. "misread" marks the six
# situations rubric 1 got wrong (docs/rubrics.md, "The six situations rubric 1 misread").
WORKED = {name: area_packages.part(name, "domain").WORKED_CASES
          for name in areas.names()}
CASES = [(area, case.row, case.what, case.facts) for area, cases in WORKED.items()
         for case in cases]


def _read(area: Area, said: dict[str, Any]) -> tuple[int, str]:
    answer = service.explain(area, said)
    return answer["step"], answer["row"]["id"]


@pytest.mark.parametrize(("area", "row", "what", "said"), CASES,
                         ids=[f"{area}-{row}-{n}" for n, (area, row, _, _) in enumerate(CASES)])
def test_each_worked_case_lands_on_the_row_the_docs_argue_for(
        area: str, row: str, what: str, said: dict[str, Any]) -> None:
    rubric = AREAS[area].rubric
    assert _read(AREAS[area], said) == (int(row[0]), f"{rubric.version}.{row}"), what


@pytest.mark.parametrize("area", list(AREAS))
def test_every_row_has_a_worked_case_and_is_documented(area: str) -> None:
    rubric = AREAS[area].rubric
    assert {f"{rubric.version}.{case.row}" for case in WORKED[area]} == {
        row.id for row in rubric.rows}
    text = DOCS.read_text()
    assert f"`{rubric.version}`" in text
    # Links are written [text][name], with "[name]: url" at the foot of the page.
    urls = dict(re.findall(r"^\[([^\]]+)\]: (\S+)$", text, re.MULTILINE))
    for row in rubric.rows:
        line = re.search(rf"^\| `{re.escape(row.id)}` \| {row.step} \|.*$", text, re.MULTILINE)
        assert line, f"{row.id} is missing from docs/rubrics.md"
        linked = {urls[name] for name in re.findall(r"\]\[([^\]]+)\]", line.group())}
        assert row.source.url in linked, f"{row.id}: the docs do not link its source"


def test_the_docs_quote_each_definition_word_for_word() -> None:
    text = " ".join(DOCS.read_text().split())
    for definition in DEFINITIONS.values():
        for sentence in definition.quote.split(" [...] "):
            assert sentence in text, sentence


@pytest.mark.parametrize("area", list(AREAS))
def test_no_row_id_of_version_2_can_be_taken_for_one_of_version_1(area: str) -> None:
    rubric = AREAS[area].rubric
    version_1 = {f"{area}-{row}" for row in ("7", "6a", "6b", "5", "4", "3", "2", "1")}
    assert rubric.version == f"{area}-{RUBRIC_VERSION}" != f"{area}-1"
    assert all(row.id.startswith(f"{rubric.version}.") for row in rubric.rows)
    assert not {row.id for row in rubric.rows} & version_1


@pytest.mark.parametrize("area", list(AREAS))
def test_consultation_is_never_co_production(area: str) -> None:
    declared = AREAS[area]
    for part in PARTS:
        posted = said(declared.rubric.design_stages[0], declared.roles[0], "advisory",
                      part=part, influence="yes", start=True, feedback=True,
                      recognition="payment")
        assert _read(declared, posted)[0] < 7


@pytest.mark.parametrize("area", list(AREAS))
def test_a_shared_decision_from_the_start_needs_no_feedback(area: str) -> None:
    declared = AREAS[area]
    stage, role = declared.stages[-1], declared.roles[0]
    told = _read(declared, said(stage, role, "equal_vote", start=True, feedback=True,
                                  recognition="payment"))
    untold = _read(declared, said(stage, role, "equal_vote", start=True,
                                    recognition="payment"))
    assert told == untold and told[0] == 7


@pytest.mark.parametrize("area", list(AREAS))
def test_influence_weighs_more_than_feedback(area: str) -> None:
    declared = AREAS[area]
    stage, role = declared.stages[-1], declared.roles[0]
    influenced = _read(declared, said(stage, role, "advisory", influence="yes"))[0]
    told = _read(declared, said(stage, role, "advisory", influence="no", feedback=True))[0]
    assert (influenced, told) == (5, 4)


# -- how a version-1 request (no part, no influence) is read ------------------------------


@pytest.mark.parametrize(("power", "stage", "role", "part"), [
    ("lead", "later", "contributing", "led"),
    ("equal_vote", "later", "contributing", "decided"),
    ("advisory", "design", "contributing", "designed"),
    ("advisory", "later", "contributing", "asked_for_views"),
    ("advisory", "later", "observer", "asked_for_views"),
    ("none", "later", "observer", "shown_how_it_works"),
    ("none", "design", "contributing", "contributed_experience"),
])
def test_a_request_without_part_is_read_from_its_power_and_role(
        power: str, stage: str, role: str, part: str) -> None:
    for declared in AREAS.values():
        rubric = declared.rubric
        chosen_stage = rubric.design_stages[0] if stage == "design" else next(
            s for s in declared.stages if s not in rubric.design_stages)
        chosen_role = rubric.observer_roles[0] if role == "observer" else declared.roles[0]
        answer = service.explain(declared, said(chosen_stage, chosen_role, power))
        assert (answer["facts"]["part"], answer["facts"]["influence"]) == (part, "unknown")


@pytest.mark.parametrize("area", list(AREAS))
def test_a_role_that_does_not_say_what_the_citizen_did_needs_part(area: str) -> None:
    declared = AREAS[area]
    [role] = declared.rubric.open_roles
    stage = declared.stages[-1]
    with pytest.raises(Invalid) as refused:
        service.explain(declared, said(stage, role))
    assert refused.value.errors == {"json": {"part": ["Required with this role."]}}
    # With decision power the role need not tell: the power does.
    assert _read(declared, said(stage, role, "advisory"))[0] == 4


# -- monotone: more power or more influence never lowers the step -------------------------


@st.composite
def stated(draw: st.DrawFn) -> tuple[Area, Facts]:
    """An area and any facts its rubric can be given."""
    declared = AREAS[draw(st.sampled_from(sorted(AREAS)))]
    return declared, Facts(
        stage=draw(st.sampled_from(declared.stages)), role=draw(st.sampled_from(declared.roles)),
        part=draw(st.sampled_from(PARTS)), influence=draw(st.sampled_from(INFLUENCE)),
        decision_power=draw(st.sampled_from(DECISION_POWER)), from_start=draw(st.booleans()),
        feedback_given=draw(st.booleans()), recognition=draw(st.sampled_from(RECOGNITION)))


def _raised(facts: Facts, name: str, order: tuple[Any, ...], data: st.DataObject) -> Facts:
    now = order.index(getattr(facts, name))
    higher = data.draw(st.sampled_from(order[now:]))
    return Facts(**{**facts.as_dict(), name: higher})


# The order each fact runs in (docs/rubrics.md, "The order of the facts").
ORDERS: dict[str, tuple[Any, ...]] = {
    "decision_power": DECISION_POWER, "influence": INFLUENCE, "part": PARTS,
    "from_start": (False, True), "feedback_given": (False, True)}


@given(stated(), st.sampled_from(sorted(ORDERS)), st.data())
def test_more_of_any_ordered_fact_never_lowers_the_step(
        case: tuple[Area, Facts], name: str, data: st.DataObject) -> None:
    declared, facts = case
    raised = _raised(facts, name, ORDERS[name], data)
    assert declared.rubric.step(raised)[0] >= declared.rubric.step(facts)[0], (facts, raised)


@given(stated(), st.sampled_from(RECOGNITION))
def test_recognition_offered_never_lowers_the_step(case: tuple[Area, Facts],
                                                   offered: str) -> None:
    declared, facts = case
    unrecognised = Facts(**{**facts.as_dict(), "recognition": "none"})
    recognised = Facts(**{**facts.as_dict(), "recognition": offered})
    assert declared.rubric.step(recognised)[0] >= declared.rubric.step(unrecognised)[0]


@given(stated(), st.data())
def test_more_power_or_influence_together_never_lowers_the_step(
        case: tuple[Area, Facts], data: st.DataObject) -> None:
    declared, facts = case
    raised = _raised(_raised(facts, "decision_power", DECISION_POWER, data), "influence",
                     INFLUENCE, data)
    assert declared.rubric.step(raised)[0] >= declared.rubric.step(facts)[0], (facts, raised)


@given(stated(), st.data())
def test_in_a_version_1_request_more_power_never_lowers_the_step(
        case: tuple[Area, Facts], data: st.DataObject) -> None:
    declared, facts = case
    said = {k: v for k, v in facts.as_dict().items() if k not in ("part", "influence")}
    if said["role"] in declared.rubric.open_roles:
        said["role"] = declared.roles[0]
    now = DECISION_POWER.index(said["decision_power"])
    more = {**said, "decision_power": data.draw(st.sampled_from(DECISION_POWER[now:]))}
    assert _read(declared, more)[0] >= _read(declared, said)[0], (said, more)
