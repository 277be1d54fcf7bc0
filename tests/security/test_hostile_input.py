"""Input that would crash a parser or a database gets a 4xx in the one shape, and writes nothing."""

from __future__ import annotations

import pytest

from tests.integration.conftest import AreaClient, MakeApp
from tests.support.areas import ACTIVITIES, PATHS, involvement


def _refused(response: object, status: int) -> dict[str, object]:
    assert response.status_code == status, response.json  # type: ignore[attr-defined]
    body: dict[str, object] = response.json  # type: ignore[attr-defined]
    assert set(body) == {"code", "status", "message", "errors"}
    return body


def test_nul_in_a_json_field_is_422_naming_it(area: AreaClient) -> None:
    before = area.contents()
    path = f"/v1/{PATHS[area.area]}"
    body = _refused(area.post(path, json={**ACTIVITIES[area.area], "org_unit": "a\u0000b"}), 422)
    assert body["errors"] == {"json": {"org_unit": ["Text may not contain NUL characters."]}}
    assert area.post(path, json={**ACTIVITIES[area.area], "id": "A-1"}).status_code == 202
    before = area.contents()
    body = _refused(area.post(f"{path}/A-1/involvements",
                              json=involvement(area.area, "CIT-\u00001")), 422)
    assert "citizen_ref" in body["errors"]["json"]  # type: ignore[index]
    events = {"specversion": "1.0", "id": "e1", "source": "/hr", "type": "org.ladder."
              "activity.recorded", "data": {**ACTIVITIES[area.area], "org_unit": "\u0000"}}
    body = _refused(area.post("/v1/events", json=[events],
                              headers={"Content-Type": "application/cloudevents-batch+json"}),
                    422)
    assert body["errors"] == {"json": {"0.data.org_unit": ["Text may not contain NUL "
                                                          "characters."]}}
    assert area.contents() == before


def test_nul_in_a_path_is_404_and_in_a_query_is_422(area: AreaClient) -> None:
    path = f"/v1/{PATHS[area.area]}"
    _refused(area.get(f"{path}/A%00B"), 404)
    _refused(area.patch(f"{path}/A%00B", json={"org_unit": "x"}), 404)
    body = _refused(area.get(f"{path}?after=1%00"), 422)
    assert set(body["errors"]["query"]) == {"after"}  # type: ignore[index]


def test_nul_in_ledger_filters_is_422(make_app: MakeApp) -> None:
    app = make_app("ledger")
    from services.ledger.models import ApiToken
    from shared.auth import create_token

    token = create_token(app.extensions["db"], ApiToken, app.config["TOKEN_PEPPER"], "a",
                         ["ledger:inspect"], "filtering entries")
    response = app.test_client().get("/v1/entries?org_unit=a%00b",
                                     headers={"Authorization": f"Bearer {token}"})
    _refused(response, 422)


@pytest.mark.parametrize("content_type", ["application/json", "application/cloudevents+json"])
def test_escaped_backslash_u0000_is_ordinary_text(area: AreaClient, content_type: str) -> None:
    # "\\u0000" in JSON is a backslash followed by u0000: no NUL, nothing to refuse.
    response = area.post(f"/v1/{PATHS[area.area]}", data=(
        '{"org_unit": "a\\\\u0000b"' + "".join(
            f', "{k}": "{v}"' for k, v in ACTIVITIES[area.area].items()
            if k != "org_unit" and isinstance(v, str)) + "}"),
        headers={"Content-Type": "application/json"})
    assert response.status_code in (202, 422)
    if response.status_code == 422:
        assert "NUL" not in str(response.json)


def test_an_unreachable_database_is_503_with_retry_after(make_app: MakeApp) -> None:
    # Nothing listens on port 1: the driver fails to connect, as while a database restarts.
    app = make_app("recruitment")
    app.extensions["db"].__init__("postgresql+psycopg://ladder@127.0.0.1:1/ladder")
    response = app.test_client().get("/v1/vacancies",
                                     headers={"Authorization": "Bearer ldr_anything"})
    body = _refused(response, 503)
    assert body["code"] == 503
    assert response.headers["Retry-After"] == "5"


def test_only_a_refusal_carries_retry_after(area: AreaClient) -> None:
    response = area.get(f"/v1/{PATHS[area.area]}")
    assert response.status_code == 200
    assert "Retry-After" not in response.headers
    assert "X-RateLimit-Remaining" in response.headers
