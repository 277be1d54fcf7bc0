"""What every service's pages for people share: the ledger's dashboard and the areas'
recording pages are each a Blueprint that this module gives

- a guard: a POST needs its CSRF token (Flask-WTF); a page needs a live session
  (shared/sessions.py), or it sends the browser to sign in, and back after;
- the sign-in and sign-out pages, which exchange a token for a session and end it;
- the headers: no scripts, nothing from elsewhere, never framed, never cached;
- the error page: the one error shape, as a page;
- NHS.UK frontend's stylesheet, at /frontend (shared/assets).

The blueprint's templates folder holds ``sign_in.html`` and ``error.html``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from shared.db import current_db
from shared.errors import DomainError, error_body
from shared.screening import accepts
from shared.sessions import Sessions, SignInRefused

log = logging.getLogger(__name__)

FORM = ("application/x-www-form-urlencoded", "multipart/form-data")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
                               "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
LONGEST_TOKEN = 500
# NHS.UK frontend's stylesheet and icons (shared/assets), for every service's pages.
frontend = Blueprint("frontend", __name__, static_folder="assets",
                     static_url_path="/frontend", template_folder="templates")


DATE_PARTS = ("day", "month", "year")


class NotADate(ValueError):
    """The boxes of a date do not make one: ``problem`` says why, to show beside it."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def date_from_parts(values: Mapping[str, str], name: str) -> str | None:
    """A date asked for as day, month and year, each its own box (the NHS.UK and GOV.UK
    date input), written once as ``YYYY-MM-DD``; None when every box is empty. A part
    missing, or one that is not a number of at most four ASCII digits, is ``NotADate``.
    Whether it is a real day (31 February) is for the field that reads it to say."""
    parts = [values.get(f"{name}-{part}", "").strip() for part in DATE_PARTS]
    if not any(parts):
        return None
    missing = [part for part, value in zip(DATE_PARTS, parts, strict=True) if not value]
    if missing:
        raise NotADate(f"Must include a {' and a '.join(missing)}.")
    if not all(value.isascii() and value.isdigit() and len(value) <= 4 for value in parts):
        raise NotADate("Must be a real date.")
    day, month, year = (int(value) for value in parts)
    return f"{year:04d}-{month:02d}-{day:02d}"


@dataclass(frozen=True)
class Pages:
    """A blueprint's pages for people signed in with a session."""

    blp: Blueprint
    # The sessions of the service, looked up when a request needs them.
    sessions: Callable[[], Sessions]
    # The endpoint a sign-in goes to when it names nowhere else.
    home: str
    # The templates' folder: "dashboard", "recording".
    templates: str
    # What to paste, for the sign-in form's message: "an auditor or admin token".
    wanted: str

    def install(self) -> None:
        blp = self.blp
        blp.before_request(self._guard)
        blp.after_request(_headers)
        # Views are functions, which carry what they accept (shared/screening.py).

        @accepts(*FORM)
        def sign_in_post() -> Any:
            return self._sign_in_post()

        @accepts(*FORM)
        def sign_out() -> Response:
            return self._sign_out()

        blp.add_url_rule("/sign-in", "sign_in", self._sign_in, methods=["GET"])
        blp.add_url_rule("/sign-in", "sign_in_post", sign_in_post, methods=["POST"])
        blp.add_url_rule("/sign-out", "sign_out", sign_out, methods=["POST"])
        blp.register_error_handler(Exception, self._error)

    def _endpoint(self, name: str) -> str:
        return f"{self.blp.name}.{name}"

    def _guard(self) -> Response | None:
        if request.endpoint == self._endpoint("static"):
            return None
        if request.method == "POST":
            current_app.extensions["csrf"].protect()
        session_id = session.get("sid")
        reader = self.sessions().reader_of(current_db(), session_id) if session_id else None
        if reader is not None:
            g.reader = reader
            # What the access log records, as for a bearer token.
            g.token_name, g.scopes, g.purpose = reader.name, set(reader.scopes), reader.purpose
            return None
        if request.endpoint in (self._endpoint("sign_in"), self._endpoint("sign_in_post")):
            return None
        session.pop("sid", None)
        return redirect(url_for(self._endpoint("sign_in"),
                                next=request.full_path.rstrip("?")))

    def safe_next(self, target: str | None) -> str:
        """Only a path inside these pages: never another site."""
        parts = urlsplit(target or "")
        prefix = self.blp.url_prefix or "/"
        if not target or parts.scheme or parts.netloc or target.startswith("//") or \
                not parts.path.startswith(prefix):
            return url_for(self.home)
        return target

    def _sign_in_page(self, status: int = 200, message: str = "",
                      field_error: str = "") -> Any:
        return render_template(
            f"{self.templates}/sign_in.html", title="Sign in", message=message,
            field_error=field_error, next=self.safe_next(request.values.get("next")),
            signed_out="signed_out" in request.args,
            insecure=not request.is_secure and not _loopback()), status

    def _sign_in(self) -> Any:
        if g.get("reader") is not None:
            return redirect(self.safe_next(request.args.get("next")))
        return self._sign_in_page()

    def _sign_in_post(self) -> Any:
        token = request.form.get("token", "").strip()
        if not token or len(token) > LONGEST_TOKEN:
            return self._sign_in_page(422, "Some fields are invalid: token",
                                      f"Paste {self.wanted} (ldr_...).")
        try:
            session_id, reader = self.sessions().open(
                current_db(), current_app.config["TOKEN_PEPPER"], token,
                current_app.config["PERMANENT_SESSION_LIFETIME"])
        except SignInRefused as exc:
            return self._sign_in_page(exc.status, exc.message)
        # A fresh session (and CSRF secret) at sign-in: nothing from before carries over.
        session.clear()
        session["sid"] = session_id
        session.permanent = True
        g.token_name, g.scopes, g.purpose = reader.name, set(reader.scopes), reader.purpose
        return redirect(self.safe_next(request.form.get("next")), 303)

    def _sign_out(self) -> Response:
        self.sessions().close(current_db(), session["sid"])
        session.clear()
        return redirect(url_for(self._endpoint("sign_in"), signed_out=1), 303)

    def _error(self, error: Exception) -> tuple[str, int]:
        if isinstance(error, DomainError):
            code, message, errors = error.status, error.message, error.errors
        elif isinstance(error, HTTPException):
            code, message, errors = error.code or 500, error.description or error.name, {}
        else:
            log.exception("unhandled error on %s %s", request.method, request.path)
            code, message, errors = 500, "Something went wrong on our side.", {}
        return render_template(f"{self.templates}/error.html",
                               error=error_body(code, message, errors), title=f"{code}"), code


def configure(app: Flask, secret_key: str | bytes, cookie: str, path: str) -> None:
    """Sessions in a Secure, HttpOnly, SameSite=Lax cookie that only ``path`` sees, signed
    with ``secret_key`` as the pages' CSRF tokens are; only the pages' forms are checked
    for one (the API takes bearer tokens, never cookies)."""
    app.secret_key = secret_key
    app.config.update(
        SESSION_COOKIE_NAME=cookie, SESSION_COOKIE_PATH=path,
        # Browsers accept Secure cookies from http://localhost and 127.0.0.1 too.
        SESSION_COOKIE_SECURE=True, SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=app.config["SESSION_HOURS"]),
        WTF_CSRF_CHECK_DEFAULT=False,
        # A token lives as long as the session it is bound to.
        WTF_CSRF_TIME_LIMIT=None)
    CSRFProtect(app)
    app.register_blueprint(frontend)


def _headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _loopback() -> bool:
    """Browsers keep Secure cookies from plain http only on the machine itself."""
    return urlsplit(f"//{request.host}").hostname in ("localhost", "127.0.0.1", "::1")
