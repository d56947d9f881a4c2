"""The registry's RPC input and output, as the gateway documents them (and checks nothing
more): the registry loads through these, adding its own rules (services.enterprise.schemas).
Unknown fields are refused (marshmallow's RAISE)."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from .. import events
from ..fields import UtcDateTime
from ..vocabulary import (DEPARTMENTS, ENTERPRISE_KINDS, LEVELS, OFFICER_ROLES, STAGES,
                          STATION_KINDS)

_name = dict(required=True, validate=validate.Length(min=1, max=200))
_text = dict(load_default="", validate=validate.Length(max=500))
_phone = dict(load_default="", validate=validate.Regexp(r"^[0-9+\-() ]{0,20}$",
                                                        error="not a phone number"))
_ref = dict(required=True, validate=validate.Length(min=1, max=64))
_departments = fields.List(fields.String(validate=validate.OneOf(DEPARTMENTS)), load_default=list)

# --- input ----------------------------------------------------------------------------------


class StationInput(Schema):
    name = fields.String(**_name)
    kind = fields.String(required=True, validate=validate.OneOf(STATION_KINDS))
    address = fields.String(**_text)
    phone = fields.String(**_phone)


class ParkInput(Schema):
    name = fields.String(**_name)
    station_id = fields.String(**_ref)
    address = fields.String(**_text)


class GridInput(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))
    name = fields.String(**_name)
    station_id = fields.String(**_ref)


class ContactInput(Schema):
    name = fields.String(load_default="", validate=validate.Length(max=100))
    phone = fields.String(**_phone)


class EnterpriseInput(Schema):
    name = fields.String(**_name)
    credit_code = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ENTERPRISE_KINDS))
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    grid_id = fields.String(**_ref)
    park_id = fields.String(load_default=None, allow_none=True)
    address = fields.String(**_text)
    workforce = fields.Integer(load_default=0, validate=validate.Range(min=0))
    migrant_workers = fields.Integer(load_default=0, validate=validate.Range(min=0))
    contact = fields.Nested(ContactInput, load_default=dict)


class OfficerInput(Schema):
    badge_number = fields.String(required=True, validate=validate.Regexp(
        r"^[0-9A-Z]{4,12}$", error="must be 4 to 12 digits or capital letters"))
    name = fields.String(**_name)
    role = fields.String(required=True, validate=validate.OneOf(OFFICER_ROLES))
    station_id = fields.String(**_ref)
    departments = _departments
    phone = fields.String(**_phone)


class AvailabilityInput(Schema):
    """on_leave takes first_day and last_day; off_duty a start (default now) and optional end;
    on_duty ends whatever absence covers `at` (default now)."""

    status = fields.String(required=True, validate=validate.OneOf(("on_duty", "off_duty",
                                                                    "on_leave")))
    first_day = fields.Date()
    last_day = fields.Date()
    start = UtcDateTime()
    end = UtcDateTime(allow_none=True)
    at = UtcDateTime()
    note = fields.String(**_text)

    _FIELDS = {"on_leave": ("first_day", "last_day"), "off_duty": ("start", "end"),
               "on_duty": ("at",)}

    @validates_schema
    def _check_status_fields(self, data, **kwargs):
        status = data.get("status")
        if status not in self._FIELDS:
            return
        errors = {k: ["required when status is on_leave"]
                  for k in ("first_day", "last_day") if status == "on_leave" and k not in data}
        errors.update({k: [f"not used when status is {status}"]
                       for names in self._FIELDS.values() for k in names
                       if k in data and k not in self._FIELDS[status]})
        if errors:
            raise ValidationError(errors)


class AssignmentInput(Schema):
    a_officer_id = fields.String(load_default=None, allow_none=True)
    b_officer_id = fields.String(load_default=None, allow_none=True)
    bureau_leader_id = fields.String(load_default=None, allow_none=True)
    station_leader_id = fields.String(load_default=None, allow_none=True)
    area_chief_id = fields.String(load_default=None, allow_none=True)
    departments = _departments
    effective_from = UtcDateTime(load_default=None)


class EnterpriseFilter(Schema):
    station_id = fields.String()
    grid_id = fields.String()
    level = fields.String(validate=validate.OneOf(LEVELS))
    kind = fields.String(validate=validate.OneOf(ENTERPRISE_KINDS))
    ids = fields.List(fields.String())


class OfficerFilter(Schema):
    station_id = fields.String()
    role = fields.String(validate=validate.OneOf(OFFICER_ROLES))


class ImportInput(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(("enterprises", "officers",
                                                                  "assignments")))
    mode = fields.String(load_default="all_or_nothing",
                         validate=validate.OneOf(("all_or_nothing", "good_rows")))
    text = fields.String(required=True)


# --- output ---------------------------------------------------------------------------------


class Station(events.StationFacts):
    phone = fields.String(required=True)


class Park(events.ParkFacts):
    pass


class Grid(events.GridFacts):
    pass


class Contact(Schema):
    name = fields.String(required=True)
    phone = fields.String(required=True)


class Enterprise(events.EnterpriseFacts):
    contact = fields.Nested(Contact, required=True)


class Officer(events.OfficerFacts):
    phone = fields.String(required=True)
    absences = fields.List(fields.Nested(events.AbsenceFacts), required=True)


class Assignment(events.AssignmentFacts):
    pass


class Holding(Schema):
    seat = fields.String(required=True)
    officer_id = fields.String(required=True)
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True, allow_none=True)


class Assignments(Schema):
    enterprise_id = fields.String(required=True)
    revision = fields.Integer(required=True)
    current = fields.Nested(Assignment, required=True, allow_none=True)
    upcoming = fields.List(fields.Nested(Assignment), required=True)
    holdings = fields.List(fields.Nested(Holding), required=True)


class SeatStatus(Schema):
    seat = fields.String(required=True)
    officer_id = fields.String(required=True, attribute="officer.id")
    badge_number = fields.String(required=True, attribute="officer.badge_number")
    name = fields.String(required=True, attribute="officer.name")
    role = fields.String(required=True, attribute="officer.role")
    phone = fields.String(required=True, attribute="officer.phone")
    available = fields.Boolean(required=True)
    absence = fields.Nested(events.AbsenceFacts, required=True, allow_none=True)


class Responders(Schema):
    enterprise_id = fields.String(required=True, attribute="enterprise.id")
    enterprise_name = fields.String(required=True, attribute="enterprise.name")
    at = UtcDateTime(required=True)
    station = fields.Nested(Station, required=True, allow_none=True)
    to_call = fields.Nested(SeatStatus, required=True, allow_none=True)
    seats = fields.List(fields.Nested(SeatStatus), required=True)
    duty_officer = fields.Nested(SeatStatus, required=True, allow_none=True)
    departments = fields.List(fields.String(), required=True)
    holds_until = UtcDateTime(required=True, allow_none=True, metadata={
        "description": "Until when this answer holds unless the registry is edited: the next "
                       "assignment taking effect or absence starting or ending; null: none."})


class OfficerReach(Schema):
    """What an officer's work reaches now: seats per enterprise, departments, colleagues."""
    officer_id = fields.String(required=True)
    seats = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True)
    departments = fields.List(fields.String(), required=True)
    colleagues = fields.List(fields.String(), required=True)


class ResponderQuery(Schema):
    at = UtcDateTime(load_default=None)


class CoverageGap(Schema):
    enterprise_id = fields.String(required=True)
    enterprise_name = fields.String(required=True)
    station_id = fields.String(required=True)
    gaps = fields.List(fields.String(), required=True)


class Coverage(Schema):
    at = UtcDateTime(required=True)
    enterprises = fields.Integer(required=True)
    covered = fields.Integer(required=True)
    gaps = fields.List(fields.Nested(CoverageGap), required=True)


class TimelineEntry(Schema):
    event_id = fields.String(required=True)
    time = UtcDateTime(required=True)
    type = fields.String(required=True)
    source = fields.String(required=True)
    data = fields.Dict(required=True)


class EnterpriseFile(Schema):
    profile = fields.Nested(Enterprise, required=True)
    assignments = fields.Nested(Assignments, required=True)
    timeline = fields.List(fields.Nested(TimelineEntry), required=True)


class RejectedRow(Schema):
    line = fields.Integer(required=True)
    field = fields.String(required=True)
    reason = fields.String(required=True)


class ImportReport(Schema):
    kind = fields.String(required=True)
    mode = fields.String(required=True)
    rows = fields.Integer(required=True)
    imported = fields.Integer(required=True)
    rejected = fields.List(fields.Nested(RejectedRow), required=True)
