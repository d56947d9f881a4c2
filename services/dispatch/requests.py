"""Enterprises' service requests and police visits: what may be asked, how a request moves, and
how visits are merged so that an enterprise is not disturbed more than needed.

Requests follow Open311 GeoReport v2 (service codes, typed attributes, open/closed status with
status notes, expected completion) and the "order-style" service of the reports: ordered
online, routed, handled on site or passed to another agency and followed up, rated online.

Pure Python: nothing here talks to a broker or a database, and time is always a parameter.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

# DEPARTMENTS: police specialist departments a request can be routed to (the "N" of "1+N");
# AGENCIES: other agencies an out-of-scope request is referred to.
from contracts.vocabulary import (AGENCIES, DEPARTMENTS, DESCRIPTION_MAX, NOTE_MAX,
                                  REQUEST_STATUSES)

from .exceptions import (InvalidRequest, InvalidVisit, NotOnCase, RequestTransitionNotAllowed,
                         VisitRefused)


# --- service catalogue -----------------------------------------------------------------------

DATATYPES = ("string", "number", "datetime", "singlevaluelist", "multivaluelist")
# Who handles a service by default: a department, or the enterprise's liaison officer
# ("liaison"), who also takes legal consultations to the policy specialists.
HANDLERS = ("household_registration", "traffic", "public_order", "policy_specialist", "liaison")
_OFFICER_HANDLERS = ("policy_specialist", "liaison")
STRING_MAX = 500


@dataclass(frozen=True)
class AttributeDefinition:
    """One extra question a service asks (Open311 service definition attribute)."""

    code: str
    datatype: str
    required: bool = False
    description: str = ""
    values: tuple[str, ...] = ()
    minimum: float | None = None  # numbers only


@dataclass(frozen=True)
class ServiceDefinition:
    code: str
    name: str
    description: str
    handled_by: str
    expected_hours: int
    attributes: tuple[AttributeDefinition, ...] = ()
    service_notice: str = ""

    @property
    def metadata(self) -> bool:
        """Open311: whether the service asks for attributes beyond the description."""
        return bool(self.attributes)

    def attribute(self, code: str) -> AttributeDefinition | None:
        return next((a for a in self.attributes if a.code == code), None)


SERVICES: dict[str, ServiceDefinition] = {s.code: s for s in (
    ServiceDefinition(
        "household_registration", "Household registration and residence permits",
        "Hukou transfers and residence permits for the enterprise's employees, handled in "
        "batches on site.",
        handled_by="household_registration", expected_hours=72,
        attributes=(
            AttributeDefinition("applicant_count", "number", required=True,
                                description="How many employees apply", minimum=1),
            AttributeDefinition("residence_permit", "singlevaluelist",
                                description="Residence permit wanted", values=("new", "renewal")),
        ),
        service_notice="Collect each applicant's ID card and labour contract beforehand."),
    ServiceDefinition(
        "vehicle_administration", "Vehicle administration",
        "Registration, transfer, inspection and licence matters for the enterprise's fleet and "
        "drivers.",
        handled_by="traffic", expected_hours=72,
        attributes=(
            AttributeDefinition("business_kind", "singlevaluelist", required=True,
                                description="What needs doing",
                                values=("registration", "transfer", "inspection",
                                        "licence_plate", "driving_licence")),
            AttributeDefinition("vehicle_count", "number", required=True,
                                description="How many vehicles or drivers", minimum=1),
        )),
    ServiceDefinition(
        "permits", "Permits",
        "Permits the police issue: hazardous chemicals, explosives, security services; "
        "including lost permit-system accounts.",
        handled_by="public_order", expected_hours=48,
        attributes=(
            AttributeDefinition("permit_type", "singlevaluelist", required=True,
                                description="Which permit",
                                values=("hazardous_chemicals", "explosives", "security_service",
                                        "other")),
            AttributeDefinition("matter", "singlevaluelist", description="What about it",
                                values=("new_application", "renewal", "change",
                                        "account_recovery")),
        ),
        service_notice="Have the business licence and the current permit number at hand."),
    ServiceDefinition(
        "legal_consultation", "Legal consultation",
        "A question on law or police procedure, answered by a policy specialist through the "
        "liaison officer.",
        handled_by="policy_specialist", expected_hours=24,
        attributes=(
            AttributeDefinition("topic", "singlevaluelist", required=True, description="Topic",
                                values=("labour_dispute", "contract_fraud",
                                        "intellectual_property", "debt_collection",
                                        "compliance", "other")),
            AttributeDefinition("preferred_channel", "singlevaluelist",
                                description="How the answer should come",
                                values=("phone", "video", "on_site")),
        )),
    ServiceDefinition(
        "security_inspection", "Security inspection",
        "An on-site inspection of the enterprise's security arrangements, on request.",
        handled_by="public_order", expected_hours=72,
        attributes=(
            AttributeDefinition("areas", "multivaluelist", required=True,
                                description="What to inspect",
                                values=("fire_safety", "hazardous_materials", "perimeter",
                                        "cctv", "cash_handling", "dormitories")),
            AttributeDefinition("preferred_date", "datetime",
                                description="When the enterprise would like it"),
        )),
    ServiceDefinition(
        "appointment_booking", "Appointment",
        "Book a time with the liaison officer, at the enterprise or at the station.",
        handled_by="liaison", expected_hours=24,
        attributes=(
            AttributeDefinition("preferred_time", "datetime", required=True,
                                description="Preferred time (ISO 8601)"),
            AttributeDefinition("attendees", "number", description="Who will attend",
                                minimum=1),
            AttributeDefinition("topic", "string", description="What it is about"),
        )),
    ServiceDefinition(
        "other", "Other request",
        "Anything else; the liaison officer routes it or refers it to the right agency.",
        handled_by="liaison", expected_hours=48,
        attributes=(
            AttributeDefinition("urgency", "singlevaluelist", description="How urgent",
                                values=("normal", "urgent")),
        )),
)}


def _missing(value) -> bool:
    return value is None or (isinstance(value, (str, list, tuple)) and not
                             (value.strip() if isinstance(value, str) else value))


def _clean_value(definition: AttributeDefinition, value):
    """The value in its proper type; raises ValueError with the reason otherwise."""
    kind = definition.datatype
    if kind == "string":
        if not isinstance(value, str):
            raise ValueError("must be text")
        value = value.strip()
        if len(value) > STRING_MAX:
            raise ValueError(f"must be at most {STRING_MAX} characters")
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError("must be a number")
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                try:
                    value = float(value.strip())
                except ValueError:
                    raise ValueError("must be a number") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("must be a finite number")
        if definition.minimum is not None and value < definition.minimum:
            raise ValueError(f"must be at least {definition.minimum:g}")
        return value
    if kind == "datetime":
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                raise ValueError("must be an ISO 8601 date and time") from None
        elif not isinstance(value, datetime):
            raise ValueError("must be an ISO 8601 date and time")
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value
    if kind == "singlevaluelist":
        if value not in definition.values:
            raise ValueError(f"must be one of {', '.join(definition.values)}")
        return value
    if kind == "multivaluelist":
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of values")
        unknown = [v for v in value if v not in definition.values]
        if unknown:
            raise ValueError(f"{', '.join(map(str, unknown))} not among "
                             f"{', '.join(definition.values)}")
        return list(dict.fromkeys(value))
    raise ValueError(f"unknown datatype {kind}")


def validate_attributes(service_code: str, attributes: dict | None) -> dict:
    """The attributes cleaned for `service_code`: numbers as int/float, datetimes as naive UTC,
    list values checked and de-duplicated, empty optional ones left out. Raises InvalidRequest
    naming every bad attribute as "attributes.<code>"."""
    definition = SERVICES.get(service_code)
    if definition is None:
        raise InvalidRequest({"service_code": [f"unknown service {service_code!r}"]})
    if attributes is None:
        attributes = {}
    if not isinstance(attributes, dict):
        raise InvalidRequest({"attributes": ["must be a mapping of attribute code to value"]})
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for code in attributes:
        if definition.attribute(code) is None:
            errors[f"attributes.{code}"] = [f"not an attribute of {service_code}"]
    for attribute in definition.attributes:
        value = attributes.get(attribute.code)
        if _missing(value):
            if attribute.required:
                errors[f"attributes.{attribute.code}"] = ["is required"]
            continue
        try:
            cleaned[attribute.code] = _clean_value(attribute, value)
        except ValueError as reason:
            errors[f"attributes.{attribute.code}"] = [str(reason)]
    if errors:
        raise InvalidRequest(errors)
    return cleaned


# --- requests ------------------------------------------------------------------------------

STATUSES = REQUEST_STATUSES
ROUTING_KINDS = ("officer", "department", "agency")
# The statuses each step may start from.
TRANSITIONS = {
    "route": ("submitted", "routed"),
    "start": ("routed",),
    "refer": ("submitted", "routed", "in_progress"),
    "follow up": ("referred",),
    "close": ("routed", "in_progress", "referred"),
    "rate": ("closed",),
}
RATINGS = range(1, 6)


@dataclass(frozen=True)
class Routing:
    """Who holds the request: an officer (by id), a police department or another agency."""

    kind: str
    target: str

    def check(self) -> None:
        problem = None
        if self.kind not in ROUTING_KINDS:
            problem = f"kind must be one of {', '.join(ROUTING_KINDS)}"
        elif not self.target:
            problem = f"the {self.kind} is required"
        elif self.kind == "department" and self.target not in DEPARTMENTS:
            problem = f"unknown department {self.target!r}"
        elif self.kind == "agency" and self.target not in AGENCIES:
            problem = f"unknown agency {self.target!r}"
        if problem:
            raise InvalidRequest({"routed_to": [problem]})


@dataclass(frozen=True)
class Note:
    at: datetime
    by: str
    status: str
    text: str = ""


def default_routing(definition: ServiceDefinition, liaison_officer_id: str | None) -> Routing:
    """The department that handles `definition`, or the enterprise's liaison officer for
    consultations, appointments and anything else."""
    if definition.handled_by not in _OFFICER_HANDLERS:
        return Routing("department", definition.handled_by)
    if not liaison_officer_id:
        raise InvalidRequest({"routed_to": ["the enterprise has no liaison officer"]})
    return Routing("officer", liaison_officer_id)


def _checked_note(text: str, required: bool = False) -> str:
    text = (text or "").strip()
    if required and not text:
        raise InvalidRequest({"note": ["is required"]})
    if len(text) > NOTE_MAX:
        raise InvalidRequest({"note": [f"must be at most {NOTE_MAX} characters"]})
    return text


@dataclass
class ServiceRequest:
    """One enterprise request, from submission to rating. Every step checks the status it
    starts from and leaves a note; a refused step changes nothing."""

    id: str | None
    enterprise_id: str
    service_code: str
    description: str
    attributes: dict
    requested_at: datetime
    expected_at: datetime
    submitted_by: str = ""
    status: str = "submitted"
    updated_at: datetime | None = None
    routed_to: Routing | None = None
    referral: str | None = None
    follow_ups: list[Note] = field(default_factory=list)
    status_notes: list[Note] = field(default_factory=list)
    rating: int | None = None
    rated_at: datetime | None = None
    closed_at: datetime | None = None

    @classmethod
    def submit(cls, id: str | None, enterprise_id: str, service_code: str, description: str,
               attributes: dict | None, now: datetime, actor: str) -> ServiceRequest:
        """A new request, expected done `expected_hours` after `now`. Raises InvalidRequest
        naming every bad field at once."""
        errors: dict[str, list[str]] = {}
        if not enterprise_id:
            errors["enterprise_id"] = ["is required"]
        description = (description or "").strip()
        if not description:
            errors["description"] = ["is required"]
        elif len(description) > DESCRIPTION_MAX:
            errors["description"] = [f"must be at most {DESCRIPTION_MAX} characters"]
        cleaned = {}
        try:
            cleaned = validate_attributes(service_code, attributes)
        except InvalidRequest as refused:
            errors.update(refused.errors)
        if errors:
            raise InvalidRequest(errors)
        definition = SERVICES[service_code]
        return cls(id=id, enterprise_id=enterprise_id, service_code=service_code,
                   description=description, attributes=cleaned, requested_at=now,
                   expected_at=now + timedelta(hours=definition.expected_hours),
                   submitted_by=actor, updated_at=now,
                   status_notes=[Note(now, actor, "submitted", "")])

    # --- what it is ---

    @property
    def definition(self) -> ServiceDefinition:
        return SERVICES[self.service_code]

    @property
    def open311_status(self) -> str:
        return "closed" if self.status == "closed" else "open"

    def overdue(self, now: datetime) -> bool:
        """Still open after its expected completion time."""
        return self.status != "closed" and now > self.expected_at

    def open311(self) -> dict:
        """The request in GeoReport v2 field names (datetimes left as datetimes)."""
        latest = self.status_notes[-1].text if self.status_notes else ""
        return {
            "service_request_id": self.id,
            "status": self.open311_status,
            "status_notes": latest,
            "service_name": self.definition.name,
            "service_code": self.service_code,
            "description": self.description,
            "agency_responsible": self.routed_to.target if self.routed_to else None,
            "service_notice": self.definition.service_notice,
            "requested_datetime": self.requested_at,
            "updated_datetime": self.updated_at,
            "expected_datetime": self.expected_at,
        }

    # --- steps ---

    def _check_can(self, verb: str) -> None:
        if self.status not in TRANSITIONS[verb]:
            raise RequestTransitionNotAllowed(
                {"status": [f"cannot {verb} a request that is {self.status}"]})

    def _move(self, status: str, now: datetime, actor: str, note: str) -> None:
        self.status = status
        self.updated_at = now
        self.status_notes.append(Note(now, actor, status, note))

    def route(self, to: Routing, now: datetime, actor: str, note: str = "") -> None:
        """Give the request to an officer or a department; a routed request may be re-routed.
        Other agencies are reached through `refer`, which also opens the follow-up."""
        self._check_can("route")
        to.check()
        if to.kind == "agency":
            raise InvalidRequest({"routed_to": ["use refer to pass a request to an agency"]})
        note = _checked_note(note)
        self.routed_to = to
        self._move("routed", now, actor, note)

    def start(self, now: datetime, actor: str, note: str = "") -> None:
        self._check_can("start")
        self._move("in_progress", now, actor, _checked_note(note))

    def refer(self, agency: str, now: datetime, actor: str, note: str = "") -> None:
        """Pass an out-of-scope request to another agency; it stays open and is followed up."""
        self._check_can("refer")
        if agency not in AGENCIES:
            raise InvalidRequest({"agency": [f"must be one of {', '.join(AGENCIES)}"]})
        note = _checked_note(note)
        self.referral = agency
        self.routed_to = Routing("agency", agency)
        self._move("referred", now, actor, note)

    def follow_up(self, now: datetime, actor: str, note: str) -> None:
        """Record what the agency said or did; the request stays referred."""
        self._check_can("follow up")
        note = _checked_note(note, required=True)
        self.follow_ups.append(Note(now, actor, self.status, note))
        self.updated_at = now

    def close(self, now: datetime, actor: str, note: str) -> None:
        """Close with a note telling the enterprise what was done (Open311 status_notes)."""
        self._check_can("close")
        note = _checked_note(note, required=True)
        self.closed_at = now
        self._move("closed", now, actor, note)

    def check_may_take(self, step: str, role: str, enterprise_id: str | None) -> None:
        """The enterprise rates its own requests; officers and supervisors do the rest."""
        if role == "enterprise":
            if step != "rate" or enterprise_id != self.enterprise_id:
                raise NotOnCase({"step": ["an enterprise may only rate its own requests"]})
        elif step == "rate":
            raise NotOnCase({"step": ["only the enterprise rates a request"]})

    def rate(self, score: int, now: datetime, actor: str) -> None:
        """The enterprise's rating, 1 to 5, given once after closing."""
        self._check_can("rate")
        if self.rating is not None:
            raise RequestTransitionNotAllowed(
                {"rating": [f"the request was already rated {self.rating}"]})
        if isinstance(score, bool) or not isinstance(score, int) or score not in RATINGS:
            raise InvalidRequest({"rating": ["must be a whole number from 1 to 5"]})
        self.rating = score
        self.rated_at = now
        self.updated_at = now


# --- visits: reachable when needed, no visits when not -------------------------------------


@dataclass
class Visit:
    """A police visit or inspection of an enterprise over [start, end). A visit merged into
    another keeps its record with `merged_into` set; its officer joins the other's
    participants."""

    id: str | None
    enterprise_id: str
    officer_id: str
    purpose: str
    start: datetime
    end: datetime
    merged_into: str | None = None
    participants: list[str] = field(default_factory=list)

    @property
    def officers(self) -> list[str]:
        """The visiting officer and every participant, each once."""
        return list(dict.fromkeys([self.officer_id, *self.participants]))

    def check(self) -> None:
        if self.end <= self.start:
            raise InvalidVisit({"end": ["must be after start"]})


@dataclass(frozen=True)
class VisitPolicy:
    """At most `max_visits_per_period` separate visits in any `period_days` days; visits whose
    windows overlap or that start within `merge_window_hours` of each other become one."""

    max_visits_per_period: int = 4
    period_days: int = 30
    merge_window_hours: int = 24


@dataclass(frozen=True)
class PlanOutcome:
    """`kind` "planned": `visit` is the proposal as it stands. `kind` "merged": `visit` is the
    existing visit with the proposal's officers and purpose added, and `absorbed` is the
    proposal marked as merged into it."""

    kind: str
    visit: Visit
    absorbed: Visit | None = None


def _mergeable(existing: Visit, proposed: Visit, window: timedelta) -> bool:
    overlap = existing.start < proposed.end and proposed.start < existing.end
    return overlap or abs(existing.start - proposed.start) <= window


def _busiest_period(starts: list[datetime], at: datetime,
                    period: timedelta) -> tuple[int, datetime]:
    """The most `starts` in one period [a, a + period) that contains `at`, and its first day.
    Such a period can always be slid right until it begins at a start or at `at`, so those are
    the only beginnings worth trying."""
    best = (0, at)
    for begin in sorted({s for s in starts if at - period < s <= at} | {at}):
        count = sum(1 for s in starts if begin <= s < begin + period)
        if count > best[0]:
            best = (count, begin)
    return best


def plan_visit(existing: list[Visit], proposed: Visit,
               policy: VisitPolicy = VisitPolicy()) -> PlanOutcome:
    """Merge the proposal into a nearby visit to the same enterprise, or plan it if the
    enterprise has room for another visit. Inputs are not changed; the outcome holds copies.

    Merging: the nearest (by start) unmerged visit whose window overlaps the proposal's or
    starts within `merge_window_hours` of it takes the proposal's officers and purpose and keeps
    its own time. Limit: the proposal is refused when some period of `period_days` containing
    its start already holds `max_visits_per_period` unmerged visits, counting visits planned
    after it as well as before. An existing visit with the proposal's id is ignored, so a visit
    can be re-planned at a new time."""
    proposed.check()
    mine = [v for v in existing
            if v.enterprise_id == proposed.enterprise_id and v.merged_into is None
            and (proposed.id is None or v.id != proposed.id)]
    window = timedelta(hours=policy.merge_window_hours)
    near = [v for v in mine if _mergeable(v, proposed, window)]
    if near:
        host = min(near, key=lambda v: (abs(v.start - proposed.start), v.start))
        joining = [o for o in proposed.officers if o not in host.officers]
        purpose = host.purpose
        if proposed.purpose and proposed.purpose not in purpose.split("; "):
            purpose = f"{purpose}; {proposed.purpose}" if purpose else proposed.purpose
        merged = replace(host, purpose=purpose, participants=[*host.participants, *joining])
        return PlanOutcome("merged", merged, replace(proposed, merged_into=host.id,
                                                     participants=list(proposed.participants)))
    period = timedelta(days=policy.period_days)
    count, begin = _busiest_period([v.start for v in mine], proposed.start, period)
    if count >= policy.max_visits_per_period:
        raise VisitRefused({"start": [
            f"enterprise already has {count} visits in the {policy.period_days} days from "
            f"{begin:%Y-%m-%d %H:%M}; at most {policy.max_visits_per_period} are allowed"]})
    return PlanOutcome("planned", replace(proposed, participants=list(proposed.participants)))


LEAD_CADENCE_DAYS = 30  # the project's lead visits monthly
LIAISON_CADENCE_DAYS = 7  # the assigned liaison officer revisits weekly


def _last_visit(officer_id: str | None, visits: list[Visit],
                period_end: datetime) -> datetime | None:
    if not officer_id:
        return None
    return max((v.start for v in visits if v.start <= period_end and officer_id in v.officers),
               default=None)


def cadence_compliance(enterprises, visits: list[Visit], period_end: datetime,
                       lead_days: int = LEAD_CADENCE_DAYS,
                       liaison_days: int = LIAISON_CADENCE_DAYS) -> list[dict]:
    """Per (enterprise_id, lead_officer_id, liaison_officer_id), in the order given: whether the
    lead visited in the `lead_days` and the liaison officer in the `liaison_days` up to and
    including `period_end`. A visit counts for every officer on it, from its start; records
    merged into another visit are skipped, since the visit they joined carries their
    officers. An enterprise without a lead or liaison officer is not compliant."""
    by_enterprise: dict[str, list[Visit]] = {}
    for visit in visits:
        if visit.merged_into is None:
            by_enterprise.setdefault(visit.enterprise_id, []).append(visit)
    rows = []
    for enterprise_id, lead_id, liaison_id in enterprises:
        mine = by_enterprise.get(enterprise_id, [])
        last_lead = _last_visit(lead_id, mine, period_end)
        last_liaison = _last_visit(liaison_id, mine, period_end)
        lead_ok = last_lead is not None and last_lead >= period_end - timedelta(days=lead_days)
        liaison_ok = (last_liaison is not None
                      and last_liaison >= period_end - timedelta(days=liaison_days))
        rows.append({
            "enterprise_id": enterprise_id,
            "lead_visited_this_month": lead_ok,
            "liaison_visited_this_week": liaison_ok,
            "last_lead_visit": last_lead,
            "last_liaison_visit": last_liaison,
            "compliant": lead_ok and liaison_ok,
        })
    return rows
