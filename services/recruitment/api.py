"""Recruitment's REST API: vacancies and the involvements in them."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services.recruitment import service
from services.recruitment.domain import ROLES, STAGES
from shared.db import current_db
from shared.involvement import DECISION_POWER, RECOGNITION

blp = Blueprint("vacancies", __name__, url_prefix="/v1/vacancies",
                description="Vacancies and citizens' involvement in filling them")


class VacancyInSchema(Schema):
    role = fields.String(required=True, validate=validate.Length(min=1, max=200))
    org_unit = fields.String(required=True, validate=validate.Length(min=1, max=256))
    opened_on = fields.Date(required=True)


class VacancySchema(VacancyInSchema):
    id = fields.String(required=True)
    status = fields.String(required=True)


class InvolvementInSchema(Schema):
    citizen_ref = fields.String(required=True, load_only=True,
                                validate=validate.Length(min=1, max=200),
                                metadata={"description": "The organisation's own reference; "
                                          "only its keyed pseudonym is stored"})
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    hours = fields.Float(required=True, validate=validate.Range(min=0, max=1000))
    recognition = fields.String(required=True, validate=validate.OneOf(RECOGNITION))
    decision_power = fields.String(required=True, validate=validate.OneOf(DECISION_POWER))
    from_start = fields.Boolean(required=True)
    feedback_given = fields.Boolean(required=True)


class InvolvementSchema(InvolvementInSchema):
    id = fields.String(required=True)
    vacancy_id = fields.String(required=True)
    pseudonym = fields.String(required=True)
    step = fields.Integer(required=True)
    rubric_version = fields.String(required=True)


@blp.route("")
class Vacancies(MethodView):
    @blp.arguments(VacancyInSchema)
    @blp.response(202, VacancySchema)
    def post(self, body: dict[str, Any]) -> Any:
        """Record a vacancy: an activity that counts in the denominator."""
        return service.record_vacancy(current_db(), **body)


@blp.route("/<vacancy_id>/involvements")
class Involvements(MethodView):
    @blp.arguments(InvolvementInSchema)
    @blp.response(202, InvolvementSchema)
    def post(self, body: dict[str, Any], vacancy_id: str) -> Any:
        """Record a citizen's involvement in one stage of a vacancy."""
        return service.record_involvement(
            current_db(), current_app.config["PSEUDONYM_KEY"], vacancy_id, **body)
