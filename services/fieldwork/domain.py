"""Field work: the joint patrol team (police and enterprises' guards), the patrols it runs and
what they find, hazards and their rectification orders, and outreach. Pure Python; time is
always a parameter.

A hazard not rectified on the spot gets an order with a deadline by its severity
(RECTIFY_DAYS) and a verification check (a visit dispatch's visit coordination plans, merged
with one already planned near it). An order still unrectified at its deadline is overdue once:
dispatch pages the station's leader on it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from contracts.identities import external_incident_id, verification_visit_id
from contracts.vocabulary import RECTIFY_DAYS

from .events import (GuardRegistered, HazardFound, HazardOrder, HazardStep, OutreachHeld,
                     PatrolIncidentRaised, PatrolRecorded)
from .exceptions import HazardStepRefused, InvalidFieldWork

INCIDENT_SOURCE = "fieldwork"  # who reports a patrol's incidents to dispatch


@dataclass(frozen=True)
class Place:
    """Where a record belongs: the station whose area it is, and the park, grid and
    enterprise when it is in one."""

    station_id: str
    park_id: str | None = None
    grid_id: str | None = None
    enterprise_id: str | None = None


# --- the joint patrol team ------------------------------------------------------------------


@dataclass(frozen=True)
class Training:
    outreach_id: str
    kind: str
    at: datetime


@dataclass
class Guard:
    """An enterprise's security guard on the joint patrol team: a first responder."""

    id: str
    enterprise_id: str
    name: str
    phone: str
    registered_at: datetime
    trainings: list[Training] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def register(cls, guard_id, enterprise_id, name, phone, now) -> Guard:
        guard = cls(guard_id, enterprise_id, name, phone, now)
        guard.events.append(GuardRegistered(guard_id, enterprise_id, now))
        return guard

    def trained(self, outreach_id, kind, at) -> bool:
        """Add the training, once per outreach; False if it was there already."""
        if any(t.outreach_id == outreach_id for t in self.trainings):
            return False
        self.trainings.append(Training(outreach_id, kind, at))
        return True


# --- patrols ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    kind: str  # officer or guard
    id: str


@dataclass(frozen=True)
class IncidentFinding:
    """A finding made an incident: dispatch takes it in under `incident_id`."""

    id: str
    enterprise_id: str
    category: str
    priority: str
    incident_id: str


@dataclass
class Patrol:
    """A joint patrol: its kind, the area it covered, when, who went (person-times are its
    members, each once) and what it found."""

    id: str
    kind: str
    area_kind: str
    area_id: str
    place: Place
    start: datetime
    end: datetime
    members: list[Member]
    suspicious_persons: int
    suspicious_vehicles: int
    people_helped: int
    hazard_ids: list[str]
    incidents: list[IncidentFinding]
    recorded_by: str
    recorded_at: datetime
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @property
    def officer_ids(self) -> list[str]:
        return [m.id for m in self.members if m.kind == "officer"]

    @property
    def guard_ids(self) -> list[str]:
        return [m.id for m in self.members if m.kind == "guard"]

    @classmethod
    def record(cls, patrol_id, data, place, hazard_ids, actor, now) -> Patrol:
        """The patrol as reported (`data`: kind, area_kind, area_id, start, end, members,
        findings); each incident finding is raised to dispatch (patrol.incident_raised) with
        the id dispatch will give it. Raises InvalidFieldWork naming the field."""
        check_span(data["start"], data["end"], now)
        members = list(dict.fromkeys(Member(m["kind"], m["id"]) for m in data["members"]))
        if not any(m.kind == "officer" for m in members):
            raise InvalidFieldWork({"members": ["a patrol has at least one officer"]})
        findings = data["findings"]
        incidents = []
        for i, raised in enumerate(findings["incidents"]):
            finding_id = f"{patrol_id}/{i}"
            incidents.append(IncidentFinding(
                finding_id, raised["enterprise_id"], raised["category"], raised["priority"],
                external_incident_id(INCIDENT_SOURCE, finding_id)))
        patrol = cls(patrol_id, data["kind"], data["area_kind"], data["area_id"], place,
                     data["start"], data["end"], members, findings["suspicious_persons"],
                     findings["suspicious_vehicles"], findings["people_helped"],
                     list(hazard_ids), incidents, actor, now)
        patrol.events.append(PatrolRecorded(
            patrol_id, patrol.kind, patrol.area_kind, patrol.area_id, patrol.start, patrol.end,
            tuple(patrol.officer_ids), len(patrol.guard_ids), len(members),
            patrol.suspicious_persons, patrol.suspicious_vehicles, patrol.people_helped,
            len(hazard_ids), len(incidents), **asdict(place)))
        for finding, raised in zip(incidents, findings["incidents"]):
            patrol.events.append(PatrolIncidentRaised(
                finding.id, patrol_id, finding.incident_id, finding.enterprise_id,
                finding.category, finding.priority, raised["description"],
                raised.get("location") or "", data["end"]))
        return patrol


def check_span(start, end, now):
    if end <= start:
        raise InvalidFieldWork({"end": ["must be after start"]})
    if end - start > timedelta(days=1):
        raise InvalidFieldWork({"end": ["a patrol lasts at most a day"]})
    if start > now + timedelta(minutes=5):
        raise InvalidFieldWork({"start": ["is in the future: record a patrol once it ran"]})


# --- hazards ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    """The rectification order: its deadline, and the visit that verifies it."""

    issued_at: datetime
    deadline: datetime
    visit_id: str


@dataclass(frozen=True)
class Verification:
    """The verification visit as dispatch planned it: on its own, or merged into
    `merged_into`, a visit already planned near the deadline."""

    visit_id: str
    start: datetime
    merged_into: str | None


@dataclass
class Hazard:
    """A hazard at an enterprise, its order and how it was rectified. Status: `rectified`
    (on the spot, or verified), `ordered` (awaiting rectification), `reported_rectified`
    (the enterprise says so; a verification is due), `overdue` (the deadline passed first)."""

    id: str
    place: Place
    kind: str
    severity: str
    source: str
    source_ref: str | None
    description: str
    found_at: datetime
    found_by: str
    status: str
    order: Order | None = None
    verification: Verification | None = None
    reported_at: datetime | None = None
    rectified_at: datetime | None = None
    on_time: bool | None = None
    overdue_at: datetime | None = None
    verified_by: str | None = None
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @property
    def enterprise_id(self) -> str:
        return self.place.enterprise_id

    @property
    def next_due(self) -> datetime | None:
        """When the order next needs looking at: its deadline while it awaits rectification."""
        return self.order.deadline if self.status == "ordered" else None

    @classmethod
    def find(cls, hazard_id, place, data, source, source_ref, actor, now) -> Hazard:
        """A hazard found at `now`: rectified on the spot, or ordered rectified by the deadline
        its severity gives, with its verification visit to plan."""
        found_at = data.get("found_at") or now
        if found_at > now + timedelta(minutes=5):
            raise InvalidFieldWork({"found_at": ["is in the future"]})
        on_spot = data["rectified_on_spot"]
        hazard = cls(hazard_id, place, data["kind"], data["severity"], source, source_ref,
                     data["description"], found_at, actor,
                     "rectified" if on_spot else "ordered")
        hazard._record_found()
        if on_spot:
            hazard.rectified_at, hazard.on_time, hazard.verified_by = found_at, True, actor
            hazard._step("hazard.rectified", actor, found_at)
        else:
            deadline = found_at + timedelta(days=RECTIFY_DAYS[hazard.severity])
            hazard.order = Order(found_at, deadline, verification_visit_id(hazard_id))
            hazard._order_event("hazard.order_issued", found_at)
        return hazard

    def report_rectified(self, actor, now) -> None:
        """The enterprise (or an officer for it) says the hazard is rectified: a verification
        is then what closes it."""
        if self.status not in ("ordered", "overdue"):
            raise HazardStepRefused(self.id, self.status, "report it rectified")
        self.status, self.reported_at = "reported_rectified", now
        self._step("hazard.rectification_reported", actor, now)

    def verify(self, passed, actor, now) -> None:
        """An officer checked the rectification: passed closes the hazard (on time when it was
        reported, or found, rectified by the deadline); failed sends it back to await
        rectification (overdue when the deadline has passed)."""
        if self.status == "rectified":
            raise HazardStepRefused(self.id, self.status, "verify it again")
        self.verified_by = actor
        if passed:
            done = self.reported_at or now
            self.status, self.rectified_at = "rectified", now
            self.on_time = done <= self.order.deadline
            self._step("hazard.rectified", actor, now)
            return
        late = now >= self.order.deadline
        self.reported_at = None
        self.status = "overdue" if late or self.overdue_at else "ordered"
        self._step("hazard.verification_failed", actor, now)

    def deadline_passed(self, now) -> bool:
        """Mark the order overdue if its deadline has passed unrectified (once: dispatch pages
        the station's leader on hazard.order_overdue). False when there was nothing to do."""
        if self.status != "ordered" or now < self.order.deadline:
            return False
        self.status, self.overdue_at = "overdue", now
        self._order_event("hazard.order_overdue", now)
        return True

    def verification_planned(self, visit_id, start, merged_into) -> bool:
        """Dispatch planned the verification visit (on its own, or merged into another). False
        when the visit is not this hazard's, or this was known already."""
        if self.order is None or visit_id != self.order.visit_id:
            return False
        planned = Verification(visit_id, start, merged_into)
        if self.verification == planned:
            return False
        self.verification = planned
        return True

    # --- events ----------------------------------------------------------------------------

    def _record_found(self):
        self.events.append(HazardFound(self.id, self.kind, self.severity, self.source,
                                       self.source_ref, self.status == "rectified",
                                       self.found_at, **asdict(self.place)))

    def _order_event(self, event_type, at):
        self.events.append(HazardOrder(event_type, self.id, self.kind, self.severity,
                                       self.order.deadline, self.order.visit_id, at,
                                       **asdict(self.place)))

    def _step(self, event_type, actor, at):
        self.events.append(HazardStep(event_type, self.id, self.status, self.on_time, actor, at,
                                      **asdict(self.place)))


# --- outreach ---------------------------------------------------------------------------------


@dataclass
class Outreach:
    """A legal-awareness session, a training (guards' too) or a publicity drive: how many
    attended, which guards were trained, the materials handed out."""

    id: str
    kind: str
    area_kind: str
    area_id: str
    place: Place
    at: datetime
    topic: str
    attendees: int
    guard_ids: list[str]
    materials: int
    recorded_by: str
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def hold(cls, outreach_id, data, place, actor, now) -> Outreach:
        if data["at"] > now + timedelta(minutes=5):
            raise InvalidFieldWork({"at": ["is in the future: record outreach once held"]})
        guards = list(dict.fromkeys(data["guard_ids"]))
        if guards and data["kind"] not in ("guard_training", "training"):
            raise InvalidFieldWork({"guard_ids": ["guards are named on a training only"]})
        attendees = max(data["attendees"], len(guards))
        outreach = cls(outreach_id, data["kind"], data["area_kind"], data["area_id"], place,
                       data["at"], data["topic"], attendees, guards, data["materials"], actor)
        outreach.events.append(OutreachHeld(
            outreach_id, outreach.kind, outreach.at, attendees, len(guards), outreach.materials,
            **asdict(place)))
        return outreach
