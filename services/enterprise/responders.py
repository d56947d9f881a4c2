"""Who responds for an enterprise at a given moment, and what is missing in its cover.

Pure Python over the registry's records (domain.py); time is always a parameter.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .domain import (SEATS, Absence, AssignmentHistory, AssignmentVersion, Enterprise, Officer,
                     Station)


@dataclass(frozen=True)
class ResponderStatus:
    seat: str
    officer: Officer
    absence: Absence | None

    @property
    def available(self) -> bool:
        return self.absence is None


@dataclass(frozen=True)
class Responders:
    enterprise: Enterprise
    at: datetime
    station: Station | None
    seats: tuple[ResponderStatus, ...]
    departments: tuple[str, ...]
    duty_officer: ResponderStatus | None = None
    holds_until: datetime | None = None  # see next_change

    def seat(self, name: str) -> ResponderStatus | None:
        return next((s for s in self.seats if s.seat == name), None)

    @property
    def to_call(self) -> ResponderStatus | None:
        """A when A is there, B the moment A is absent; None when neither can be called."""
        for name in ("a_officer", "b_officer"):
            status = self.seat(name)
            if status is not None and status.available:
                return status
        return None


DUTY_ROLES = ("area_chief", "community_officer")


def duty_officer(station_officers: list[Officer], version: AssignmentVersion | None,
                 at: datetime) -> Officer | None:
    """The station's responding officer on duty at `at`: the first officer (by badge) of a
    duty role who is not absent and is not already the enterprise's A or B."""
    taken = {version.a_officer_id, version.b_officer_id} if version else set()
    for officer in sorted(station_officers, key=lambda o: o.badge_number):
        if officer.role in DUTY_ROLES and officer.id not in taken and not officer.absent_at(at):
            return officer
    return None


def resolve_responders(enterprise: Enterprise, version: AssignmentVersion | None,
                       officers: dict[str, Officer], station: Station | None,
                       at: datetime, on_duty: Officer | None = None,
                       holds_until: datetime | None = None) -> Responders:
    seats = []
    if version is not None:
        for seat in SEATS:
            officer = officers.get(getattr(version, seat) or "")
            if officer is not None:
                seats.append(ResponderStatus(seat.removesuffix("_id"), officer,
                                             officer.absent_at(at)))
    duty = ResponderStatus("duty_officer", on_duty, None) if on_duty else None
    return Responders(enterprise, at, station, tuple(seats),
                      version.departments if version else (), duty, holds_until)


def next_change(at: datetime, history: AssignmentHistory | None,
                officers: list[Officer]) -> datetime | None:
    """The first moment after `at` at which the clock alone can change who responds: the next
    assignment version taking effect, or an absence of one of `officers` (the seats and the
    station's duty officers) starting or ending. None: nothing is due to change; only an
    edit of the registry can change the answer."""
    moments = [v.valid_from for v in (history.versions if history else ()) if v.valid_from > at]
    for officer in officers:
        for absence in officer.absences:
            moments.extend(m for m in (absence.start, absence.end) if m is not None and m > at)
    return min(moments, default=None)


COVERAGE_GAPS = ("no_a_officer", "no_b_officer", "fewer_than_three_chiefs", "a_and_b_absent")


def coverage_gaps(version: AssignmentVersion | None, officers: dict[str, Officer],
                  at: datetime) -> list[str]:
    """What is missing in an enterprise's cover at `at` (an empty list means fully covered)."""
    gaps = seat_gaps(version)
    if version is not None and both_absent(version, officers, at):
        gaps.append("a_and_b_absent")
    return gaps


def seat_gaps(version: AssignmentVersion | None) -> list[str]:
    """The gaps an assignment has whoever is absent: the seats left empty."""
    if version is None:
        return list(COVERAGE_GAPS[:3])
    gaps = []
    if not version.a_officer_id:
        gaps.append("no_a_officer")
    if not version.b_officer_id:
        gaps.append("no_b_officer")
    if version.chief_count() < 3:
        gaps.append("fewer_than_three_chiefs")
    return gaps


def both_absent(version: AssignmentVersion, officers: dict[str, Officer], at: datetime) -> bool:
    pair = [officers.get(version.a_officer_id or ""), officers.get(version.b_officer_id or "")]
    return all(o is not None for o in pair) and all(o.absent_at(at) for o in pair)
