"""The ledger's root URL, which `make run` prints, says where to go: a page of links for a
browser, the same links as JSON otherwise, and every link leads somewhere."""

from __future__ import annotations

from tests.integration.conftest import MakeApp


def test_the_root_url_links_to_the_dashboard_the_api_and_the_docs(make_app: MakeApp) -> None:
    client = make_app("ledger").test_client()
    page = client.get("/", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    for path in ("/dashboard", "/openapi.json", "/checkpoint", "/v1/public-key"):
        assert f'<a href="{path}">' in html
    assert "docs/" in html
    answer = client.get("/", headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    links = {name: link["href"] for name, link in answer.json["links"].items()}
    assert client.get("/").json == answer.json  # no preference: JSON
    assert links["dashboard"] == "/dashboard" and links["openapi"] == "/openapi.json"
    for name, path in links.items():
        status = client.get(path).status_code
        # The dashboard sends a reader without a session to sign in; the rest need no token.
        assert status in ((302, 303) if name == "dashboard" else (200,)), (path, status)
    assert client.post("/").status_code == 405
