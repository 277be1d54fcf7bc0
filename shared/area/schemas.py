"""The request and response schemas of every area, built from its :class:`Area`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from shared import impact
from shared.area import WITHDRAWAL_REASONS, Area, references
from shared.envelope import EARLIEST
from shared.fields import Date, Flag, Number, UtcDateTime, cursor, page
from shared.involvement import DECISION_POWER, INFLUENCE, MAX_HOURS, PARTS, RECOGNITION
from shared.times import rfc3339
from shared.validation import Loader, fast_loader

# Ids chosen by the caller (an HR system's own vacancy number) are allowed.
ID = validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$",
                     error="Ids are 1-64 letters, digits, '.', '_', ':' or '-'.")


def check_moment(moment: datetime) -> None:
    """When something happened: not in the future, not before :data:`EARLIEST`."""
    # A little clock skew between systems is allowed; a date to come is not.
    if moment > datetime.now(UTC) + timedelta(minutes=5):
        raise ValidationError("Must not be in the future.")
    if moment < EARLIEST:
        raise ValidationError(f"Must not be before {rfc3339(EARLIEST)}.")


def occurred_at() -> fields.Field:
    return fields.AwareDateTime(load_only=True, validate=check_moment, metadata={
        "description": "When it happened, if not now (RFC 3339, not in the future, not "
                       "before 2000-01-01T00:00:00Z): for a "
                       "system that reports late or loads its history. It becomes the "
                       "event's time, which dates it in the measures; the ledger still "
                       "records when it arrived."})


def _visible(reference: str) -> None:
    if not references.normalise(reference):
        raise ValidationError("Must hold a visible character: a reference of only spaces "
                              "and invisible characters names no one.")


def citizen_ref(description: str) -> fields.String:
    """A citizen's reference, as every intake takes it (shared/area/references.py)."""
    return fields.String(required=True, load_only=True,
                         validate=[validate.Length(min=1, max=200), _visible],
                         metadata={"description": description})


class ActivityInBase(Schema):
    """What every activity has; an area's schema adds its own fields."""

    id = fields.String(validate=ID, metadata={"description": "Optional; generated if absent"})
    org_unit = fields.String(required=True, validate=validate.Length(min=1, max=256))
    occurred_at = occurred_at()


class ActivityOutMixin(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True, metadata={"description": "active or cancelled"})
    revision = fields.Integer(required=True)


class PageArgsSchema(Schema):
    after = cursor(load_default=0)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class WithdrawalSchema(Schema):
    reason = fields.String(required=True, validate=validate.OneOf(WITHDRAWAL_REASONS))


class ErasureSchema(Schema):
    citizen_ref = citizen_ref("The organisation's reference for the person, in any of its "
                              "variants (case, full-width, invisible characters, spacing)")


class HeldEventSchema(Schema):
    id = fields.Integer(required=True)
    event_id = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    held_at = UtcDateTime(required=True)
    reason = fields.String(required=True)
    payload = fields.String(required=True, metadata={"description": "The outbox row as kept"})


HeldPageSchema = page(HeldEventSchema, "HeldEventPage")


class ScrubSchema(Schema):
    complete = fields.Boolean(required=True, metadata={
        "description": "Nothing of the erased rows is left in the database's files"})
    incomplete_because = fields.List(fields.String(), required=True, metadata={
        "description": "What keeps it from being complete; another erasure finishes what "
                       "waited on readers, and the rest names a server setting or privilege"})


class AreaErasureSchema(Schema):
    found = fields.Boolean(required=True, metadata={
        "description": "Whether anything was linked to the reference in this area"})
    contributions_unlinked = fields.Integer(required=True)
    scrub = fields.Nested(ScrubSchema, required=True)


class ErasureResultSchema(Schema):
    found = fields.Boolean(required=True, metadata={"description": "In any area"})
    contributions_unlinked = fields.Integer(required=True, metadata={
        "description": "In every area: they stay and keep counting, linked to no one"})
    scrubbed = fields.Boolean(required=True, metadata={
        "description": "Every area's scrub is complete"})
    areas = fields.Dict(keys=fields.String(), values=fields.Nested(AreaErasureSchema),
                        required=True)


def _facts(area: Area) -> dict[str, fields.Field]:
    return {
        "stage": fields.String(required=True, validate=validate.OneOf(area.stages)),
        "role": fields.String(required=True, validate=validate.OneOf(area.roles)),
        "hours": Number(required=True, validate=validate.Range(min=0, max=MAX_HOURS)),
        "recognition": fields.String(required=True, validate=validate.OneOf(RECOGNITION)),
        "decision_power": fields.String(required=True,
                                        validate=validate.OneOf(DECISION_POWER)),
        "from_start": Flag(required=True),
        "feedback_given": Flag(required=True),
        "part": fields.String(validate=validate.OneOf(PARTS), metadata={
            "description": "What the citizen did. Without it (a version-1 request) it "
                           "follows from decision_power and role, as docs/rubrics.md says; "
                           "a role that does not tell (an attendee) needs it"}),
        "influence": fields.String(validate=validate.OneOf(INFLUENCE), metadata={
            "description": "Did their contribution demonstrably change the outcome? "
                           "unknown if not said"}),
    }


def facts_schema(area: Area) -> type[Schema]:
    """The facts alone, as the area's rubric reads them: what an explanation takes."""
    return Schema.from_dict({name: field for name, field in _facts(area).items()
                             if name != "hours"}, name=f"{area.name.capitalize()}Facts")


class SourceSchema(Schema):
    title = fields.String(required=True)
    quote = fields.String(required=True, metadata={"description": "Word for word"})
    url = fields.String(required=True, metadata={"description": "Where it was read"})


class RubricRowSchema(Schema):
    id = fields.String(required=True, metadata={"description": "e.g. training-2.5a"})
    step = fields.Integer(required=True)
    rung = fields.String(required=True, metadata={"description": "The step's name"})
    rule = fields.String(required=True, metadata={"description": "When the row holds"})
    source = fields.Nested(SourceSchema, required=True, metadata={
        "description": "The TLAP / NCAG definition the row implements"})


class AreaSchemas:
    """Every schema one area's API uses, named after the area for OpenAPI."""

    def __init__(self, area: Area, activity_fields: type[Schema],
                 involvement_extras: dict[str, fields.Field] | None = None) -> None:
        self.area = area
        title = area.name.capitalize()
        kind = "".join(part.capitalize() for part in area.activity_kind.split("_"))
        extras = involvement_extras or {}
        self.activity_in: type[Schema] = type(
            f"{kind}In", (activity_fields, ActivityInBase), {})
        changes = type(f"{kind}Changes", (activity_fields, ActivityInBase), {})
        self.activity_patch: Schema = changes(partial=True, exclude=("id", "occurred_at"))
        self.activity_out: type[Schema] = type(
            f"{kind}", (ActivityOutMixin, activity_fields, ActivityInBase), {})
        self.activity_page = page(self.activity_out, f"{title}ActivityPage")
        facts = _facts(area)
        self.correction: type[Schema] = Schema.from_dict(
            {**facts, **extras}, name=f"{title}Correction")
        self.involvement_in: type[Schema] = Schema.from_dict({
            "id": fields.String(validate=ID),
            "citizen_ref": citizen_ref("The organisation's own reference; only a keyed "
                                       "pseudonym of it is kept. Case, full-width forms, "
                                       "invisible characters and spacing do not matter"),
            "occurred_at": occurred_at(),
            **_facts(area), **extras,
        }, name=f"{title}InvolvementIn")
        self.involvement_out: type[Schema] = Schema.from_dict({
            "id": fields.String(required=True),
            "activity_id": fields.String(required=True),
            "pseudonym": fields.String(required=True),
            **_facts(area), **extras,
            "step": fields.Integer(required=True, metadata={"description": "1-7 on the ladder"}),
            "rubric_version": fields.String(required=True),
            "rubric_rule": fields.String(required=True),
            "status": fields.String(required=True),
            "revision": fields.Integer(required=True),
        }, name=f"{title}Involvement")
        self.involvement_page = page(self.involvement_out, f"{title}InvolvementPage")
        self.facts: type[Schema] = facts_schema(area)
        self.explanation: type[Schema] = Schema.from_dict({
            "rubric_version": fields.String(required=True),
            "step": fields.Integer(required=True, metadata={"description": "1-7 on the ladder"}),
            "rung": fields.String(required=True),
            "row": fields.Nested(RubricRowSchema, required=True, metadata={
                "description": "The first row of the rubric whose condition the facts meet"}),
            "facts": fields.Nested(self.facts, required=True, metadata={
                "description": "The facts as read, part and influence filled in"}),
        }, name=f"{title}Explanation")
        # One instance each, made once: building a schema costs more than loading with it.
        self._loaders: dict[str, Loader] = {
            "activity.recorded": fast_loader(self.activity_in()),
            "activity.updated": fast_loader(self.activity_patch),
            "activity.cancelled": fast_loader(Schema.from_dict({})()),
            "involvement.recorded": fast_loader(self.involvement_in()),
            "involvement.corrected": fast_loader(self.correction()),
            "involvement.withdrawn": fast_loader(WithdrawalSchema()),
            "impact.recorded": fast_loader(ImpactIn()),
            "impact.corrected": fast_loader(ImpactContent()),
        }

    def load_for(self, command: str, data: Any) -> tuple[dict[str, Any], str | None]:
        """Validate an inbound command's data; return (fields, the id it targets)."""
        if not isinstance(data, dict):
            raise ValidationError({"data": ["Must be a JSON object."]})
        data = dict(data)
        if command in ("activity.recorded", "impact.recorded"):
            return self._loaders[command](data), None
        target = data.pop("activity_id" if command == "involvement.recorded" else "id", None)
        if not isinstance(target, str) or not target:
            name = "activity_id" if command == "involvement.recorded" else "id"
            raise ValidationError({name: ["Missing data for required field."]})
        return self._loaders[command](data), target


# -- impact records ("you said, we did"): the same in every area -------------------------

WORDS = validate.Length(min=1, max=4000)


class ImpactContent(Schema):
    """What an impact record says; a correction gives all of it again."""

    said = fields.String(required=True, validate=WORDS, metadata={
        "description": "What the citizens said. Kept in this service for its staff; the "
                       "ledger gets only a commitment to it"})
    outcome = fields.String(required=True, validate=validate.OneOf(impact.OUTCOMES),
                            metadata={"description": "Whether anything changed"})
    change_kind = fields.String(validate=validate.OneOf(impact.CHANGE_KINDS), metadata={
        "description": "The kind of change: required with an outcome of yes or partly, "
                       "and only then"})
    what_changed = fields.String(required=True, validate=WORDS, metadata={
        "description": "What changed, or why nothing could"})
    told_on = Date(metadata={"description": "When the citizens were told (not in the "
                                            "future); absent until they are"})


class ImpactIn(ImpactContent):
    id = fields.String(validate=ID, metadata={"description": "Optional; generated if absent"})
    activity_id = fields.String(validate=ID, metadata={
        "description": "The activity the record is of: every involvement in it"})
    involvement_id = fields.String(validate=ID, metadata={
        "description": "Or the one involvement it is of"})

    @validates_schema
    def _target(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("activity_id") and not data.get("involvement_id"):
            raise ValidationError("activity_id or involvement_id is required.",
                                  field_name="activity_id")


class ImpactOut(ImpactContent):
    id = fields.String(required=True)
    activity_id = fields.String(required=True)
    involvement_id = fields.String(allow_none=True)
    change_kind = fields.String(allow_none=True)
    told_on = Date(allow_none=True)
    salt = fields.String(required=True, metadata={
        "description": "Hex; with the words it gives the commitment (docs/api.md)"})
    commitment = fields.String(required=True, metadata={
        "description": "SHA-256, hex, of the salt and the words: what the ledger holds"})
    revision = fields.Integer(required=True)


ImpactPageSchema = page(ImpactOut, "ImpactPage")
