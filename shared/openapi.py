"""flask-smorest's Api, with the OpenAPI document written when it is first read.

Documenting the views (their schemas resolved, their operations deep-copied into the
spec) was about half of building an app: some 25 to 30 ms of CPU of the ledger's 55 to
60 (docs/performance.md). Every process builds its app, and few serve the document:
the Celery workers and the followers never do, nor the apps the tests build by the
thousand. So a blueprint's views are documented
(``shared.blueprint.Blueprint.register_views_in_doc``) the first time anything reads
``spec``: ``/openapi.json``, ``flask openapi``, a test. The document is the same as
when it was written at registration, in the same order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, cast

from apispec import APISpec
from flask_smorest import Api


class DeferredDocsApi(Api):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._undocumented: list[Callable[[], None]] = []
        self._documenting = threading.Lock()
        self._registering = False
        self._spec: APISpec | None = None
        super().__init__(*args, **kwargs)

    @property
    def spec(self) -> APISpec:
        # flask-smorest passes the spec along while it registers a blueprint: what it
        # documents then waits here; anything else that reads it gets the whole document.
        if self._undocumented and not self._registering:
            self._document()
        # None only before flask-smorest's init_app, which every app here runs at once.
        return cast(APISpec, self._spec)

    @spec.setter
    def spec(self, value: APISpec | None) -> None:
        self._spec = value

    def register_blueprint(self, blp: Any, *, parameters: Any = None, **options: Any) -> None:
        self._registering = True
        try:
            super().register_blueprint(blp, parameters=parameters, **options)
        finally:
            self._registering = False

    def document_later(self, document: Callable[[], None]) -> None:
        self._undocumented.append(document)

    def _document(self) -> None:
        # The gunicorn threads of one process may ask for the document at once: one
        # writes it, the others wait. Each step leaves the queue only once done, so a
        # reader never sees the queue empty while the last one is still being written.
        with self._documenting:
            while self._undocumented:
                self._undocumented[0]()
                self._undocumented.pop(0)
