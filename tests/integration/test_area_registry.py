"""The area registry (shared/areas.py) is the one word on which areas there are.

A throwaway fifth area, declared in a temporary registry with a package of its own,
is a whole area: its service is built and migrated from the declaration, takes its
system's signed webhooks, and the ledger accepts its events and measures them.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from services.ledger.metrics import MetricsQuery, metrics
from services.ledger.webhooks.settings import Settings
from shared import areas
from shared.area.integrations import create_integration
from shared.area.models import Outbox
from shared.config import database_url
from shared.migrations import create_database
from tests.integration.conftest import MakeApp
from tests.support import appending
from tests.support.databases import url_template

PACKAGE = "ladder_fifth_area"
# Its own folder, and nothing else: an __init__ with the app factory the Procfile runs,
# the domain (its activity, stages, roles, rubric) and the API (its activity's fields).
FILES = {
    "__init__.py": f'''
from shared.area.api import create_area_app


def create_app(config=None):
    from {PACKAGE}.api import BLUEPRINTS, SCHEMAS

    return create_area_app("fifth", config, BLUEPRINTS, SCHEMAS)
''',
    "domain.py": '''
from shared.area import Area
from shared.involvement import ladder_rubric

AREA = Area(name="fifth", activity_kind="visit", activity_path="visits",
            stages=("planning", "visit"), roles=("visitor", "observer"),
            rubric=ladder_rubric("fifth", design_stages=("planning",),
                                 observer_roles=("observer",), open_roles=()))
''',
    "api.py": f'''
from marshmallow import Schema

from {PACKAGE}.domain import AREA
from shared.area.api import area_blueprint
from shared.area.schemas import AreaSchemas
from shared.fields import Date


class VisitFields(Schema):
    visited_on = Date(required=True)


SCHEMAS = AreaSchemas(AREA, VisitFields)
blp = area_blueprint(AREA, SCHEMAS, __name__)
BLUEPRINTS = (blp,)
''',
}


@pytest.fixture
def fifth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[areas.Entry]:
    """A fifth area in a package of its own, added to a temporary registry."""
    folder = tmp_path / PACKAGE
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text.lstrip())
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = areas.Entry("fifth", 8099, package=PACKAGE)
    monkeypatch.setattr(areas, "AREAS", (*areas.AREAS, entry))
    yield entry
    for name in [m for m in sys.modules if m.split(".")[0] == PACKAGE]:
        del sys.modules[name]


def _webhook(secret: str, command: dict[str, object]) -> dict[str, str]:
    body = json.dumps(command)
    msg_id = f"msg_{uuid.uuid4().hex}"
    now = datetime.now(UTC)
    return {"data": body, "webhook-id": msg_id, "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body)}


def test_a_fifth_area_in_a_temporary_registry_reaches_the_ledgers_metrics(
        fifth: areas.Entry, make_app: MakeApp) -> None:
    app = make_app("fifth")
    assert app.config["SERVICE_NAME"] == "fifth"
    assert "fifth" in app.config["AREA_DATABASE_URLS"]
    db = app.extensions["db"]
    secret = create_integration(db, "visits-system")
    http = app.test_client()
    today = datetime.now(UTC).date().isoformat()
    for command in ({"type": "activity.recorded",
                     "data": {"id": "V-1", "org_unit": "east", "visited_on": today}},
                    {"type": "involvement.recorded",
                     "data": {"activity_id": "V-1", "citizen_ref": "CIT-5", "stage": "planning",
                              "role": "visitor", "hours": 2, "recognition": "payment",
                              "decision_power": "equal_vote", "from_start": True,
                              "feedback_given": True}}):
        signed = _webhook(secret, command)
        body = signed.pop("data")
        answer = http.post("/v1/webhooks/visits-system", data=body,
                           headers={**signed, "Content-Type": "application/json"})
        assert answer.status_code == 202, answer.json
    with db.reading() as session:
        events = [json.loads(p) for p in session.scalars(
            sa.select(Outbox.payload).order_by(Outbox.id))]
    assert {e["source"] for e in events} == {"/ladder/fifth"}

    ledger = make_app("ledger")
    result = appending.append(ledger.extensions["db"], events,
                              ledger.extensions["signer"],
                              Settings.from_config(ledger.config))
    assert (result.appended, result.rejected) == (2, 0)
    year = datetime.now(UTC).date().replace(month=1, day=1)
    figures = metrics(ledger.extensions["db"], MetricsQuery(
        start=year, end=year.replace(month=12, day=31), area="fifth", period="year"), None)
    total = figures["total"]
    assert (total["activities"], total["activities_involved"], total["involvements"],
            total["citizens"], total["hours"]) == (1, 1, 1, 1, 2.0)
    assert total["steps"]["7"] == 1, "equal vote from the start, paid: co-production"


def test_an_area_out_of_the_registry_is_refused_by_the_ledger(
        fifth: areas.Entry, make_app: MakeApp, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = make_app("ledger")
    monkeypatch.setattr(areas, "AREAS", tuple(a for a in areas.AREAS if a.name != "fifth"))
    event = {"specversion": "1.0", "id": "e-1", "source": "/ladder/fifth", "type":
             "org.ladder.activity.recorded", "subject": "V-1", "time": "2026-01-05T09:00:00Z",
             "data": {"area": "fifth", "activity_id": "V-1", "org_unit": "east"}}
    result = appending.append(ledger.extensions["db"], [event],
                              ledger.extensions["signer"])
    assert (result.appended, result.rejected) == (0, 1)


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"),
                    reason="creating a database is PostgreSQL's: set TEST_DATABASE_URL")
def test_the_release_step_creates_each_missing_database_by_the_convention() -> None:
    server = make_url(os.environ["TEST_DATABASE_URL"])
    name = f"ladder_test_{uuid.uuid4().hex[:8]}"
    template = url_template(server, f"{name}_{{service}}")
    url = database_url("leadership", {"LADDER_DATABASE_URL_TEMPLATE": template})
    assert make_url(url).database == f"{name}_leadership"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        assert create_database(url) is True
        assert create_database(url) is False, "there already: left as it is"
        with admin.connect() as connection:
            assert connection.scalar(sa.text("SELECT count(*) FROM pg_database WHERE "
                                             "datname = :name"), {"name": f"{name}_leadership"})
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}_leadership" WITH (FORCE)')
        admin.dispose()
