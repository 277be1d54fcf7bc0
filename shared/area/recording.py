"""The recording pages: for an organisation with no HR or learning system to send
webhooks, a member of staff signs in with a write token and records an activity, and
citizens' involvements in it, in a form (/record on each area's service).

The forms are the API's schemas (shared/area/forms.py), and what they record goes
through the same use cases as the API (shared/area/service.py): the same checks, the
same events to the ledger. Before an involvement is saved, the page shows the step of
the ladder its facts give and the rubric row that decides it, in TLAP's words.

Sign-in exchanges a write token for a session (shared/sessions.py): the cookie holds a
random id, only its hash is kept, and every request checks the token again. Every form
carries a CSRF token (Flask-WTF). The cookie and CSRF tokens are signed with a key
derived from the service's token pepper, so the pages need no setting of their own.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from marshmallow import Schema, ValidationError

from shared import pages
from shared.area import Area, forms, service
from shared.area.models import ApiToken, RecordingSession
from shared.db import current_db
from shared.errors import DomainError, NotFound
from shared.ids import new_id
from shared.involvement import LADDER
from shared.screening import accepts
from shared.sessions import Sessions

RECENT = 20


def _sessions(area: Area) -> Sessions:
    return Sessions(area.name, "write", ApiToken, RecordingSession,
                    f"That token cannot record in {area.name}: the recording pages need a "
                    f"{area.name}:write token.")


def secret_key(pepper: str) -> bytes:
    """The pages' signing key, derived from the token pepper for this use alone."""
    return hmac.new(pepper.encode(), b"ladder recording pages: sessions and CSRF",
                    hashlib.sha256).digest()


def init_app(app: Flask, area: Area, activity_in: type[Schema],
             involvement_in: type[Schema]) -> None:
    """The recording pages of ``area``, with its request schemas, at /record."""
    pages.configure(app, secret_key(app.config["TOKEN_PEPPER"]), "ladder_record", "/record")
    app.extensions["recording"] = {
        "area": area, "sessions": _sessions(area),
        "activity": (activity_in, forms.form_fields(activity_in)),
        "involvement": (involvement_in, forms.form_fields(involvement_in)),
    }
    app.register_blueprint(blp)


blp = Blueprint("recording", __name__, url_prefix="/record", template_folder="templates",
                static_folder="assets", static_url_path="/static")
# Signing in and out, the guard of every page, their headers and the error page.
pages.Pages(blp, lambda: _own()["sessions"], "recording.home", "recording",
            "a write token of this area").install()


def _own() -> dict[str, Any]:
    return dict(current_app.extensions["recording"])


@blp.context_processor
def _context() -> dict[str, Any]:
    own = _own()
    return {"reader": g.get("reader"), "area": own["area"], "ladder": LADDER,
            "choice_label": forms.choice_label}


# -- recording ----------------------------------------------------------------------------


@blp.get("")
def home() -> str:
    """Record an activity; the latest ones recorded here, to add involvements to."""
    return _home(200, {}, {})


def _home(status: int, sent: dict[str, str], errors: dict[str, list[str]],
          message: str = "") -> Any:
    own = _own()
    recent = service.recent_activities(current_db(), RECENT)
    return render_template("recording/home.html", title="Record",
                           fields=own["activity"][1], sent=sent, errors=errors,
                           message=message, recent=recent,
                           new_id=new_id()), status


@blp.post("/activities")
@accepts(*pages.FORM)
def record_activity() -> Any:
    own = _own()
    schema, fields_ = own["activity"]
    body = forms.body_of(fields_, request.form)
    body["id"] = _form_id()
    try:
        loaded = schema().load(body)
        made = service.record_activity(current_db(), own["area"], loaded)
    except ValidationError as exc:
        return _home(422, forms.shown(fields_, request.form), _messages(exc))
    except DomainError as exc:
        return _home(exc.status, forms.shown(fields_, request.form), exc.errors.get("json", {}),
                     exc.message)
    flash(f"Recorded the {own['area'].activity_kind.replace('_', ' ')} {made['id']}.")
    return redirect(url_for("recording.activity", activity_id=made["id"]), 303)


@blp.get("/activities/<activity_id>")
def activity(activity_id: str) -> Any:
    return _activity(activity_id, 200, {}, {})


def _activity(activity_id: str, status: int, sent: dict[str, str],
              errors: dict[str, list[str]], message: str = "",
              checked: dict[str, Any] | None = None) -> Any:
    own = _own()
    db = current_db()
    found = service.get_activity(db, own["area"], activity_id)
    involvements = service.list_involvements(db, own["area"], activity_id)
    return render_template(
        "recording/activity.html", title=f"Record: {activity_id}", activity=found,
        involvements=involvements, fields=own["involvement"][1], sent=sent, errors=errors,
        message=message, checked=checked,
        new_id=request.form.get("id") or new_id()), status


@blp.post("/activities/<activity_id>/involvements")
@accepts(*pages.FORM)
def record_involvement(activity_id: str) -> Any:
    """``action=check`` shows the step the facts give, and the row that decides it;
    ``action=save`` records the involvement."""
    own = _own()
    schema, fields_ = own["involvement"]
    sent = forms.shown(fields_, request.form)
    body = forms.body_of(fields_, request.form)
    body["id"] = _form_id()
    try:
        loaded = schema().load(body)
        if request.form.get("action") != "save":
            checked = service.explain(own["area"], loaded)
            return _activity(activity_id, 200, sent, {}, checked=checked)
        made = service.record_involvement(current_db(), own["area"],
                                          str(current_app.config["PSEUDONYM_KEY"]),
                                          activity_id, loaded)
    except ValidationError as exc:
        return _activity(activity_id, 422, sent, _messages(exc))
    except DomainError as exc:
        if isinstance(exc, NotFound):  # no such activity: the error page
            raise
        return _activity(activity_id, exc.status, sent, exc.errors.get("json", {}),
                         exc.message)
    flash(f"Recorded: step {made['step']}, {LADDER[made['step']]} "
          f"(rule {made['rubric_rule']}).")
    return redirect(url_for("recording.activity", activity_id=activity_id), 303)


def _form_id() -> str:
    """The id the form was given when it was shown: sent twice, it is recorded once."""
    sent = request.form.get("id", "")
    return sent if sent else new_id()


def _messages(exc: ValidationError) -> dict[str, list[str]]:
    found = exc.normalized_messages()
    return {name: (problems if isinstance(problems, list) else [str(problems)])
            for name, problems in found.items()}
