"""Dispatch's RPC input and output, as the gateway documents and sends them: dispatch loads and
dumps through these (services.dispatch.schemas). Unknown fields are refused (marshmallow's
RAISE)."""
from datetime import datetime

from marshmallow import Schema, fields, validate

from ..events import IncidentFacts, RecipientFacts
from . import Actor  # noqa: F401  (who acts: the same for every service)
from ..fields import UtcDateTime
from ..vocabulary import (AGENCIES, CATEGORIES, DEPARTMENTS, DESCRIPTION_MAX, NOTE_MAX,
                          PRIORITIES, REQUEST_STATUSES, SERVICE_CODES, STATES)

# --- incidents ----------------------------------------------------------------------------


class IncidentInput(Schema):
    enterprise_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    description = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    location = fields.String(load_default="", validate=validate.Length(max=500))


class Reach(Schema):
    """A listing kept to these enterprises, or to cases that name this officer."""
    enterprise_ids = fields.List(fields.String(), required=True)
    officer_id = fields.String(load_default=None, allow_none=True)


class AcknowledgementInput(Schema):
    notification_id = fields.String(required=True, validate=validate.Length(min=1, max=100))


class TransitionInput(Schema):
    state = fields.String(required=True, validate=validate.OneOf(
        ("on_scene", "resolved", "referred", "cancelled")))
    note = fields.String(load_default="", validate=validate.Length(max=2000))


class DepartmentsInput(Schema):
    departments = fields.List(fields.String(validate=validate.OneOf(DEPARTMENTS)),
                              required=True, validate=validate.Length(min=1))


class IncidentFilter(Schema):
    enterprise_id = fields.String()
    officer_id = fields.String()
    state = fields.String(validate=validate.OneOf(STATES))
    reach = fields.Nested(Reach)


class Notification(Schema):
    id = fields.String(required=True)
    recipient = fields.Nested(RecipientFacts, required=True)
    reason = fields.String(required=True)
    sent_at = UtcDateTime(required=True)
    step = fields.Integer(required=True, allow_none=True)
    deadline = UtcDateTime(required=True, allow_none=True)


class AuditEntry(Schema):
    at = UtcDateTime(required=True)
    kind = fields.String(required=True)
    who = fields.String(required=True)
    detail = fields.String(required=True)


class DepartmentCall(Schema):
    department = fields.String(required=True)
    called_by = fields.String(required=True)
    called_at = UtcDateTime(required=True)
    notification_id = fields.String(required=True)
    acknowledged_by = fields.String(required=True, allow_none=True)
    acknowledged_at = UtcDateTime(required=True, allow_none=True)


class LadderStep(RecipientFacts):
    available = fields.Boolean(required=True)


class Incident(IncidentFacts):
    id = fields.String(required=True)
    state = fields.String(required=True)
    ladder = fields.List(fields.Nested(LadderStep), required=True)
    step = fields.Integer(required=True, allow_none=True)
    deadline = UtcDateTime(required=True, allow_none=True)
    repeats = fields.Integer(required=True)
    unacknowledged = fields.Boolean(required=True)
    acknowledged_by = fields.String(required=True, allow_none=True)
    acknowledged_at = UtcDateTime(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)
    notifications = fields.List(fields.Nested(Notification), required=True)
    departments = fields.List(fields.Nested(DepartmentCall), required=True)
    audit = fields.List(fields.Nested(AuditEntry), required=True)
    dispute_id = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True)


# --- requests and visits -------------------------------------------------------------------


class RequestInput(Schema):
    enterprise_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    service_code = fields.String(required=True, validate=validate.OneOf(SERVICE_CODES))
    description = fields.String(required=True,
                                validate=validate.Length(min=1, max=DESCRIPTION_MAX))
    attributes = fields.Dict(keys=fields.String(), load_default=dict)


class RequestStepInput(Schema):
    """One step of a request's course: route, start, refer, follow_up, close or rate."""

    step = fields.String(required=True, validate=validate.OneOf(
        ("route", "start", "refer", "follow_up", "close", "rate")))
    note = fields.String(load_default="", validate=validate.Length(max=NOTE_MAX))
    routed_to_kind = fields.String(validate=validate.OneOf(("officer", "department")))
    routed_to = fields.String(validate=validate.Length(min=1, max=64))
    agency = fields.String(validate=validate.OneOf(AGENCIES))
    rating = fields.Integer(validate=validate.Range(min=1, max=5))


class RequestFilter(Schema):
    enterprise_id = fields.String()
    status = fields.String(validate=validate.OneOf(REQUEST_STATUSES))
    reach = fields.Nested(Reach)


class Routing(Schema):
    kind = fields.String(required=True)
    target = fields.String(required=True)


class Note(Schema):
    at = UtcDateTime(required=True)
    by = fields.String(required=True)
    status = fields.String(required=True)
    text = fields.String(required=True)


class AttributeValues(fields.Dict):
    """A request's typed attribute values; datetimes go out as ISO 8601 UTC."""

    def _serialize(self, value, attr, obj, **kwargs):
        stamp = UtcDateTime()
        return {key: stamp._serialize(v, attr, obj) if isinstance(v, datetime) else v
                for key, v in (value or {}).items()}


class ServiceRequest(Schema):
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    service_code = fields.String(required=True)
    description = fields.String(required=True)
    attributes = AttributeValues(required=True)
    requested_at = UtcDateTime(required=True)
    expected_at = UtcDateTime(required=True)
    submitted_by = fields.String(required=True)
    status = fields.String(required=True)
    open311_status = fields.String(required=True)
    updated_at = UtcDateTime(required=True, allow_none=True)
    routed_to = fields.Nested(Routing, required=True, allow_none=True)
    referral = fields.String(required=True, allow_none=True)
    follow_ups = fields.List(fields.Nested(Note), required=True)
    status_notes = fields.List(fields.Nested(Note), required=True)
    rating = fields.Integer(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)
    dispute_id = fields.String(required=True, allow_none=True)


class VisitInput(Schema):
    enterprise_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    purpose = fields.String(required=True, validate=validate.Length(min=1, max=500))
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)


class Visit(Schema):
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    officer_id = fields.String(required=True)
    purpose = fields.String(required=True)
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)
    merged_into = fields.String(required=True, allow_none=True)
    participants = fields.List(fields.String(), required=True)


class VisitOutcome(Schema):
    outcome = fields.String(required=True)
    visit = fields.Nested(Visit, required=True)


class CadenceRow(Schema):
    enterprise_id = fields.String(required=True)
    lead_visited_this_month = fields.Boolean(required=True)
    liaison_visited_this_week = fields.Boolean(required=True)
    last_lead_visit = UtcDateTime(required=True, allow_none=True)
    last_liaison_visit = UtcDateTime(required=True, allow_none=True)
    compliant = fields.Boolean(required=True)


class ServiceAttribute(Schema):
    code = fields.String(required=True)
    datatype = fields.String(required=True)
    required = fields.Boolean(required=True)
    description = fields.String(required=True)
    values = fields.List(fields.String(), required=True)
    minimum = fields.Float(required=True, allow_none=True)


class ServiceDefinition(Schema):
    service_code = fields.String(required=True, attribute="code")
    service_name = fields.String(required=True, attribute="name")
    description = fields.String(required=True)
    handled_by = fields.String(required=True)
    expected_hours = fields.Integer(required=True)
    attributes = fields.List(fields.Nested(ServiceAttribute), required=True)
