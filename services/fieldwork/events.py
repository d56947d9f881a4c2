"""What field work records as it happens: one frozen dataclass per event shape (`type` names
the contract, contracts/events.py). No event carries a guard's name or contact, nor a finding's
words except the incident dispatch is asked to take in."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, kw_only=True)
class Placed:
    """Where the event happened (contracts.events.PlaceFacts), given by name: every event
    that carries it takes it as keywords, e.g. `**asdict(place)`."""

    station_id: str
    park_id: str | None
    grid_id: str | None
    enterprise_id: str | None


@dataclass(frozen=True)
class GuardRegistered:
    type: ClassVar[str] = "guard.registered"
    guard_id: str
    enterprise_id: str
    at: datetime


@dataclass(frozen=True)
class PatrolRecorded(Placed):
    type: ClassVar[str] = "patrol.recorded"
    patrol_id: str
    kind: str
    area_kind: str
    area_id: str
    start: datetime
    end: datetime
    officer_ids: tuple[str, ...]
    guards: int
    person_times: int
    suspicious_persons: int
    suspicious_vehicles: int
    people_helped: int
    hazards_found: int
    incidents_raised: int


@dataclass(frozen=True)
class PatrolIncidentRaised:
    type: ClassVar[str] = "patrol.incident_raised"
    finding_id: str
    patrol_id: str
    incident_id: str
    enterprise_id: str
    category: str
    priority: str
    description: str
    location: str
    at: datetime


@dataclass(frozen=True)
class HazardFound(Placed):
    type: ClassVar[str] = "hazard.found"
    hazard_id: str
    kind: str
    severity: str
    source: str
    source_ref: str | None
    rectified_on_spot: bool
    found_at: datetime


@dataclass(frozen=True)
class HazardOrder(Placed):
    """hazard.order_issued and hazard.order_overdue."""

    type: str
    hazard_id: str
    kind: str
    severity: str
    deadline: datetime
    verification_visit_id: str
    at: datetime


@dataclass(frozen=True)
class HazardStep(Placed):
    """hazard.rectification_reported, hazard.rectified and hazard.verification_failed."""

    type: str
    hazard_id: str
    status: str
    on_time: bool | None
    actor: str
    at: datetime


@dataclass(frozen=True)
class OutreachHeld(Placed):
    type: ClassVar[str] = "outreach.held"
    outreach_id: str
    kind: str
    at: datetime
    attendees: int
    guards_trained: int
    materials: int
