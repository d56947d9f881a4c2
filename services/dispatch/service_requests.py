"""An enterprise's service request, from submission to rating (Open311 GeoReport v2 style:
open/closed status with status notes and an expected completion; ordered online, routed,
handled on site or passed to another agency and followed up, rated online).

Pure Python; time is always a parameter. Every step records its event in `events`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

# DEPARTMENTS: police specialist departments a request can be routed to (the "N" of "1+N");
# AGENCIES: other agencies an out-of-scope request is referred to.
from contracts.vocabulary import (AGENCIES, DEPARTMENTS, DESCRIPTION_MAX, NOTE_MAX,
                                  REQUEST_STATUSES)

from .catalogue import OFFICER_HANDLERS, SERVICES, ServiceDefinition, validate_attributes
from .events import (RequestClosed, RequestFollowedUp, RequestRated, RequestReferred,
                     RequestRouted, RequestStarted, RequestSubmitted)
from .exceptions import InvalidRequest, NotOnCase, RequestTransitionNotAllowed
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
    if definition.handled_by not in OFFICER_HANDLERS:
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
    starts from, leaves a note and records its event; a refused step changes nothing."""

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
    dispute_id: str | None = None  # the dispute mediation made of this request
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    def link_dispute(self, dispute_id, now) -> bool:
        """Mediation made a dispute of this request: keep the link (False: kept already)."""
        if self.dispute_id == dispute_id:
            return False
        self.dispute_id = dispute_id
        self.updated_at = now
        return True

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
        request = cls(id=id, enterprise_id=enterprise_id, service_code=service_code,
                      description=description, attributes=cleaned, requested_at=now,
                      expected_at=now + timedelta(hours=definition.expected_hours),
                      submitted_by=actor, updated_at=now,
                      status_notes=[Note(now, actor, "submitted", "")])
        request._record(RequestSubmitted, now, actor, "")
        return request

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
        self._record(RequestRouted, now, actor, note)

    def start(self, now: datetime, actor: str, note: str = "") -> None:
        self._check_can("start")
        note = _checked_note(note)
        self._move("in_progress", now, actor, note)
        self._record(RequestStarted, now, actor, note)

    def refer(self, agency: str, now: datetime, actor: str, note: str = "") -> None:
        """Pass an out-of-scope request to another agency; it stays open and is followed up."""
        self._check_can("refer")
        if agency not in AGENCIES:
            raise InvalidRequest({"agency": [f"must be one of {', '.join(AGENCIES)}"]})
        note = _checked_note(note)
        self.referral = agency
        self.routed_to = Routing("agency", agency)
        self._move("referred", now, actor, note)
        self._record(RequestReferred, now, actor, note)

    def follow_up(self, now: datetime, actor: str, note: str) -> None:
        """Record what the agency said or did; the request stays referred."""
        self._check_can("follow up")
        note = _checked_note(note, required=True)
        self.follow_ups.append(Note(now, actor, self.status, note))
        self.updated_at = now
        self._record(RequestFollowedUp, now, actor, note)

    def close(self, now: datetime, actor: str, note: str) -> None:
        """Close with a note telling the enterprise what was done (Open311 status_notes)."""
        self._check_can("close")
        note = _checked_note(note, required=True)
        self.closed_at = now
        self._move("closed", now, actor, note)
        self._record(RequestClosed, now, actor, note)

    def check_may_take(self, step: str, role: str, enterprise_id: str | None) -> None:
        """The enterprise rates its own requests; officers and supervisors do the rest."""
        if role == "enterprise":
            if step != "rate" or enterprise_id != self.enterprise_id:
                raise NotOnCase({"step": ["an enterprise may only rate its own requests"]})
        elif step == "rate":
            raise NotOnCase({"step": ["only the enterprise rates a request"]})

    def rate(self, score: int, now: datetime, actor: str, note: str = "") -> None:
        """The enterprise's rating, 1 to 5, given once after closing; `note` goes with the
        rating's event only."""
        self._check_can("rate")
        if self.rating is not None:
            raise RequestTransitionNotAllowed(
                {"rating": [f"the request was already rated {self.rating}"]})
        if isinstance(score, bool) or not isinstance(score, int) or score not in RATINGS:
            raise InvalidRequest({"rating": ["must be a whole number from 1 to 5"]})
        note = _checked_note(note)
        self.rating = score
        self.rated_at = now
        self.updated_at = now
        self._record(RequestRated, now, actor, note)

    def _record(self, event_cls, now: datetime, actor: str, note: str) -> None:
        self.events.append(event_cls(
            self.id, self.enterprise_id, self.service_code, self.status, now, actor, note,
            self.routed_to, self.referral, self.expected_at, self.rating))
