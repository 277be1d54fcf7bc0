"""Training's REST API: courses, their sessions, and citizens' involvement in them."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.training import service
from services.training.domain import AREA, MODES
from shared.area.api import area_blueprint
from shared.area.schemas import ID, AreaSchemas
from shared.auth import require
from shared.blueprint import Blueprint
from shared.db import current_db
from shared.fields import Date, integer, page


class SessionFields(Schema):
    course_id = fields.String(required=True, validate=ID)
    delivered_on = Date(required=True)
    mode = fields.String(validate=validate.OneOf(MODES), load_default="in_person")
    learners = integer(validate=validate.Range(min=0, max=100000),
                              metadata={"description": "How many learners attended"})


class CourseSchema(Schema):
    id = fields.String(validate=ID, metadata={"description": "Optional; generated if absent"})
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    programme = fields.String(required=True, validate=validate.Length(min=1, max=200),
                              metadata={"description": "The programme the course belongs to"})
    org_unit = fields.String(required=True, validate=validate.Length(min=1, max=256))


# A session's course must exist: a check against training's own table.
TRAINING = replace(AREA, check_activity=service.check_course)
SCHEMAS = AreaSchemas(TRAINING, SessionFields)
blp = area_blueprint(TRAINING, SCHEMAS, __name__)
courses = Blueprint("courses", __name__, url_prefix="/v1/courses",
                    description="Courses, grouped by programme; their sessions are activities")
BLUEPRINTS = (blp, courses)


@courses.route("")
class Courses(MethodView):
    @require("read")
    @courses.response(200, page(CourseSchema, "CoursePage"))
    def get(self) -> dict[str, Any]:
        """List courses, all on one page."""
        return {"items": service.list_courses(current_db()), "next_after": None}

    @require("write")
    @courses.arguments(CourseSchema)
    @courses.response(201, CourseSchema)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Record a course."""
        return service.record_course(current_db(), body)


@courses.route("/<course_id>")
class CourseById(MethodView):
    @require("read")
    @courses.response(200, CourseSchema)
    def get(self, course_id: str) -> dict[str, Any]:
        """One course."""
        return service.get_course(current_db(), course_id)
