"""One schema per event type: the contracts other services and agencies consume.

Event types are past-tense facts; the routing key on `<service>.events` is the type.
Contact data (contact people, phone numbers, ID numbers) never travels in events: a consumer
that needs it asks the registry through the gateway with a role that may see it. Some fields
are still personal (officers' names and badge numbers, who acted) or free text (descriptions,
locations, notes): contracts.privacy classifies every field, and an agency's feed carries them
only where its subscription records a purpose.
"""
from marshmallow import Schema, fields, validate

from .fields import UtcDateTime
from .vocabulary import (ABSENCE_KINDS, CATEGORIES, DEPARTMENTS, DISPUTE_KINDS,
                         DISPUTE_SOURCES, DISPUTE_STATUSES, ENTERPRISE_KINDS, HAZARD_KINDS,
                         HAZARD_SEVERITIES, HAZARD_SOURCES, HAZARD_STATUSES, LEVELS,
                         OFFICER_ROLES, OUTREACH_KINDS, PANEL_AGENCIES, PATROL_AREAS,
                         PATROL_KINDS, PRIORITIES, REFERRAL_STATES, RISK_FLAGS, RISK_GRADES,
                         STAGES, STATION_KINDS, TIERS)


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


class RecipientFacts(Schema):
    """Who a notification is addressed to: an officer, a station or a department."""

    kind = fields.String(required=True, validate=validate.OneOf(("officer", "station",
                                                                 "department")))
    id = fields.String(required=True)
    name = fields.String(required=True)
    role = fields.String(required=True)


class IncidentFacts(Schema):
    """What an incident report says."""

    enterprise_id = fields.String(required=True)
    enterprise_name = fields.String(required=True)
    station_id = fields.String(required=True)
    category = fields.String(required=True)
    priority = fields.String(required=True)
    description = fields.String(required=True)
    location = fields.String(required=True)
    reporter_role = fields.String(required=True)
    reporter_id = fields.String(required=True)
    reported_at = UtcDateTime(required=True)


class IncidentReported(IncidentFacts):
    """An enterprise-related incident was reported and taken in."""

    incident_id = fields.String(required=True)


class NotificationIssued(Schema):
    """A page addressed to one recipient; ack_deadline is set when an acknowledgement is
    awaited (the responsible chain), null for information (duty officer, station)."""

    notification_id = fields.String(required=True)
    incident_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    recipient = fields.Nested(RecipientFacts, required=True)
    reason = fields.String(required=True, validate=validate.OneOf((
        "responsible", "failover", "escalation", "repeat", "duty", "station", "department")))
    category = fields.String(required=True)
    priority = fields.String(required=True)
    description = fields.String(required=True)
    location = fields.String(required=True)
    sent_at = UtcDateTime(required=True)
    ack_deadline = UtcDateTime(required=True, allow_none=True)


class IncidentStep(Schema):
    """Something that happened on an incident's ladder (an acknowledgement, a missed page,
    a failover from A to B, an escalation, the flag at the top)."""

    incident_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    at = UtcDateTime(required=True)
    officer_id = fields.String(required=True)
    role = fields.String(required=True)
    detail = fields.String(required=True)
    latency_seconds = fields.Float(required=True, allow_none=True)


class IncidentStateChanged(Schema):
    """The incident moved to another state (on scene, resolved, referred, cancelled)."""

    incident_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    state = fields.String(required=True)
    actor = fields.String(required=True)
    at = UtcDateTime(required=True)
    note = fields.String(required=True)


class IncidentClosed(Schema):
    """The incident is over; appraisal asks the enterprise to rate the officers on it."""

    incident_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    state = fields.String(required=True)
    closed_at = UtcDateTime(required=True)
    reported_at = UtcDateTime(required=True)
    acknowledged_by = fields.String(required=True, allow_none=True)
    officer_ids = fields.List(fields.String(), required=True)


class DepartmentAcknowledged(Schema):
    """A specialist department called to an incident reported in."""

    incident_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    department = fields.String(required=True)
    actor = fields.String(required=True)
    at = UtcDateTime(required=True)


class RoutingFacts(Schema):
    kind = fields.String(required=True)
    target = fields.String(required=True)


class RequestChanged(Schema):
    """A step in an enterprise's service request (Open311-style: submitted, routed, started,
    referred to an agency, followed up, closed, rated). `request.closed` is what appraisal
    uses to ask the enterprise for a rating."""

    request_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    service_code = fields.String(required=True)
    status = fields.String(required=True)
    at = UtcDateTime(required=True)
    actor = fields.String(required=True)
    note = fields.String(required=True)
    routed_to = fields.Nested(RoutingFacts, required=True, allow_none=True)
    referral = fields.String(required=True, allow_none=True)
    expected_at = UtcDateTime(required=True)
    rating = fields.Integer(required=True, allow_none=True)


class VisitPlanned(Schema):
    """A police visit to an enterprise was planned, or merged into one already planned."""

    visit_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    officer_id = fields.String(required=True)
    purpose = fields.String(required=True)
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)
    participants = fields.List(fields.String(), required=True)
    merged_into = fields.String(required=True, allow_none=True)


class DisputeRegistered(Schema):
    """A dispute was taken in for mediation (no parties, no free text: those stay in the
    mediation service). `source_ref`: the incident or request it came from."""
    dispute_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    station_id = fields.String(required=True)
    park_id = fields.String(required=True, allow_none=True)
    grid_id = fields.String(required=True, allow_none=True)
    kind = fields.String(required=True, validate=validate.OneOf(DISPUTE_KINDS))
    amount_at_stake = fields.Integer(required=True)
    source = fields.String(required=True, validate=validate.OneOf(DISPUTE_SOURCES))
    source_ref = fields.String(required=True, allow_none=True)
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    registered_at = UtcDateTime(required=True)


class DisputeGraded(Schema):
    """A dispute was graded (dispute.graded), or its grade rose to high, critical or flagged
    (dispute.risk_flagged: dispatch pages the station's leader). `reasons` name the rules of
    version `rule_version` that fired, with the figures they compared."""
    dispute_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    station_id = fields.String(required=True)
    grade = fields.String(required=True, validate=validate.OneOf(RISK_GRADES))
    flags = fields.List(fields.String(validate=validate.OneOf(RISK_FLAGS)), required=True)
    rule_version = fields.Integer(required=True)
    reasons = fields.List(fields.String(), required=True)
    at = UtcDateTime(required=True)


class WarningLetter(Schema):
    """A risk warning letter to the township government was issued (with the deadline to
    send it) or sent."""
    dispute_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    station_id = fields.String(required=True)
    letter_id = fields.String(required=True)
    grade = fields.String(required=True, validate=validate.OneOf(RISK_GRADES))
    flags = fields.List(fields.String(validate=validate.OneOf(RISK_FLAGS)), required=True)
    due = UtcDateTime(required=True)
    at = UtcDateTime(required=True)


class DisputeStep(Schema):
    """A step of a dispute. `detail` and `extra` are codes, never free text: for escalated,
    how (decision or deadline) and the tier left; excluded, the ground; refused, the next step;
    session_recorded, the kind and outcome; agreed, the number of terms; term_performed and
    reopened, the term; deadline_passed, the deadline's name (settle, letter:N, confirmation,
    confirmation_reminder, follow_up:DAYS, term:N); extended, the days."""
    dispute_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    station_id = fields.String(required=True)
    tier = fields.String(required=True, validate=validate.OneOf(TIERS))
    status = fields.String(required=True, validate=validate.OneOf(DISPUTE_STATUSES))
    detail = fields.String(required=True)
    extra = fields.String(required=True)
    actor = fields.String(required=True)
    at = UtcDateTime(required=True)


class ReferralStep(Schema):
    """A panel's referral of a dispute to an agency was made, accepted, declined or done (with
    its result and the reason from the list)."""
    dispute_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    referral_id = fields.String(required=True)
    agency = fields.String(required=True, validate=validate.OneOf(PANEL_AGENCIES))
    state = fields.String(required=True, validate=validate.OneOf(REFERRAL_STATES))
    reason = fields.String(required=True)
    result = fields.String(required=True, allow_none=True)
    at = UtcDateTime(required=True)


class InvitationIssued(Schema):
    """The enterprise is invited to rate the officers who handled a closed case."""
    invitation_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    case_kind = fields.String(required=True, validate=validate.OneOf(("incident", "request")))
    case_id = fields.String(required=True)
    officer_ids = fields.List(fields.String(), required=True)
    expires_at = UtcDateTime(required=True)


class RatingRecorded(Schema):
    """An enterprise rated an officer on a case (the figures; its comment stays)."""
    invitation_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    officer_id = fields.String(required=True)
    score = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    satisfied = fields.Boolean(required=True)
    rated_at = UtcDateTime(required=True)


class ListStep(Schema):
    """The year's list of model and lagging chiefs was drafted, reviewed or published."""
    year = fields.Integer(required=True)
    status = fields.String(required=True,
                           validate=validate.OneOf(("draft", "reviewed", "published")))
    model = fields.List(fields.String(), required=True)
    lagging = fields.List(fields.String(), required=True)
    rules_version = fields.Integer(required=True)
    actor = fields.String(required=True)
    at = UtcDateTime(required=True)


class ObjectionRecorded(Schema):
    """An officer named on a published list objected (raised), or the objection was upheld
    or dismissed (its reasons stay in appraisal)."""
    year = fields.Integer(required=True)
    officer_id = fields.String(required=True)
    state = fields.String(required=True,
                          validate=validate.OneOf(("raised", "upheld", "dismissed")))
    at = UtcDateTime(required=True)


class PlaceFacts(Schema):
    """Where field work happened: the station whose area it is, and the park, grid and
    enterprise when it was in one."""
    station_id = fields.String(required=True)
    park_id = fields.String(required=True, allow_none=True)
    grid_id = fields.String(required=True, allow_none=True)
    enterprise_id = fields.String(required=True, allow_none=True)


class PatrolRecorded(PlaceFacts):
    """A joint patrol of police and enterprises' guards was recorded, with what it found
    (counts; the hazards and incidents it raised follow as their own events). Person-times are
    its participants, officers and guards, each once."""
    patrol_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(PATROL_KINDS))
    area_kind = fields.String(required=True, validate=validate.OneOf(PATROL_AREAS))
    area_id = fields.String(required=True)
    start = UtcDateTime(required=True)
    end = UtcDateTime(required=True)
    officer_ids = fields.List(fields.String(), required=True)
    guards = fields.Integer(required=True)
    person_times = fields.Integer(required=True)
    suspicious_persons = fields.Integer(required=True)
    suspicious_vehicles = fields.Integer(required=True)
    people_helped = fields.Integer(required=True)
    hazards_found = fields.Integer(required=True)
    incidents_raised = fields.Integer(required=True)


class PatrolIncidentRaised(Schema):
    """A patrol's finding is to be an incident: dispatch takes it in (reported by `fieldwork`,
    its reference the finding's id), under the id `incident_id`
    (contracts.identities.external_incident_id)."""
    finding_id = fields.String(required=True)
    patrol_id = fields.String(required=True)
    incident_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    description = fields.String(required=True)
    location = fields.String(required=True)
    at = UtcDateTime(required=True)


class HazardFound(PlaceFacts):
    """A hazard at an enterprise was found (by a patrol, on a visit, or reported by the
    enterprise itself); one rectified on the spot needs no order."""
    hazard_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(HAZARD_KINDS))
    severity = fields.String(required=True, validate=validate.OneOf(HAZARD_SEVERITIES))
    source = fields.String(required=True, validate=validate.OneOf(HAZARD_SOURCES))
    source_ref = fields.String(required=True, allow_none=True)
    rectified_on_spot = fields.Boolean(required=True)
    found_at = UtcDateTime(required=True)


class HazardOrder(PlaceFacts):
    """A rectification order to the enterprise, with its deadline by severity
    (hazard.order_issued: dispatch plans the verification visit `verification_visit_id`, merged
    with a visit already planned nearby), or the order passed its deadline unrectified
    (hazard.order_overdue: dispatch pages the station's leader)."""
    hazard_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(HAZARD_KINDS))
    severity = fields.String(required=True, validate=validate.OneOf(HAZARD_SEVERITIES))
    deadline = UtcDateTime(required=True)
    verification_visit_id = fields.String(required=True)
    at = UtcDateTime(required=True)


class HazardStep(PlaceFacts):
    """The enterprise reported a hazard rectified (hazard.rectification_reported), an officer
    verified it (hazard.rectified, `on_time` against the order's deadline) or found it not
    rectified (hazard.verification_failed)."""
    hazard_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(HAZARD_STATUSES))
    on_time = fields.Boolean(required=True, allow_none=True)
    actor = fields.String(required=True)
    at = UtcDateTime(required=True)


class OutreachHeld(PlaceFacts):
    """A legal-awareness session, a training (of enterprises' guards too) or a publicity
    drive was held: how many attended, guards trained, materials handed out."""
    outreach_id = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(OUTREACH_KINDS))
    at = UtcDateTime(required=True)
    attendees = fields.Integer(required=True)
    guards_trained = fields.Integer(required=True)
    materials = fields.Integer(required=True)


class GuardRegistered(Schema):
    """An enterprise's security guard joined the joint patrol team (its name stays in field
    work)."""
    guard_id = fields.String(required=True)
    enterprise_id = fields.String(required=True)
    at = UtcDateTime(required=True)


REGISTRY_SOURCE = "/services/enterprise"
DISPATCH_SOURCE = "/services/dispatch"
MEDIATION_SOURCE = "/services/mediation"
APPRAISAL_SOURCE = "/services/appraisal"
FIELDWORK_SOURCE = "/services/fieldwork"

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

DISPATCH_EVENTS = {
    "incident.reported": IncidentReported,
    "notification.issued": NotificationIssued,
    "incident.acknowledged": IncidentStep,
    "incident.page_missed": IncidentStep,
    "incident.failed_over": IncidentStep,
    "incident.escalated": IncidentStep,
    "incident.flagged_unacknowledged": IncidentStep,
    "incident.state_changed": IncidentStateChanged,
    "incident.closed": IncidentClosed,
    "department.acknowledged": DepartmentAcknowledged,
    "request.submitted": RequestChanged,
    "request.routed": RequestChanged,
    "request.started": RequestChanged,
    "request.referred": RequestChanged,
    "request.followed_up": RequestChanged,
    "request.closed": RequestChanged,
    "request.rated": RequestChanged,
    "visit.planned": VisitPlanned,
    "visit.merged": VisitPlanned,
}

MEDIATION_EVENTS = {
    "dispute.registered": DisputeRegistered,
    "dispute.graded": DisputeGraded,
    "dispute.risk_flagged": DisputeGraded,
    "dispute.warning_letter_issued": WarningLetter,
    "dispute.warning_letter_sent": WarningLetter,
    "dispute.escalated": DisputeStep,
    "dispute.extended": DisputeStep,
    "dispute.excluded": DisputeStep,
    "dispute.refused": DisputeStep,
    "dispute.session_recorded": DisputeStep,
    "dispute.agreed": DisputeStep,
    "dispute.term_performed": DisputeStep,
    "dispute.reopened": DisputeStep,
    "dispute.closed": DisputeStep,
    "dispute.deadline_passed": DisputeStep,
    "referral.created": ReferralStep,
    "referral.accepted": ReferralStep,
    "referral.declined": ReferralStep,
    "referral.done": ReferralStep,
}

APPRAISAL_EVENTS = {
    "invitation.issued": InvitationIssued,
    "rating.recorded": RatingRecorded,
    "list.drafted": ListStep,
    "list.reviewed": ListStep,
    "list.published": ListStep,
    "objection.recorded": ObjectionRecorded,
}

FIELDWORK_EVENTS = {
    "guard.registered": GuardRegistered,
    "patrol.recorded": PatrolRecorded,
    "patrol.incident_raised": PatrolIncidentRaised,
    "hazard.found": HazardFound,
    "hazard.order_issued": HazardOrder,
    "hazard.order_overdue": HazardOrder,
    "hazard.rectification_reported": HazardStep,
    "hazard.rectified": HazardStep,
    "hazard.verification_failed": HazardStep,
    "outreach.held": OutreachHeld,
}

# Every event on the platform, by the service whose exchange carries it.
CATALOGUE = {"enterprise": REGISTRY_EVENTS, "dispatch": DISPATCH_EVENTS,
             "mediation": MEDIATION_EVENTS, "appraisal": APPRAISAL_EVENTS,
             "fieldwork": FIELDWORK_EVENTS}
EVENT_SCHEMAS = {etype: schema for events in CATALOGUE.values() for etype, schema in events.items()}
