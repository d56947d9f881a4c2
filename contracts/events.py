"""One schema per event type: the contracts other services and agencies consume.

Event types are past-tense facts; the routing key on `<service>.events` is the type.
Personal data (contact names and phone numbers) never travels in events: a consumer that
needs it asks the registry through the gateway with a role that may see it.
"""
from marshmallow import Schema, fields, validate

from services.enterprise.domain import (ABSENCE_KINDS, DEPARTMENTS, ENTERPRISE_KINDS, LEVELS,
                                        OFFICER_ROLES, STAGES, STATION_KINDS)

from .fields import UtcDateTime


class StationFacts(Schema):
    """A police station or park post (no phone numbers: see the registry over HTTP)."""
    id = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(STATION_KINDS))
    address = fields.String(required=True)


class ParkFacts(Schema):
    """An industrial park and the station or post that covers it."""
    id = fields.String(required=True)
    name = fields.String(required=True)
    station_id = fields.String(required=True)
    address = fields.String(required=True)


class GridFacts(Schema):
    """A police grid: a cell of a station's area; every enterprise lies in one."""
    id = fields.String(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    station_id = fields.String(required=True)


class EnterpriseFacts(Schema):
    """An enterprise or key project, without its contact person."""
    id = fields.String(required=True)
    name = fields.String(required=True)
    credit_code = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ENTERPRISE_KINDS))
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    stage = fields.String(required=True, validate=validate.OneOf(STAGES))
    grid_id = fields.String(required=True)
    station_id = fields.String(required=True)
    park_id = fields.String(required=True, allow_none=True)
    address = fields.String(required=True)
    workforce = fields.Integer(required=True)
    migrant_workers = fields.Integer(required=True)


class OfficerFacts(Schema):
    """An officer's role, station and specialist departments, without contact data."""
    id = fields.String(required=True)
    badge_number = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(OFFICER_ROLES))
    station_id = fields.String(required=True)
    departments = fields.List(fields.String(validate=validate.OneOf(DEPARTMENTS)), required=True)


class AbsenceFacts(Schema):
    """A period an officer cannot be called: [start, end), end null while open."""
    kind = fields.String(required=True, validate=validate.OneOf(ABSENCE_KINDS))
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True, allow_none=True)
    note = fields.String(required=True)


class AvailabilityChanged(Schema):
    """An officer's absences after a change (leave taken, off duty, back on duty)."""
    officer_id = fields.String(required=True)
    badge_number = fields.String(required=True)
    absences = fields.List(fields.Nested(AbsenceFacts), required=True)


class AssignmentFacts(Schema):
    """Who holds each seat for an enterprise from valid_from on."""
    valid_from = UtcDateTime(required=True)
    a_officer_id = fields.String(required=True, allow_none=True)
    b_officer_id = fields.String(required=True, allow_none=True)
    bureau_leader_id = fields.String(required=True, allow_none=True)
    station_leader_id = fields.String(required=True, allow_none=True)
    area_chief_id = fields.String(required=True, allow_none=True)
    departments = fields.List(fields.String(validate=validate.OneOf(DEPARTMENTS)), required=True)
    changed_by = fields.String(required=True)


class AssignmentChanged(AssignmentFacts):
    """A new assignment version for an enterprise, with the one it follows."""
    enterprise_id = fields.String(required=True)
    revision = fields.Integer(required=True)
    previous = fields.Nested(AssignmentFacts, required=True, allow_none=True)


REGISTRY_SOURCE = "/services/enterprise"

# The registry's events, by type. The catalogue (contracts/asyncapi.json) is generated from this.
REGISTRY_EVENTS = {
    "station.created": StationFacts,
    "station.updated": StationFacts,
    "park.created": ParkFacts,
    "park.updated": ParkFacts,
    "grid.created": GridFacts,
    "grid.updated": GridFacts,
    "enterprise.registered": EnterpriseFacts,
    "enterprise.updated": EnterpriseFacts,
    "officer.registered": OfficerFacts,
    "officer.updated": OfficerFacts,
    "officer.availability_changed": AvailabilityChanged,
    "assignment.changed": AssignmentChanged,
}

# Every event on the platform, by the service whose exchange carries it.
CATALOGUE = {"enterprise": REGISTRY_EVENTS}
EVENT_SCHEMAS = {etype: schema for events in CATALOGUE.values() for etype, schema in events.items()}
