"""Projections: what a role sees of a record, as an allowlist of fields.

An agency sees no personal data (PIPL Art. 6, the minimum necessary): no officer names,
badges, ids or phones (the seat or role instead), no enterprise contact person, no free text
(descriptions, locations, notes and attributes may hold phone and ID numbers), no reporter
identity. Each view is a schema: only the fields it names are dumped, so a field added to a
record later stays hidden until a view names it.
"""
from marshmallow import Schema, fields

from contracts import events
from contracts.api import work_report
from contracts.fields import UtcDateTime


class AgencyStation(events.StationFacts):
    """A station or park post without its phone."""


class AgencyPark(events.ParkFacts):
    pass


class AgencyGrid(events.GridFacts):
    pass


class AgencyEnterprise(events.EnterpriseFacts):
    """An enterprise without its contact person."""


class AgencySeat(Schema):
    """A seat and whether it can be called, without who holds it."""
    seat = fields.String(required=True)
    role = fields.String(required=True)
    available = fields.Boolean(required=True)


class AgencyResponders(Schema):
    enterprise_id = fields.String(required=True)
    enterprise_name = fields.String(required=True)
    at = UtcDateTime(required=True)
    station = fields.Nested(AgencyStation, required=True, allow_none=True)
    to_call = fields.Nested(AgencySeat, required=True, allow_none=True)
    seats = fields.List(fields.Nested(AgencySeat), required=True)
    duty_officer = fields.Nested(AgencySeat, required=True, allow_none=True)
    departments = fields.List(fields.String(), required=True)


class AgencyRecipient(Schema):
    """Whom a page went to, by kind and role only (an officer's id and name withheld)."""
    kind = fields.String(required=True)
    role = fields.String(required=True)


class AgencyNotification(Schema):
    id = fields.String(required=True)
    recipient = fields.Nested(AgencyRecipient, required=True)
    reason = fields.String(required=True)
    sent_at = UtcDateTime(required=True)
    step = fields.Integer(required=True, allow_none=True)
    deadline = UtcDateTime(required=True, allow_none=True)


class AgencyLadderStep(AgencyRecipient):
    available = fields.Boolean(required=True)


class AgencyDepartmentCall(Schema):
    department = fields.String(required=True)
    called_at = UtcDateTime(required=True)
    acknowledged_at = UtcDateTime(required=True, allow_none=True)


class AgencyIncident(Schema):
    """An incident's course without its text, reporter, or the officers' identities."""
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    enterprise_name = fields.String(required=True)
    station_id = fields.String(required=True)
    category = fields.String(required=True)
    priority = fields.String(required=True)
    reporter_role = fields.String(required=True)
    reported_at = UtcDateTime(required=True)
    state = fields.String(required=True)
    ladder = fields.List(fields.Nested(AgencyLadderStep), required=True)
    step = fields.Integer(required=True, allow_none=True)
    deadline = UtcDateTime(required=True, allow_none=True)
    repeats = fields.Integer(required=True)
    unacknowledged = fields.Boolean(required=True)
    acknowledged_at = UtcDateTime(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)
    notifications = fields.List(fields.Nested(AgencyNotification), required=True)
    departments = fields.List(fields.Nested(AgencyDepartmentCall), required=True)
    version = fields.Integer(required=True)


class AgencyRouting(Schema):
    kind = fields.String(required=True)


class AgencyServiceRequest(Schema):
    """A request's course without its text, attributes, notes or who submitted it."""
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    service_code = fields.String(required=True)
    requested_at = UtcDateTime(required=True)
    expected_at = UtcDateTime(required=True)
    status = fields.String(required=True)
    open311_status = fields.String(required=True)
    updated_at = UtcDateTime(required=True, allow_none=True)
    routed_to = fields.Nested(AgencyRouting, required=True, allow_none=True)
    referral = fields.String(required=True, allow_none=True)
    rating = fields.Integer(required=True, allow_none=True)
    closed_at = UtcDateTime(required=True, allow_none=True)


class AgencyReferral(Schema):
    id = fields.String(required=True)
    agency = fields.String(required=True)
    state = fields.String(required=True)
    referred_at = UtcDateTime(required=True)
    result = fields.String(required=True, allow_none=True)
    acted_at = UtcDateTime(required=True, allow_none=True)


class AgencyGrade(Schema):
    grade = fields.String(required=True)
    flags = fields.List(fields.String(), required=True)
    rule_version = fields.Integer(required=True)


class AgencyDispute(Schema):
    """A dispute referred to the agency, before it accepted (or after it is done): what it is
    about and where it stands, without parties, free text or the audit log."""
    id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    station_id = fields.String(required=True)
    kind = fields.String(required=True)
    amount_at_stake = fields.Integer(required=True)
    registered_at = UtcDateTime(required=True)
    grade = fields.Nested(AgencyGrade, required=True)
    tier = fields.String(required=True)
    status = fields.String(required=True)
    referrals = fields.List(fields.Nested(AgencyReferral), required=True)
    version = fields.Integer(required=True)


class ReferredParty(Schema):
    kind = fields.String(required=True)
    side = fields.String(required=True)
    name = fields.String(required=True)
    contact = fields.String(required=True)
    headcount = fields.Integer(required=True)


class ReferredDispute(AgencyDispute):
    """A dispute as the agency holding an accepted referral of it sees it: the parties (no ID
    numbers) and the description, for the purpose of the referral and only while it lasts."""
    parties = fields.List(fields.Nested(ReferredParty), required=True)
    description = fields.String(required=True)


class ColleagueOfficer(events.OfficerFacts):
    """An officer as another officer sees them: the phone and the notes of absences only for
    colleagues (officers on an enterprise the caller also holds a seat on); otherwise the
    phone is null and the notes empty."""
    phone = fields.String(required=True, allow_none=True)
    absences = fields.List(fields.Nested(events.AbsenceFacts), required=True)


def allow(view, answer):
    """`answer` (a service's JSON answer) with only the fields `view` names, nested views
    applied to nested records; values are kept as they are."""
    if answer is None:
        return None
    kept = {}
    for name, declared in view._declared_fields.items():
        if name in answer:
            kept[name] = _allow_field(declared, answer[name])
    return kept


def _allow_field(declared, value):
    if value is None:
        return None
    if isinstance(declared, fields.Nested):
        nested = declared.nested
        return allow(nested, value) if not declared.many else [allow(nested, v) for v in value]
    if isinstance(declared, fields.List):
        return [_allow_field(declared.inner, v) for v in value]
    return value


class AgencyWorkReport(work_report.WorkReport):
    """The work report's aggregate figures only: the coverage counts without the rows (those
    name officers)."""
    coverage = fields.Nested(work_report.CoverageFigures, required=True)
