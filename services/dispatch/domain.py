"""Incidents: one alert, three pushes; acknowledgement windows; A/B failover; the ladder.

Pure Python; time is always a parameter. An incident keeps the registry's answer of who
responds (a snapshot taken at intake), so later assignment changes do not alter a running
case. Every change records its events (services.dispatch.events) in `events`, in the order
things happened; the store writes a change only if the incident is still at the `version` it
was loaded at, so an acknowledgement and a deadline can never both win.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from contracts.vocabulary import CATEGORIES, PRIORITIES, STATES  # noqa: F401

from .events import (CaseClosed, DepartmentAcknowledged, Escalated, FailedOver,
                     FlaggedUnacknowledged, IncidentAcknowledged, IncidentReported,
                     NotificationIssued, PageMissed, StateChanged)
from .exceptions import (AckNotAllowed, AcknowledgementTooLate, IncidentClosed, NotOnCase,
                         TransitionRefused)

OPEN_STATES = ("reported", "notified", "acknowledged", "on_scene")
CLOSED_STATES = ("resolved", "referred", "cancelled")
# state -> states it may move to by an explicit command (acknowledged comes from an ack)
TRANSITIONS = {
    "notified": ("on_scene", "resolved", "referred", "cancelled"),
    "acknowledged": ("on_scene", "resolved", "referred", "cancelled"),
    "on_scene": ("resolved", "referred"),
}
# The escalation ladder, in order: the responsible pair, then the chiefs.
LADDER_SEATS = ("a_officer", "b_officer", "station_leader", "bureau_leader")


@dataclass(frozen=True)
class Policy:
    """Acknowledgement windows per priority (seconds) and how often the top is paged again."""

    windows: dict = field(default_factory=lambda: {"emergency": 120, "high": 300,
                                                   "medium": 900, "low": 3600})
    top_repeats: int = 2

    def window(self, priority) -> timedelta:
        return timedelta(seconds=float(self.windows[priority]))


@dataclass(frozen=True)
class Recipient:
    kind: str                 # officer, station or department
    id: str
    name: str
    role: str                 # a_officer, b_officer, station_leader, bureau_leader,
                              # duty_officer, station, department
    available: bool = True    # at intake, from the registry


@dataclass(frozen=True)
class Notification:
    id: str
    recipient: Recipient
    reason: str               # responsible, failover, escalation, repeat, duty, station,
                              # department
    sent_at: datetime
    step: int | None = None   # index in the ladder, for pages that wait for an ack
    deadline: datetime | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    kind: str                 # notified, skipped, acknowledged, missed, failover,
                              # escalation, repeated, flagged, state, department_called,
                              # department_acknowledged, receipt
    who: str = ""
    detail: str = ""


@dataclass(frozen=True)
class DepartmentCall:
    department: str
    called_by: str
    called_at: datetime
    notification_id: str
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None


@dataclass
class Incident:
    id: str
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
    ladder: tuple[Recipient, ...] = ()
    duty_officer: Recipient | None = None
    station: Recipient | None = None
    state: str = "reported"
    step: int | None = None
    deadline: datetime | None = None
    repeats: int = 0
    unacknowledged: bool = False
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    closed_at: datetime | None = None
    notifications: list[Notification] = field(default_factory=list)
    departments: list[DepartmentCall] = field(default_factory=list)
    audit: list[AuditEntry] = field(default_factory=list)
    dispute_id: str | None = None  # the dispute mediation made of this incident
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    # --- intake -------------------------------------------------------------------------

    @classmethod
    def report(cls, incident_id, enterprise_id, enterprise_name, station_id, category,
               priority, description, location, reporter_role, reporter_id, ladder,
               duty_officer, station, policy: Policy, now: datetime) -> "Incident":
        """A new incident, already pushed to its three recipients (the responsible officer,
        the officer on duty at the station, the station)."""
        incident = cls(incident_id, enterprise_id, enterprise_name, station_id, category,
                       priority, description, location, reporter_role, reporter_id, now,
                       tuple(ladder), duty_officer, station)
        incident.events.append(IncidentReported(
            incident.id, enterprise_id, enterprise_name, station_id, category, priority,
            description, location, reporter_role, reporter_id, now))
        incident._record(now, "state", reporter_id, "reported")
        first = incident._next_available(0, now)
        if first is None:
            incident._flag(now, "nobody responsible is available")
        else:
            incident._page(first, "responsible", policy, now)
        if duty_officer is not None:
            incident._notify(duty_officer, "duty", now)
        if station is not None:
            incident._notify(station, "station", now)
        incident.state = "notified"
        incident._record(now, "state", "", "notified")
        return incident

    # --- the ladder -----------------------------------------------------------------------

    def _next_available(self, index, now) -> int | None:
        """The first ladder step at or after `index` whose officer is there; absent ones are
        skipped without waiting (and the skip recorded)."""
        for i in range(index, len(self.ladder)):
            if self.ladder[i].available:
                return i
            self._record(now, "skipped", self.ladder[i].id, f"{self.ladder[i].role} is absent")
        return None

    def _page(self, i, reason, policy, now) -> None:
        self.step = i
        self.deadline = now + policy.window(self.priority)
        self._notify(self.ladder[i], reason, now, step=i, deadline=self.deadline)

    def deadline_passed(self, now: datetime) -> bool:
        return (self.state == "notified" and self.deadline is not None
                and self.deadline <= now)

    def fire_deadline(self, policy: Policy, now: datetime) -> None:
        """The current page was not acknowledged in time: record the miss and move on
        (A to B is a failover; beyond B, escalation; at the top, repeat, then flag)."""
        if not self.deadline_passed(now):
            raise TransitionRefused({"deadline": ["no acknowledgement deadline has passed"]})
        missed = self.ladder[self.step]
        self._step(PageMissed, now, "missed", missed.id,
                   f"{missed.role} did not acknowledge in time")
        following = self._next_available(self.step + 1, now)
        if following is not None:
            reached = self.ladder[following]
            failover = (missed.role, reached.role) == ("a_officer", "b_officer")
            kind = "failover" if failover else "escalation"
            self._step(FailedOver if failover else Escalated, now, kind, reached.id,
                       f"{missed.role} -> {reached.role}")
            self._page(following, kind, policy, now)
        elif self.repeats < policy.top_repeats:
            self.repeats += 1
            self._record(now, "repeated", missed.id, f"page {self.repeats + 1} of the top")
            self._page(self.step, "repeat", policy, now)
        else:
            self._flag(now, "the ladder was followed to the top without an acknowledgement")

    def _flag(self, now, why):
        self.deadline = None
        self.unacknowledged = True
        self._step(FlaggedUnacknowledged, now, "flagged", "", why)

    # --- acknowledgement --------------------------------------------------------------------

    def acknowledge(self, notification_id: str, officer_id: str, now: datetime) -> bool:
        """The officer acknowledges the page they received. True if this changed anything:
        acknowledging the same page twice is a no-op, so redelivery is harmless."""
        notification = self._notification(notification_id)
        if notification.recipient.kind != "officer" or notification.recipient.id != officer_id:
            raise AckNotAllowed({"notification_id": ["this page was not sent to you"]})
        if notification.step is None:  # duty officer: a receipt, not a step of the ladder
            if any(a.kind == "receipt" and a.detail == notification_id for a in self.audit):
                return False
            self._record(now, "receipt", officer_id, notification_id)
            return True
        if self.acknowledged_by == officer_id and self.state != "notified":
            return False
        if self.state in CLOSED_STATES:
            raise IncidentClosed({"state": [f"the incident is {self.state}"]})
        if self.state != "notified":
            raise AcknowledgementTooLate({"notification_id": [
                f"the incident was already acknowledged by {self.acknowledged_by}"]})
        if notification.id != self._current_page().id:
            raise AcknowledgementTooLate({"notification_id": [
                "this page timed out and the case moved on"]})
        self.state = "acknowledged"
        self.acknowledged_by = officer_id
        self.acknowledged_at = now
        self.deadline = None
        self._step(IncidentAcknowledged, now, "acknowledged", officer_id,
                   notification.recipient.role,
                   latency_seconds=(now - notification.sent_at).total_seconds())
        self._record(now, "state", officer_id, "acknowledged")
        return True

    def _current_page(self) -> Notification | None:
        pages = [n for n in self.notifications if n.step is not None]
        return pages[-1] if pages else None

    # --- the case's own course ---------------------------------------------------------------

    def move_to(self, state: str, actor: str, now: datetime, note: str = "") -> None:
        if state not in TRANSITIONS.get(self.state, ()):
            raise TransitionRefused({"state": [f"cannot go from {self.state} to {state}"]})
        self.state = state
        self.deadline = None
        if state in CLOSED_STATES:
            self.closed_at = now
        self._record(now, "state", actor, f"{state}: {note}" if note else state)
        self.events.append(StateChanged(self.id, self.enterprise_id, state, actor, now, note))
        if state in CLOSED_STATES:
            self.events.append(CaseClosed(
                self.id, self.enterprise_id, state, now, self.reported_at,
                self.acknowledged_by, sorted(self.notified_officer_ids())))

    def call_departments(self, departments, caller: str, now: datetime) -> list[Notification]:
        """"The chief blows the whistle, the departments report": notify each department
        not already on the case."""
        if self.state in CLOSED_STATES:
            raise IncidentClosed({"state": [f"the incident is {self.state}"]})
        on_case = {call.department for call in self.departments}
        sent = []
        for department in departments:
            if department in on_case:
                continue
            notification = self._notify(Recipient("department", department, department,
                                                  "department"), "department", now)
            self.departments.append(DepartmentCall(department, caller, now, notification.id))
            on_case.add(department)
            self._record(now, "department_called", caller, department)
            sent.append(notification)
        return sent

    def department_acknowledges(self, department: str, actor: str, now: datetime) -> bool:
        for i, call in enumerate(self.departments):
            if call.department == department:
                if call.acknowledged_at is not None:
                    return False
                self.departments[i] = replace(call, acknowledged_by=actor, acknowledged_at=now)
                self._record(now, "department_acknowledged", actor, department)
                self.events.append(DepartmentAcknowledged(self.id, self.enterprise_id,
                                                          department, actor, now))
                return True
        raise AckNotAllowed({"department": [f"{department} was not called to this incident"]})

    # --- who may act -------------------------------------------------------------------------

    def notified_officer_ids(self) -> set[str]:
        return {n.recipient.id for n in self.notifications if n.recipient.kind == "officer"}

    def check_may_act(self, role: str, actor_id: str, enterprise_id: str | None = None,
                      state: str | None = None, capacity: str | None = None) -> None:
        """Officers act on incidents they were notified of, and the enterprise's three chiefs
        at once (capacity "chief"); an enterprise may only cancel what it reported;
        supervisors and admins may act on any."""
        if role in ("admin", "supervisor"):
            return
        if role == "officer" and (capacity == "chief" or actor_id in self.notified_officer_ids()):
            return
        if (role == "enterprise" and state == "cancelled" and self.reporter_role == "enterprise"
                and self.enterprise_id == enterprise_id):
            return
        raise NotOnCase({"incident_id": ["you were not notified of this incident"]})

    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    # --- helpers -------------------------------------------------------------------------------

    def _notify(self, recipient, reason, now, step=None, deadline=None) -> Notification:
        notification = Notification(f"{self.id}-n{len(self.notifications) + 1}", recipient,
                                    reason, now, step, deadline)
        self.notifications.append(notification)
        self._record(now, "notified", recipient.id, f"{recipient.role} ({reason})")
        self.events.append(NotificationIssued(
            notification.id, self.id, self.enterprise_id, recipient, reason, self.category,
            self.priority, self.description, self.location, now, deadline))
        return notification

    def _notification(self, notification_id) -> Notification:
        for notification in self.notifications:
            if notification.id == notification_id:
                return notification
        raise AckNotAllowed({"notification_id": [f"no page {notification_id} in this incident"]})

    def link_dispute(self, dispute_id, now) -> bool:
        """Mediation made a dispute of this incident: keep the link (False: kept already)."""
        if self.dispute_id == dispute_id:
            return False
        self.dispute_id = dispute_id
        self._record(now, "dispute", "mediation", dispute_id)
        return True

    def _record(self, now, kind, who, detail):
        self.audit.append(AuditEntry(now, kind, who, detail))

    def _step(self, event_cls, now, kind, officer_id, detail, latency_seconds=None):
        """A step on the ladder: on the audit trail, and as an event naming the officer's
        seat on the ladder."""
        self._record(now, kind, officer_id, detail)
        roles = {r.id: r.role for r in self.ladder}
        self.events.append(event_cls(self.id, self.enterprise_id, now, officer_id,
                                     roles.get(officer_id, ""), detail, latency_seconds))


def ladder_from_responders(responders: dict) -> list[Recipient]:
    """The escalation ladder from the registry's responders answer (a plain dict)."""
    by_seat = {seat["seat"]: seat for seat in responders.get("seats", ())}
    ladder = []
    for seat in LADDER_SEATS:
        found = by_seat.get(seat)
        if found is not None:
            ladder.append(Recipient("officer", found["officer_id"], found["name"], seat,
                                    bool(found["available"])))
    return ladder
