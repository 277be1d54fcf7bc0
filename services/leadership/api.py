"""Leadership's REST API: meetings of boards, programmes, co-production groups and
leadership development, and citizens' involvement in them."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from services.leadership.domain import AREA, FORUM_TYPES
from shared.area.api import area_blueprint
from shared.area.schemas import AreaSchemas
from shared.fields import Date


class MeetingFields(Schema):
    forum = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "The board, committee, programme, group "
                                    "or cohort that met, e.g. Quality committee"})
    forum_type = fields.String(required=True, validate=validate.OneOf(FORUM_TYPES))
    held_on = Date(required=True)


SCHEMAS = AreaSchemas(AREA, MeetingFields)
blp = area_blueprint(AREA, SCHEMAS, __name__)
BLUEPRINTS = (blp,)
