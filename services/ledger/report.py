"""The period report as PDF: the dashboard's figures for a range, every area's tables,
how to read them, and the signed tree head they were computed from, laid out for
print by WeasyPrint (HTML and CSS to PDF, with Pango).

The document is rendered from the dashboard's own templates and stylesheets. WeasyPrint
fetches nothing from the network: the only resources it may load are the dashboard's
stylesheets, read from the package; any other address is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from weasyprint import HTML
from weasyprint.urls import URLFetcher

ASSETS = Path(__file__).parent / "assets"
STATIC = "/dashboard/static/"


class ResourceRefused(ValueError):
    """The report asked for something other than its own stylesheets."""


class OwnAssets(URLFetcher):
    """Only the dashboard's own assets, at its own address, read from the package:
    nothing from the network."""

    def __init__(self, base_url: str) -> None:
        super().__init__(allowed_protocols=("file",))
        self.own = urlsplit(base_url)

    def fetch(self, url: str, headers: Any = None) -> Any:
        parts = urlsplit(url)
        path = parts.path
        if (parts.scheme, parts.netloc) != (self.own.scheme, self.own.netloc) or \
                not path.startswith(STATIC):
            raise ResourceRefused(f"the report loads only its own stylesheets, not {url}")
        found = (ASSETS / path.removeprefix(STATIC)).resolve()
        if found.parent != ASSETS.resolve() or not found.is_file():
            raise ResourceRefused(f"no asset {path}")
        return super().fetch(found.as_uri(), headers)


def pdf(html: str, base_url: str) -> bytes:
    """The report's HTML as a PDF."""
    document = HTML(string=html, base_url=base_url, url_fetcher=OwnAssets(base_url))
    return bytes(document.write_pdf())
