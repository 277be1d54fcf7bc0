"""The subscriber portal, for admins, in the dashboard: webhooks out without the API.

List, create, pause, resume and delete subscriptions; rotate a secret; read each
message and every attempt at it; send one again, or every one that failed since a day.
Each page calls the same use cases as ``/v1/subscriptions`` (services/ledger/webhooks),
and a form's answers are checked by the same schemas. A secret is shown once, on the
page that made it, and never again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app, flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError
from werkzeug.wrappers import Response

from services.ledger.dashboard import blp
from services.ledger.domain import AREAS
from services.ledger.webhooks import domain, messages, subscriptions
from services.ledger.webhooks.api import SubscriptionInSchema
from services.ledger.webhooks.settings import Settings
from shared import pages
from shared.db import current_db
from shared.errors import DomainError, Forbidden
from shared.screening import accepts
from shared.times import naive_utcnow

MESSAGES_PER_PAGE = 50


def _admin() -> None:
    if not g.reader.is_admin:
        raise Forbidden("Webhooks out are for admins: sign in with an admin token.")


def _settings() -> Settings:
    return Settings.from_config(current_app.config)


@blp.get("/subscriptions")
def subscriptions_page() -> Any:
    _admin()
    return _list(200, {}, {})


def _list(status: int, sent: dict[str, Any], errors: dict[str, Any], message: str = "",
          made: dict[str, Any] | None = None) -> Any:
    return render_template(
        "dashboard/subscriptions.html", title="Webhooks out",
        subscriptions=subscriptions.list_subscriptions(current_db()), sent=sent, errors=errors,
        message=message, made=made, area_names=AREAS, event_types=domain.FILTER_TYPES,
        grants=domain.GRANTS), status


@blp.post("/subscriptions")
@accepts(*pages.FORM)
def subscribe() -> Any:
    """A new subscription from the form; its secret is shown on the answer, once."""
    _admin()
    form = request.form
    body: dict[str, Any] = {
        "url": form.get("url", "").strip(), "description": form.get("description", "").strip(),
        "areas": form.getlist("areas"), "event_types": form.getlist("event_types"),
        "grant": form.get("grant", domain.READ)}
    if form.get("purpose", "").strip():
        body["purpose"] = form["purpose"].strip()
    sent = {**body, "purpose": form.get("purpose", "")}
    try:
        loaded = SubscriptionInSchema().load(body)
        made = subscriptions.create_subscription(current_db(), _settings(), loaded, naive_utcnow())
    except ValidationError as exc:
        return _list(422, sent, exc.normalized_messages(), "Some fields are invalid.")
    except DomainError as exc:
        return _list(exc.status, sent, exc.errors.get("json", {}), exc.message)
    return _list(201, {}, {}, made=made)


@blp.get("/subscriptions/<sub_id>")
def subscription_page(sub_id: str) -> Any:
    _admin()
    return _one(sub_id)


def _one(sub_id: str, status: int = 200, secret: str | None = None,
         message: str = "") -> Any:
    db = current_db()
    found = subscriptions.get_subscription(db, sub_id)
    state = request.args.get("status") if request.args.get("status") in (
        domain.PENDING, domain.SUCCEEDED, domain.FAILED) else None
    after = request.args.get("after") or None
    if after is not None and len(after) > 40:
        after = None
    items = messages.list_messages(db, sub_id, state, after, None, MESSAGES_PER_PAGE)
    return render_template(
        "dashboard/subscription.html", title=f"Webhooks out: {sub_id}", sub=found,
        items=items, state=state, secret=secret, message=message,
        next_after=items[-1]["id"] if len(items) == MESSAGES_PER_PAGE else None), status


@blp.post("/subscriptions/<sub_id>/enabled")
@accepts(*pages.FORM)
def set_enabled(sub_id: str) -> Response:
    """Pause (``enabled=no``) or resume (``enabled=yes``) a subscription."""
    _admin()
    enabled = request.form.get("enabled") == "yes"
    subscriptions.update_subscription(current_db(), _settings(), sub_id, {"enabled": enabled},
                                      naive_utcnow())
    flash("Resumed: its messages go out again." if enabled else
          "Paused: nothing is sent until it is resumed.")
    return redirect(url_for("dashboard.subscription_page", sub_id=sub_id), 303)


@blp.post("/subscriptions/<sub_id>/deletion")
@accepts(*pages.FORM)
def delete(sub_id: str) -> Any:
    """Delete a subscription with its messages and log, once the box saying so is ticked."""
    _admin()
    if request.form.get("confirm") != "yes":
        return _one(sub_id, 422, message="Tick the box to say you mean to delete it, with "
                                         "its messages and delivery log.")
    subscriptions.delete_subscription(current_db(), sub_id)
    flash(f"Deleted {sub_id}, with its messages and delivery log.")
    return redirect(url_for("dashboard.subscriptions_page"), 303)


@blp.post("/subscriptions/<sub_id>/rotation")
@accepts(*pages.FORM)
def rotate(sub_id: str) -> Any:
    """A new secret, shown on this answer only; the old one signs too for the overlap."""
    _admin()
    made = subscriptions.rotate_secret(current_db(), sub_id,
                                       float(current_app.config["WEBHOOK_SECRET_OVERLAP"]),
                                       naive_utcnow())
    return _one(sub_id, secret=made["secret"])


@blp.get("/subscriptions/<sub_id>/messages/<message_id>")
def message_page(sub_id: str, message_id: str) -> Any:
    _admin()
    found = messages.get_message(current_db(), sub_id, message_id)
    return render_template("dashboard/message.html", title=f"Message {message_id}",
                           sub_id=sub_id, message=found)


@blp.post("/subscriptions/<sub_id>/messages/<message_id>/resend")
@accepts(*pages.FORM)
def resend(sub_id: str, message_id: str) -> Response:
    _admin()
    messages.resend(current_db(), sub_id, message_id, naive_utcnow())
    flash(f"{message_id} goes out again, with the same webhook-id.")
    return redirect(url_for("dashboard.message_page", sub_id=sub_id, message_id=message_id),
                    303)


@blp.post("/subscriptions/<sub_id>/recovery")
@accepts(*pages.FORM)
def recover(sub_id: str) -> Any:
    """Every message that failed since a day goes out again."""
    _admin()
    try:
        since = datetime.strptime(request.form.get("since", "").strip(), "%Y-%m-%d")
    except ValueError:
        return _one(sub_id, 422, message="Since: a date, as 2026-03-01.")
    if since > naive_utcnow() or since < datetime(2000, 1, 1):
        return _one(sub_id, 422, message="Since: a day from 2000 to today.")
    count = messages.recover(current_db(), sub_id, since, None, naive_utcnow())
    flash(f"{count} failed message{'s' if count != 1 else ''} since "
          f"{since.date().isoformat()} go out again.")
    return redirect(url_for("dashboard.subscription_page", sub_id=sub_id), 303)


def when(moment: datetime | None) -> str:
    """A stored moment (naive UTC) as the pages write it."""
    return "–" if moment is None else moment.replace(tzinfo=UTC).strftime("%Y-%m-%d %H:%M UTC")


blp.add_app_template_filter(when, "when")
