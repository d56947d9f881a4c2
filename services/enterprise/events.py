"""What happened in the registry, as its records record it: one event type per fact.

Each event's `type` is its contract's name (contracts.events.REGISTRY_EVENTS), and each carries
what that contract publishes: a record created or changed carries the record (its contract
dumps the record's `facts`, as it is written with the event); the others carry their fields.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar


@dataclass(frozen=True)
class RecordEvent:
    """A record was created or changed; its contract publishes the record."""

    record: Any

    @property
    def facts(self):
        return self.record


@dataclass(frozen=True)
class StationCreated(RecordEvent):
    type: ClassVar[str] = "station.created"


@dataclass(frozen=True)
class StationUpdated(RecordEvent):
    type: ClassVar[str] = "station.updated"


@dataclass(frozen=True)
class ParkCreated(RecordEvent):
    type: ClassVar[str] = "park.created"


@dataclass(frozen=True)
class ParkUpdated(RecordEvent):
    type: ClassVar[str] = "park.updated"


@dataclass(frozen=True)
class GridCreated(RecordEvent):
    type: ClassVar[str] = "grid.created"


@dataclass(frozen=True)
class GridUpdated(RecordEvent):
    type: ClassVar[str] = "grid.updated"


@dataclass(frozen=True)
class EnterpriseRegistered(RecordEvent):
    type: ClassVar[str] = "enterprise.registered"


@dataclass(frozen=True)
class EnterpriseUpdated(RecordEvent):
    type: ClassVar[str] = "enterprise.updated"


@dataclass(frozen=True)
class OfficerRegistered(RecordEvent):
    type: ClassVar[str] = "officer.registered"


@dataclass(frozen=True)
class OfficerUpdated(RecordEvent):
    type: ClassVar[str] = "officer.updated"


@dataclass(frozen=True)
class AvailabilityChanged:
    """An officer's absences after a change: leave taken, off duty, back on duty."""

    type: ClassVar[str] = "officer.availability_changed"
    officer_id: str
    badge_number: str
    absences: tuple


@dataclass(frozen=True)
class AssignmentChanged:
    """A new assignment version of an enterprise (its seats, from `valid_from` on), its
    number among the enterprise's versions, and the version it follows."""

    type: ClassVar[str] = "assignment.changed"
    enterprise_id: str
    revision: int
    valid_from: datetime
    a_officer_id: str | None
    b_officer_id: str | None
    bureau_leader_id: str | None
    station_leader_id: str | None
    area_chief_id: str | None
    departments: tuple[str, ...]
    changed_by: str
    previous: Any = None
