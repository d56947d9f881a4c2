"""Field work's RPC input and output, as the gateway documents and sends them: the service
loads and dumps through these (services.fieldwork.schemas). Unknown fields are refused."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..fields import UtcDateTime
from ..vocabulary import (CATEGORIES, DESCRIPTION_MAX, HAZARD_KINDS, HAZARD_SEVERITIES,
                          HAZARD_SOURCES, HAZARD_STATUSES, OUTREACH_KINDS, PATROL_AREAS,
                          PATROL_KINDS, PATROL_MEMBERS, PRIORITIES)

ID = validate.Length(min=1, max=64)
COUNT = validate.Range(min=0, max=100_000)
MAX_MEMBERS = 200
MAX_FINDINGS = 50
OUTREACH_AREAS = ("station", *PATROL_AREAS)


# --- input -----------------------------------------------------------------------------------


class GuardInput(Schema):
    enterprise_id = fields.String(required=True, validate=ID)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    phone = fields.String(load_default="", validate=validate.Regexp(
        r"^(|\+?[0-9][0-9 -]{5,19})$", error="digits, spaces and dashes, 6 to 20 of them"))


class MemberInput(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PATROL_MEMBERS))
    id = fields.String(required=True, validate=ID)


class IncidentFindingInput(Schema):
    """A finding to raise as an incident: dispatch pages its enterprise's chain on it."""
    enterprise_id = fields.String(required=True, validate=ID)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    priority = fields.String(load_default="medium", validate=validate.OneOf(PRIORITIES))
    description = fields.String(required=True,
                                validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    location = fields.String(load_default="", validate=validate.Length(max=500))


class HazardFindingInput(Schema):
    enterprise_id = fields.String(required=True, validate=ID)
    kind = fields.String(required=True, validate=validate.OneOf(HAZARD_KINDS))
    severity = fields.String(required=True, validate=validate.OneOf(HAZARD_SEVERITIES))
    description = fields.String(required=True,
                                validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    rectified_on_spot = fields.Boolean(load_default=False)


class FindingsInput(Schema):
    suspicious_persons = fields.Integer(load_default=0, validate=COUNT)
    suspicious_vehicles = fields.Integer(load_default=0, validate=COUNT)
    people_helped = fields.Integer(load_default=0, validate=COUNT)
    hazards = fields.List(fields.Nested(HazardFindingInput), load_default=list,
                          validate=validate.Length(max=MAX_FINDINGS))
    incidents = fields.List(fields.Nested(IncidentFindingInput), load_default=list,
                            validate=validate.Length(max=MAX_FINDINGS))


class PatrolInput(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(PATROL_KINDS))
    area_kind = fields.String(required=True, validate=validate.OneOf(PATROL_AREAS))
    area_id = fields.String(required=True, validate=ID)
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)
    members = fields.List(fields.Nested(MemberInput), required=True,
                          validate=validate.Length(min=1, max=MAX_MEMBERS))
    findings = fields.Nested(FindingsInput, load_default=lambda: FindingsInput().load({}))

    @validates_schema
    def _span(self, data, **kwargs):
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            raise ValidationError("must be after start", "end")


class HazardInput(HazardFindingInput):
    """A hazard found on a visit, or reported by the enterprise itself."""
    source = fields.String(load_default="visit", validate=validate.OneOf(
        [s for s in HAZARD_SOURCES if s != "patrol"]))
    source_ref = fields.String(load_default=None, allow_none=True, validate=ID)
    found_at = UtcDateTime(load_default=None, allow_none=True)


class VerificationInput(Schema):
    passed = fields.Boolean(required=True)


class OutreachInput(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(OUTREACH_KINDS))
    area_kind = fields.String(required=True, validate=validate.OneOf(OUTREACH_AREAS))
    area_id = fields.String(required=True, validate=ID)
    at = UtcDateTime(required=True)
    topic = fields.String(required=True, validate=validate.Length(min=1, max=200))
    attendees = fields.Integer(load_default=0, validate=COUNT)
    guard_ids = fields.List(fields.String(validate=ID), load_default=list,
                            validate=validate.Length(max=MAX_MEMBERS))
    materials = fields.Integer(load_default=0, validate=validate.Range(min=0, max=10_000_000))


class GuardFilter(Schema):
    enterprise_id = fields.String(validate=ID)
    enterprise_ids = fields.List(fields.String(validate=ID))


class PatrolFilter(Schema):
    kind = fields.String(validate=validate.OneOf(PATROL_KINDS))
    station_id = fields.String(validate=ID)
    area_id = fields.String(validate=ID)
    officer_id = fields.String(validate=ID)


class HazardFilter(Schema):
    enterprise_id = fields.String(validate=ID)
    enterprise_ids = fields.List(fields.String(validate=ID))
    status = fields.String(validate=validate.OneOf(HAZARD_STATUSES))
    severity = fields.String(validate=validate.OneOf(HAZARD_SEVERITIES))


class OutreachFilter(Schema):
    kind = fields.String(validate=validate.OneOf(OUTREACH_KINDS))
    station_id = fields.String(validate=ID)


# --- output ----------------------------------------------------------------------------------


class PlaceOut(Schema):
    station_id = fields.String(required=True)
    park_id = fields.String(required=True, allow_none=True)
    grid_id = fields.String(required=True, allow_none=True)
    enterprise_id = fields.String(required=True, allow_none=True)


class TrainingOut(Schema):
    outreach_id = fields.String(required=True)
    kind = fields.String(required=True)
    at = UtcDateTime(required=True)


class Guard(Schema):
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True)
    registered_at = UtcDateTime(required=True)
    trainings = fields.List(fields.Nested(TrainingOut), required=True)


class MemberOut(Schema):
    kind = fields.String(required=True)
    id = fields.String(required=True)


class IncidentFindingOut(Schema):
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    category = fields.String(required=True)
    priority = fields.String(required=True)
    incident_id = fields.String(required=True)


class AreaRecord(Schema):
    """A record of the bureau's in an area: its kind, the area named, where that is, who
    recorded it (`station_id`: its place's, to filter a listing by)."""
    id = fields.String(required=True)
    kind = fields.String(required=True)
    area_kind = fields.String(required=True)
    area_id = fields.String(required=True)
    station_id = fields.String(required=True, attribute="place.station_id")
    place = fields.Nested(PlaceOut, required=True)
    recorded_by = fields.String(required=True)


class Patrol(AreaRecord):
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)
    members = fields.List(fields.Nested(MemberOut), required=True)
    officer_ids = fields.List(fields.String(), required=True)
    person_times = fields.Function(lambda p: len(p.members), required=True)
    suspicious_persons = fields.Integer(required=True)
    suspicious_vehicles = fields.Integer(required=True)
    people_helped = fields.Integer(required=True)
    hazard_ids = fields.List(fields.String(), required=True)
    incidents = fields.List(fields.Nested(IncidentFindingOut), required=True)
    recorded_at = UtcDateTime(required=True)


class OrderOut(Schema):
    issued_at = UtcDateTime(required=True)
    deadline = UtcDateTime(required=True)
    visit_id = fields.String(required=True)


class VerificationOut(Schema):
    visit_id = fields.String(required=True)
    start = UtcDateTime(required=True)
    merged_into = fields.String(required=True, allow_none=True)


class Hazard(Schema):
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    place = fields.Nested(PlaceOut, required=True)
    kind = fields.String(required=True)
    severity = fields.String(required=True)
    source = fields.String(required=True)
    source_ref = fields.String(required=True, allow_none=True)
    description = fields.String(required=True)
    found_at = UtcDateTime(required=True)
    found_by = fields.String(required=True)
    status = fields.String(required=True)
    order = fields.Nested(OrderOut, required=True, allow_none=True)
    verification = fields.Nested(VerificationOut, required=True, allow_none=True)
    reported_at = UtcDateTime(required=True, allow_none=True)
    rectified_at = UtcDateTime(required=True, allow_none=True)
    on_time = fields.Boolean(required=True, allow_none=True)
    overdue_at = UtcDateTime(required=True, allow_none=True)
    verified_by = fields.String(required=True, allow_none=True)


class Outreach(AreaRecord):
    at = UtcDateTime(required=True)
    topic = fields.String(required=True)
    attendees = fields.Integer(required=True)
    guard_ids = fields.List(fields.String(), required=True)
    materials = fields.Integer(required=True)
