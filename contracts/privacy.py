"""What each field of each event says about a person: the classification the agencies' feeds
project events by.

Every leaf field of every catalogued event type is one of
- OPEN: pseudonymous ids of records and officers, codes, enums, times, counts, figures, and
  places and organisations (stations, parks, grids, enterprises, their addresses and credit
  codes); any agency subscribed to the type receives it;
- PERSONAL: what identifies a person or tells about one (names, badge numbers, the user who
  acted, visit participants, an officer's absences);
- TEXT: free text, which may hold anything (names, phone numbers, ID numbers).
PERSONAL and TEXT fields reach an agency only when its subscription records a legal purpose
naming them (PIPL Art. 6 and 13).

A leaf is addressed by its dotted path in the event's data; a list of nested objects is
addressed through the list, as MongoDB does (`absences.note`). A list of plain values is one
leaf.

The classification is total: a field added to an event schema is in no table until someone
decides what it is, and a unit test fails until then (meanwhile the leaf is left out of
CLASSES, so a projection drops it).
"""
from marshmallow import fields

from .events import (EVENT_SCHEMAS, AvailabilityChanged, DisputeRegistered, DisputeStep,
                     EnterpriseFacts, GridFacts, HazardFound, HazardOrder, IncidentStep,
                     NotificationIssued, OfficerFacts, OutreachHeld, ParkFacts, PatrolRecorded,
                     ReferralStep, RequestChanged, StationFacts, VisitPlanned)

OPEN, PERSONAL, TEXT = "open", "personal", "text"

# Field names that mean one thing in every event schema that has them.
NAMED = {
    OPEN: frozenset({
        # ids of records, of officers (pseudonymous: an id names a person only through the
        # PERSONAL fields of the registry's events) and of what a record refers to
        "id", "incident_id", "notification_id", "request_id", "visit_id", "dispute_id",
        "letter_id", "referral_id", "invitation_id", "case_id", "enterprise_id", "station_id",
        "park_id", "grid_id", "officer_id", "officer_ids", "a_officer_id", "b_officer_id",
        "bureau_leader_id", "station_leader_id", "area_chief_id", "merged_into",
        # the officer who acknowledged a page: an officer's id, like officer_ids (unlike
        # `actor`, which may be any user, an enterprise's staff included)
        "acknowledged_by",
        # the incident or request a dispute came from
        "source_ref",
        # the published list's model and lagging chiefs: officers' ids (see above)
        "model", "lagging",
        # codes, enums and figures
        "code", "credit_code", "level", "stage", "role", "departments", "department",
        "category", "priority", "reporter_role", "state", "status", "service_code",
        "referral", "source", "tier", "grade", "flags", "agency", "case_kind", "extra",
        "workforce", "migrant_workers", "revision", "latency_seconds", "rating",
        "amount_at_stake", "rule_version", "rules_version", "score", "satisfied", "year",
        # a grade's reasons are the rules that fired with the figures they compared, written
        # by the grading rules (the parties and their words stay in mediation)
        "reasons",
        # the organisation a report is about
        "enterprise_name",
        # times
        "valid_from", "reported_at", "sent_at", "ack_deadline", "at", "closed_at",
        "expected_at", "registered_at", "due", "expires_at", "rated_at",
        # field work: its records' ids (a guard's is pseudonymous, as an officer's), codes,
        # counts and times
        "patrol_id", "finding_id", "hazard_id", "outreach_id", "guard_id",
        "verification_visit_id", "area_kind", "area_id", "severity", "rectified_on_spot",
        "on_time", "guards", "person_times", "suspicious_persons", "suspicious_vehicles",
        "people_helped", "hazards_found", "incidents_raised", "attendees", "guards_trained",
        "materials", "found_at", "deadline",
    }),
    PERSONAL: frozenset({
        "badge_number",
        # the user who acted or reported: an officer, a mediator or an enterprise's staff
        "actor", "changed_by", "reporter_id",
        # who went on a visit: officers' ids today, but the contract names no kind of id
        # (unlike `officer_ids`), so a name or a phone number would fit it too
        "participants",
    }),
    TEXT: frozenset({
        "description", "location", "note", "purpose",
        # the contract does not hold a referral's result to REFERRAL_RESULTS (the mediation
        # domain does), so the schema promises no code
        "result",
    }),
}

# Names whose meaning depends on the schema (a station's `name` is open, an officer's is
# not), classified by path for each schema registered in the catalogue. A name is in NAMED
# or here, never both, so each leaf is classified exactly once.
BY_SCHEMA = {
    StationFacts: {"name": OPEN, "kind": OPEN, "address": OPEN},
    ParkFacts: {"name": OPEN, "address": OPEN},
    GridFacts: {"name": OPEN},
    EnterpriseFacts: {"name": OPEN, "kind": OPEN, "address": OPEN},
    OfficerFacts: {"name": PERSONAL},
    # when and why an officer is away is about the officer, not the force
    AvailabilityChanged: {"absences.kind": PERSONAL, "absences.start": PERSONAL,
                          "absences.end": PERSONAL},
    # a recipient is mostly an officer, named; the reason a page went is a code
    NotificationIssued: {"recipient.kind": OPEN, "recipient.name": PERSONAL, "reason": OPEN},
    # a sentence dispatch writes on the ladder; the contract does not restrict it
    IncidentStep: {"detail": TEXT},
    # a department's code, an officer's id or an agency's code
    RequestChanged: {"routed_to.kind": OPEN, "routed_to.target": OPEN},
    VisitPlanned: {"start": OPEN, "end": OPEN},
    PatrolRecorded: {"kind": OPEN, "start": OPEN, "end": OPEN},
    HazardFound: {"kind": OPEN},
    HazardOrder: {"kind": OPEN},
    OutreachHeld: {"kind": OPEN},
    DisputeRegistered: {"kind": OPEN},
    # codes only (see the schema)
    DisputeStep: {"detail": OPEN},
    # an agency declining a referral says why in its own words (only `done` takes a reason
    # from REFERRAL_REASONS)
    ReferralStep: {"reason": TEXT},
}


def leaf_paths(schema_cls):
    """The sorted dotted paths of every leaf field of a marshmallow schema, nested schemas
    (and lists of them) walked."""
    return sorted(_leaves(schema_cls(), ""))


def _leaves(schema, prefix):
    for name, field in schema.fields.items():
        path = prefix + (field.data_key or name)
        nested = _nested(field)
        if nested is None:
            yield path
        else:
            yield from _leaves(nested, path + ".")


def _nested(field):
    """The schema a field holds objects of, itself or as a list's items; None for a leaf."""
    if isinstance(field, fields.List):
        field = field.inner
    return field.schema if isinstance(field, fields.Nested) else None


def classify(schema_cls, path):
    """The class of a leaf of `schema_cls`, or None when no table says."""
    by_schema = BY_SCHEMA.get(schema_cls, {})
    if path in by_schema:
        return by_schema[path]
    name = path.rsplit(".", 1)[-1]
    return next((cls for cls, names in NAMED.items() if name in names), None)


def classes_of(schema_cls):
    """{path: class} of the leaves of `schema_cls` that are classified."""
    return {path: cls for path in leaf_paths(schema_cls)
            if (cls := classify(schema_cls, path)) is not None}


CLASSES = {event_type: classes_of(schema) for event_type, schema in EVENT_SCHEMAS.items()}


def protected(event_type):
    """{path: class} of the leaves of `event_type` that are not open (empty when the type is
    not catalogued)."""
    return {path: cls for path, cls in CLASSES.get(event_type, {}).items() if cls != OPEN}
