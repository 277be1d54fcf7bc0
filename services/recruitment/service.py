"""Recruitment's use cases. Each one writes its rows and its events in one transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from services.recruitment.domain import AREA, RUBRIC, SOURCE
from services.recruitment.models import Involvement, Outbox, Vacancy
from shared import outbox
from shared.db import Database
from shared.envelope import ACTIVITY_RECORDED, INVOLVEMENT_RECORDED, new_event
from shared.errors import Conflict, NotFound
from shared.involvement import Facts, pseudonymise


def record_vacancy(db: Database, *, role: str, org_unit: str, opened_on: date) -> Vacancy:
    now = datetime.now(UTC)
    vacancy = Vacancy(id=str(uuid.uuid4()), role=role, org_unit=org_unit, opened_on=opened_on,
                      status="open", created_at=now.replace(tzinfo=None))
    event = new_event(
        type=ACTIVITY_RECORDED, source=SOURCE, subject=vacancy.id, time=now,
        data={"area": AREA, "activity_id": vacancy.id, "kind": "vacancy",
              "org_unit": org_unit, "role": role, "opened_on": opened_on.isoformat()},
    )
    with db.writing() as session:
        session.add(vacancy)
        outbox.add(session, Outbox, [event])
    return vacancy


def record_involvement(
    db: Database, pseudonym_key: str, vacancy_id: str, *, citizen_ref: str, stage: str,
    role: str, hours: float, recognition: str, decision_power: str, from_start: bool,
    feedback_given: bool,
) -> Involvement:
    facts = Facts(stage=stage, role=role, from_start=from_start, decision_power=decision_power,
                  feedback_given=feedback_given, recognition=recognition)
    step, rule = RUBRIC.step(facts)
    now = datetime.now(UTC)
    with db.writing() as session:
        vacancy = session.get(Vacancy, vacancy_id)
        if vacancy is None:
            raise NotFound(f"No vacancy {vacancy_id}.")
        if vacancy.status == "cancelled":
            raise Conflict(f"Vacancy {vacancy_id} is cancelled.")
        involvement = Involvement(
            id=str(uuid.uuid4()), vacancy_id=vacancy_id,
            pseudonym=pseudonymise(pseudonym_key, citizen_ref), hours=hours,
            step=step, rubric_version=RUBRIC.version, recorded_at=now.replace(tzinfo=None),
            **{k: v for k, v in facts.as_dict().items()},
        )
        session.add(involvement)
        outbox.add(session, Outbox, [new_event(
            type=INVOLVEMENT_RECORDED, source=SOURCE, subject=vacancy_id, time=now,
            data=_involvement_data(involvement, vacancy.org_unit, facts, rule),
        )])
    return involvement


def _involvement_data(inv: Involvement, org_unit: str, facts: Facts, rule: str) -> dict[str, Any]:
    return {
        "area": AREA,
        "activity_id": inv.vacancy_id,
        "involvement_id": inv.id,
        "org_unit": org_unit,
        "pseudonym": inv.pseudonym,
        "stage": inv.stage,
        "role": inv.role,
        "hours": inv.hours,
        "recognition": inv.recognition,
        "decision_power": inv.decision_power,
        "from_start": inv.from_start,
        "feedback_given": inv.feedback_given,
        "step": inv.step,
        "rubric_version": inv.rubric_version,
        "rubric_rule": rule,
        "facts": facts.as_dict(),
    }
