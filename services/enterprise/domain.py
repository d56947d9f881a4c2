"""The registry's rules: who the enterprises and officers are, and who holds which seat when.
Who responds at a given moment is worked out from them in responders.py.

Pure Python. Nothing here talks to a broker or a database; time is always a parameter.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import ClassVar

# The registry's value lists live in the contracts; they are named here too.
from contracts.vocabulary import (ABSENCE_KINDS, DEPARTMENTS, ENTERPRISE_KINDS,  # noqa: F401
                                  LEVELS, OFFICER_ROLES, STAGES, STATION_KINDS)

from .events import (AssignmentChanged, AvailabilityChanged, EnterpriseRegistered,
                     EnterpriseUpdated, GridCreated, GridUpdated, OfficerRegistered, OfficerUpdated,
                     ParkCreated, ParkUpdated, StationCreated, StationUpdated)
from .exceptions import InvalidAssignment, InvalidAvailability, InvalidEnterprise

# Which officer roles may hold each chief seat ("three chiefs" per enterprise).
CHIEF_SEATS = {
    "bureau_leader_id": ("bureau_leader",),
    "station_leader_id": ("station_chief", "team_leader"),
    "area_chief_id": ("area_chief",),
}
# A and B answer the phone themselves: leaders are chiefs, not first responders.
RESPONDER_ROLES = ("area_chief", "community_officer", "auxiliary_officer", "policy_specialist",
                   "team_leader", "station_chief")

# --- unified social credit code (GB 32100-2015) -------------------------------------------

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The check character GB 32100-2015 assigns to the first seventeen characters."""
    total = sum(CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17, _CREDIT_CODE_WEIGHTS))
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """Why `code` is not a valid unified social credit code, or None when it is."""
    if len(code) != 18:
        return f"must be 18 characters, got {len(code)}"
    bad = sorted({c for c in code if c not in CREDIT_CODE_CHARSET})
    if bad:
        return f"contains characters not allowed in a credit code: {''.join(bad)}"
    if not code[2:8].isdigit():
        return "characters 3 to 8 must be the administrative division code (digits)"
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        return f"check character is {code[17]!r}, expected {expected!r}"
    return None


# --- records ----------------------------------------------------------------------------
# Each record is an aggregate: `version` is the one it was loaded at (0: not stored yet) and
# `events` what it recorded since, written with it (see kit.collection).


class Recorded:
    """A record that records its `created` event when made by `create` and its `updated`
    event on each `update`, each time after `check` passed."""

    created: ClassVar[type]
    updated: ClassVar[type]

    @classmethod
    def create(cls, **values):
        record = cls(**values)
        record.check()
        record.events.append(cls.created(record))
        return record

    def update(self, changes: dict) -> None:
        for name, value in changes.items():
            setattr(self, name, value)
        self.check()
        self.events.append(self.updated(self))

    def check(self) -> None:
        """Raise unless the record may be stored as it is."""


@dataclass
class Station(Recorded):
    created: ClassVar[type] = StationCreated
    updated: ClassVar[type] = StationUpdated

    id: str
    name: str
    kind: str = "station"
    address: str = ""
    phone: str = ""
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)


@dataclass
class Park(Recorded):
    created: ClassVar[type] = ParkCreated
    updated: ClassVar[type] = ParkUpdated

    id: str
    name: str
    station_id: str
    address: str = ""
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)


@dataclass
class Grid(Recorded):
    created: ClassVar[type] = GridCreated
    updated: ClassVar[type] = GridUpdated

    id: str
    code: str
    name: str
    station_id: str
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)


@dataclass
class Contact:
    name: str = ""
    phone: str = ""


@dataclass
class Enterprise(Recorded):
    created: ClassVar[type] = EnterpriseRegistered
    updated: ClassVar[type] = EnterpriseUpdated

    id: str
    name: str
    credit_code: str
    kind: str
    level: str
    stage: str
    grid_id: str
    station_id: str
    park_id: str | None = None
    address: str = ""
    workforce: int = 0
    migrant_workers: int = 0
    contact: Contact = field(default_factory=Contact)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    def check(self) -> None:
        if self.migrant_workers > self.workforce:
            raise InvalidEnterprise({"migrant_workers": ["cannot exceed workforce"]})


FOREVER = datetime(9999, 12, 31)


@dataclass(frozen=True)
class Absence:
    """A period an officer cannot be called: [start, end), end None while still open."""

    kind: str
    start: datetime
    end: datetime | None = None
    note: str = ""

    def covers(self, at: datetime) -> bool:
        return self.start <= at and (self.end is None or at < self.end)


@dataclass
class Officer(Recorded):
    created: ClassVar[type] = OfficerRegistered
    updated: ClassVar[type] = OfficerUpdated

    id: str
    badge_number: str
    name: str
    role: str
    station_id: str
    departments: list[str] = field(default_factory=list)
    phone: str = ""
    absences: list[Absence] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    def absent_until(self) -> datetime | None:
        """When the last absence on record ends (FOREVER while one is open), None without
        any: the officers absent at a moment are among those absent until after it."""
        if not self.absences:
            return None
        return max(a.end or FOREVER for a in self.absences)

    def absent_at(self, at: datetime) -> Absence | None:
        """The absence that covers `at`, if any. The record holds the full history."""
        for absence in self.absences:
            if absence.covers(at):
                return absence
        return None

    def go_off_duty(self, start: datetime, end: datetime | None, note: str = "") -> None:
        if end is not None and end <= start:
            raise InvalidAvailability({"end": ["must be after start"]})
        if any(a.end is None for a in self.absences):
            raise InvalidAvailability({"status": ["officer is already off duty"]})
        self.absences.append(Absence("off_duty", start, end, note))
        self._availability_changed()

    def take_leave(self, first_day: date, last_day: date, note: str = "") -> None:
        if last_day < first_day:
            raise InvalidAvailability({"end": ["last day of leave is before the first"]})
        start = datetime.combine(first_day, time.min)
        end = datetime.combine(last_day + timedelta(days=1), time.min)
        self.absences.append(Absence("on_leave", start, end, note))
        self._availability_changed()

    def return_to_duty(self, at: datetime) -> None:
        """Close the open off-duty period and any leave still running at `at`."""
        closed = False
        for i, absence in enumerate(self.absences):
            if absence.covers(at):
                self.absences[i] = replace(absence, end=max(at, absence.start))
                closed = True
        if not closed:
            raise InvalidAvailability({"status": ["officer is already on duty"]})
        self._availability_changed()

    def _availability_changed(self) -> None:
        self.events.append(AvailabilityChanged(self.id, self.badge_number, tuple(self.absences)))


# --- assignments -------------------------------------------------------------------------

SEATS = ("a_officer_id", "b_officer_id", "bureau_leader_id", "station_leader_id", "area_chief_id")


@dataclass(frozen=True)
class AssignmentVersion:
    """Who held which seat for an enterprise from `valid_from` until the next version."""

    valid_from: datetime
    a_officer_id: str | None = None
    b_officer_id: str | None = None
    bureau_leader_id: str | None = None
    station_leader_id: str | None = None
    area_chief_id: str | None = None
    departments: tuple[str, ...] = ()
    changed_by: str = ""

    def officer_ids(self) -> set[str]:
        return {getattr(self, seat) for seat in SEATS if getattr(self, seat)}

    def chief_count(self) -> int:
        return sum(1 for seat in CHIEF_SEATS if getattr(self, seat))


@dataclass
class AssignmentHistory:
    """Every assignment an enterprise has had, oldest first; its `id` is the enterprise's.
    Versions are only ever appended, by `assign`. `holders`: the officers who may be
    responsible from the time of the last change on (see holders_from)."""

    id: str
    versions: list[AssignmentVersion] = field(default_factory=list)
    holders: list[str] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @property
    def enterprise_id(self) -> str:
        return self.id

    @property
    def revision(self) -> int:
        """How many versions the enterprise has had (the last one's number)."""
        return len(self.versions)

    def assign(self, new: AssignmentVersion, officers: dict[str, Officer],
               now: datetime) -> None:
        """Append `new` once `check_new_version` allows it (`officers`: its officers, by id),
        and record it. `now` is when the change is made, from which `holders` is counted."""
        self.check_new_version(new, officers)
        previous = self.current()
        self.versions.append(new)
        self.holders = sorted(self.holders_from(now))
        self.events.append(AssignmentChanged(self.id, self.revision, previous=previous,
                                             **vars(new)))

    def current(self) -> AssignmentVersion | None:
        return self.versions[-1] if self.versions else None

    def at(self, moment: datetime) -> AssignmentVersion | None:
        """The version in force at `moment`, or None before the first assignment."""
        found = None
        for version in self.versions:
            if version.valid_from <= moment:
                found = version
            else:
                break
        return found

    def holders_from(self, moment: datetime) -> set[str]:
        """Officers of the version in force at `moment` and of every later one: whoever can be
        responsible for the enterprise from then on."""
        in_force = self.at(moment)
        later = [v for v in self.versions if v.valid_from > moment]
        return set().union(*(v.officer_ids() for v in ([in_force] if in_force else []) + later))

    def check_new_version(self, version: AssignmentVersion, officers: dict[str, Officer]) -> None:
        """Raise InvalidAssignment unless `version` may follow the current one."""
        errors: dict[str, list[str]] = {}
        current = self.current()
        if current is not None and version.valid_from < current.valid_from:
            errors["effective_from"] = [
                f"must not be before the current assignment ({current.valid_from.isoformat()})"
            ]
        if version.a_officer_id and version.a_officer_id == version.b_officer_id:
            errors["b_officer_id"] = ["A and B must be two different officers"]
        for seat in SEATS:
            officer_id = getattr(version, seat)
            if officer_id is None:
                continue
            officer = officers.get(officer_id)
            if officer is None:
                errors.setdefault(seat, []).append(f"no officer {officer_id}")
                continue
            allowed = CHIEF_SEATS.get(seat, RESPONDER_ROLES)
            if officer.role not in allowed:
                errors.setdefault(seat, []).append(
                    f"officer {officer.badge_number} is a {officer.role}; "
                    f"this seat needs one of {', '.join(allowed)}"
                )
        if errors:
            raise InvalidAssignment(errors)

    def holdings(self) -> list[dict]:
        """Per seat, who held it from when to when (end None while still held)."""
        rows: list[dict] = []
        open_rows: dict[str, dict] = {}
        for version in self.versions:
            for seat in SEATS:
                holder = getattr(version, seat)
                row = open_rows.get(seat)
                if row is not None and row["officer_id"] == holder:
                    continue
                if row is not None:
                    row["end"] = version.valid_from
                    del open_rows[seat]
                if holder:
                    row = {"seat": seat.removesuffix("_id"), "officer_id": holder,
                           "start": version.valid_from, "end": None}
                    rows.append(row)
                    open_rows[seat] = row
        return rows
