"""What dispatch's aggregates record as they change: one frozen dataclass per event type.

Each event's fields are those its contract schema (contracts/events.py) dumps, and `type` is
the contract's name; an aggregate appends its events to `events` in the order things happen,
and the store writes them with the change (kit.collection). A visit's events are about the
visit (`subject`), not the enterprise's visit book that records them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .domain import Recipient
    from .service_requests import Routing


# --- incidents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IncidentReported:
    type: ClassVar[str] = "incident.reported"
    incident_id: str
    enterprise_id: str
    enterprise_name: str
    station_id: str
    category: str
    priority: str
    description: str
    location: str
    reporter_role: str
    reporter_id: str
    reported_at: datetime


@dataclass(frozen=True)
class NotificationIssued:
    type: ClassVar[str] = "notification.issued"
    notification_id: str
    incident_id: str
    enterprise_id: str
    recipient: Recipient
    reason: str
    category: str
    priority: str
    description: str
    location: str
    sent_at: datetime
    ack_deadline: datetime | None


@dataclass(frozen=True)
class IncidentStep:
    """A step on an incident's ladder; `role` is the officer's seat on it ("" if none)."""

    incident_id: str
    enterprise_id: str
    at: datetime
    officer_id: str
    role: str
    detail: str
    latency_seconds: float | None = None


@dataclass(frozen=True)
class IncidentAcknowledged(IncidentStep):
    type: ClassVar[str] = "incident.acknowledged"


@dataclass(frozen=True)
class PageMissed(IncidentStep):
    type: ClassVar[str] = "incident.page_missed"


@dataclass(frozen=True)
class FailedOver(IncidentStep):
    type: ClassVar[str] = "incident.failed_over"


@dataclass(frozen=True)
class Escalated(IncidentStep):
    type: ClassVar[str] = "incident.escalated"


@dataclass(frozen=True)
class FlaggedUnacknowledged(IncidentStep):
    type: ClassVar[str] = "incident.flagged_unacknowledged"


@dataclass(frozen=True)
class StateChanged:
    type: ClassVar[str] = "incident.state_changed"
    incident_id: str
    enterprise_id: str
    state: str
    actor: str
    at: datetime
    note: str


@dataclass(frozen=True)
class CaseClosed:
    """The incident is over (incident.closed)."""

    type: ClassVar[str] = "incident.closed"
    incident_id: str
    enterprise_id: str
    state: str
    closed_at: datetime
    reported_at: datetime
    acknowledged_by: str | None
    officer_ids: list[str]


@dataclass(frozen=True)
class DepartmentAcknowledged:
    type: ClassVar[str] = "department.acknowledged"
    incident_id: str
    enterprise_id: str
    department: str
    actor: str
    at: datetime


# --- service requests ----------------------------------------------------------------------


@dataclass(frozen=True)
class RequestChanged:
    """A step of a request, with the request as it stands after it."""

    request_id: str
    enterprise_id: str
    service_code: str
    status: str
    at: datetime
    actor: str
    note: str
    routed_to: Routing | None
    referral: str | None
    expected_at: datetime
    rating: int | None


@dataclass(frozen=True)
class RequestSubmitted(RequestChanged):
    type: ClassVar[str] = "request.submitted"


@dataclass(frozen=True)
class RequestRouted(RequestChanged):
    type: ClassVar[str] = "request.routed"


@dataclass(frozen=True)
class RequestStarted(RequestChanged):
    type: ClassVar[str] = "request.started"


@dataclass(frozen=True)
class RequestReferred(RequestChanged):
    type: ClassVar[str] = "request.referred"


@dataclass(frozen=True)
class RequestFollowedUp(RequestChanged):
    type: ClassVar[str] = "request.followed_up"


@dataclass(frozen=True)
class RequestClosed(RequestChanged):
    type: ClassVar[str] = "request.closed"


@dataclass(frozen=True)
class RequestRated(RequestChanged):
    type: ClassVar[str] = "request.rated"


# --- visits ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class VisitPlanned:
    type: ClassVar[str] = "visit.planned"
    visit_id: str
    enterprise_id: str
    officer_id: str
    purpose: str
    start: datetime
    end: datetime
    participants: list[str]
    merged_into: str | None

    @property
    def subject(self) -> str:
        return self.visit_id


@dataclass(frozen=True)
class VisitMerged(VisitPlanned):
    """The proposal, merged into the visit `merged_into`."""

    type: ClassVar[str] = "visit.merged"


DISPATCH_EVENT_TYPES = {cls.type: cls for cls in (
    IncidentReported, NotificationIssued, IncidentAcknowledged, PageMissed, FailedOver,
    Escalated, FlaggedUnacknowledged, StateChanged, CaseClosed, DepartmentAcknowledged,
    RequestSubmitted, RequestRouted, RequestStarted, RequestReferred, RequestFollowedUp,
    RequestClosed, RequestRated, VisitPlanned, VisitMerged)}
