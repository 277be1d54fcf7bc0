"""Training's own use cases: courses. Sessions and involvements are the common ones."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from services.training.models import Course
from shared.db import Database
from shared.errors import Conflict, Invalid, NotFound
from shared.ids import new_id
from shared.times import naive_utcnow


def _view(course: Course) -> dict[str, Any]:
    return {"id": course.id, "title": course.title, "programme": course.programme,
            "org_unit": course.org_unit}


def record_course(db: Database, fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    course_id = fields.pop("id", None) or new_id()
    with db.writing() as session:
        if session.scalar(sa.select(Course.n).where(Course.id == course_id)):
            raise Conflict(f"A course with id {course_id} already exists.")
        course = Course(id=course_id, created_at=naive_utcnow(), **fields)
        session.add(course)
        return _view(course)


def get_course(db: Database, course_id: str) -> dict[str, Any]:
    with db.reading() as session:
        course = session.scalar(sa.select(Course).where(Course.id == course_id))
        if course is None:
            raise NotFound(f"No course {course_id}.")
        return _view(course)


def list_courses(db: Database) -> list[dict[str, Any]]:
    with db.reading() as session:
        return [_view(c) for c in session.scalars(sa.select(Course).order_by(Course.n))]


def check_course(session: Any, fields: dict[str, Any]) -> None:
    """A session belongs to a course that exists (422 naming course_id otherwise)."""
    if "course_id" not in fields:
        return
    assert isinstance(session, Session)
    if not session.scalar(sa.select(Course.n).where(Course.id == fields["course_id"])):
        raise Invalid(f"No course {fields['course_id']}.",
                      {"json": {"course_id": ["No such course."]}})
