"""The registry's use cases: plain functions over the domain and the repository they are given.

Every check happens before the first write, so a refused command changes nothing and
publishes nothing. Each change is written together with its events (see kit.storage).
"""
from dataclasses import replace

from contracts.envelope import make_envelope
from contracts.events import REGISTRY_EVENTS, REGISTRY_SOURCE
from kit.errors import RecordNotFound

from . import domain
from .domain import (AssignmentHistory, AssignmentVersion, Contact, Enterprise, Grid, Officer,
                     Park, Station, coverage_gaps, resolve_responders)
from .exceptions import (DuplicateBadgeNumber, DuplicateCreditCode, InvalidEnterprise,
                         InvalidPlace, StationNotFound, ValidationFailed)


def event(event_type, subject, data, now):
    return make_envelope(event_type, REGISTRY_SOURCE, subject, data, REGISTRY_EVENTS, now=now)


# --- stations, parks, grids -------------------------------------------------------------------

def _require(repo, record_cls, record_id, field):
    if not repo.exists(record_cls, record_id):
        raise ValidationFailed({field: [f"no {record_cls.__name__.lower()} with id {record_id}"]})


def create_station(repo, data, now):
    station = Station(id=repo.new_id(), **data)
    return repo.add(station, [event("station.created", station.id, station, now)])


def create_park(repo, data, now):
    _require(repo, Station, data["station_id"], "station_id")
    park = Park(id=repo.new_id(), **data)
    return repo.add(park, [event("park.created", park.id, park, now)])


def create_grid(repo, data, now):
    _require(repo, Station, data["station_id"], "station_id")
    grid = Grid(id=repo.new_id(), **data)
    return repo.add(grid, [event("grid.created", grid.id, grid, now)])


def update_place(repo, record_cls, record_id, changes, now):
    """Change a station, park or grid; references are checked before anything is written."""
    current = repo.get(record_cls, record_id)
    record = replace(current, **changes)
    if "station_id" in changes:
        _require(repo, Station, changes["station_id"], "station_id")
        if record.station_id != current.station_id and repo.list(Enterprise, 0, 1,
                                                                 grid_id=record_id)[1]:
            raise InvalidPlace({"station_id": [  # enterprises take their station from it
                "the grid has enterprises: move them to another grid first"]})
    event_type = f"{record_cls.__name__.lower()}.updated"
    return repo.update(record, [event(event_type, record.id, record, now)])


# --- enterprises -------------------------------------------------------------------------------

def _placed(repo, enterprise):
    """The enterprise with its station taken from its grid, after checking grid and park."""
    errors = {}
    grid = None
    if repo.exists(Grid, enterprise.grid_id):
        grid = repo.get(Grid, enterprise.grid_id)
    else:
        errors["grid_id"] = [f"no grid with id {enterprise.grid_id}"]
    if enterprise.park_id is not None and not repo.exists(Park, enterprise.park_id):
        errors["park_id"] = [f"no park with id {enterprise.park_id}"]
    if errors:
        raise InvalidEnterprise(errors)
    placed = replace(enterprise, station_id=grid.station_id)
    placed.check()
    return placed


def prepare_enterprise(repo, data, now):
    """A new enterprise and its event, checked (credit code not yet taken) but not written."""
    if repo.find_enterprise_by_credit_code(data["credit_code"]) is not None:
        raise DuplicateCreditCode("credit_code", data["credit_code"])
    contact = Contact(**data.pop("contact"))
    enterprise = _placed(repo, Enterprise(id=repo.new_id(), station_id="", contact=contact,
                                          **data))
    return enterprise, [event("enterprise.registered", enterprise.id, enterprise, now)]


def register_enterprise(repo, data, now):
    return repo.add(*prepare_enterprise(repo, data, now))


def update_enterprise(repo, enterprise_id, changes, now):
    current = repo.get(Enterprise, enterprise_id)
    if "contact" in changes:
        changes["contact"] = replace(current.contact, **changes["contact"])
    enterprise = _placed(repo, replace(current, **changes))
    return repo.update(enterprise, [event("enterprise.updated", enterprise.id, enterprise, now)])


# --- officers ----------------------------------------------------------------------------------

def prepare_officer(repo, data, now):
    """A new officer and its event, checked (badge number not yet taken) but not written."""
    if repo.find_officer_by_badge(data["badge_number"]) is not None:
        raise DuplicateBadgeNumber("badge_number", data["badge_number"])
    _require(repo, Station, data["station_id"], "station_id")
    officer = Officer(id=repo.new_id(), **data)
    return officer, [event("officer.registered", officer.id, officer, now)]


def register_officer(repo, data, now):
    return repo.add(*prepare_officer(repo, data, now))


def update_officer(repo, officer_id, changes, now):
    if "station_id" in changes:
        _require(repo, Station, changes["station_id"], "station_id")
    officer = replace(repo.get(Officer, officer_id), **changes)
    return repo.update(officer, [event("officer.updated", officer.id, officer, now)])


def change_availability(repo, officer_id, command, now):
    """Put an officer on leave, off duty, or back on duty; the history is kept."""
    officer = repo.get(Officer, officer_id)
    status = command["status"]
    if status == "on_leave":
        officer.take_leave(command["first_day"], command["last_day"], command.get("note", ""))
    elif status == "off_duty":
        officer.go_off_duty(command.get("start") or now, command.get("end"),
                            command.get("note", ""))
    else:
        officer.return_to_duty(command.get("at") or now)
    data = {"officer_id": officer.id, "badge_number": officer.badge_number,
            "absences": officer.absences}
    return repo.update(officer, [event("officer.availability_changed", officer.id, data, now)])


# --- assignments ---------------------------------------------------------------------------------

def prepare_assignment(repo, enterprise_id, command, actor, now):
    """(history, new version, events) for an assignment change, checked but not written."""
    repo.get(Enterprise, enterprise_id)
    history = repo.get_assignments(enterprise_id)
    effective_from = command.pop("effective_from") or now
    command["departments"] = tuple(dict.fromkeys(command["departments"]))
    version = AssignmentVersion(valid_from=effective_from, changed_by=actor, **command)
    officers = repo.get_officers(version.officer_ids())
    history.check_new_version(version, officers)
    previous = history.current()
    data = dict(vars(version), enterprise_id=enterprise_id, revision=history.revision + 1,
                previous=previous)
    holders = AssignmentHistory(enterprise_id, history.versions + [version]).holders_from(now)
    return history, version, [event("assignment.changed", enterprise_id, data, now)], holders


def assign(repo, enterprise_id, command, actor, now):
    """Make a new assignment version for the enterprise, effective from now or a later time."""
    history, version, events, holders = prepare_assignment(repo, enterprise_id, command, actor,
                                                           now)
    return repo.append_assignment(history, version, events, holders)


def enterprises_assigned_to(repo, officer_id, at):
    """Ids of the enterprises whose assignment in force at `at` names the officer."""
    return sorted(officer_reach(repo, officer_id, at)["seats"])


def officer_reach(repo, officer_id, at):
    """What an officer's work reaches at `at`: the seats it holds per enterprise (from the
    assignments in force), its specialist departments, and its colleagues (every officer
    holding a seat on one of those enterprises). An unknown officer reaches nothing."""
    try:
        officer = repo.get(Officer, officer_id)
    except RecordNotFound:
        return {"officer_id": officer_id, "seats": {}, "departments": [], "colleagues": []}
    seats, colleagues = {}, set()
    for history in repo.assignments_held_by(officer_id):
        version = history.at(at)
        if version is None or officer_id not in version.officer_ids():
            continue
        seats[history.enterprise_id] = [seat.removesuffix("_id") for seat in domain.SEATS
                                        if getattr(version, seat) == officer_id]
        colleagues |= version.officer_ids()
    return {"officer_id": officer_id, "seats": seats, "departments": list(officer.departments),
            "colleagues": sorted(colleagues - {officer_id})}



def assignments_view(history, now):
    """The assignment in force at `now`, those already decided for later, and every holding."""
    return {"enterprise_id": history.enterprise_id, "revision": history.revision,
            "current": history.at(now),
            "upcoming": [v for v in history.versions if v.valid_from > now],
            "holdings": history.holdings()}


def assignments_of(repo, enterprise_id, now):
    """An existing enterprise's assignments as of `now` (EnterpriseNotFound otherwise)."""
    repo.get(Enterprise, enterprise_id)
    return assignments_view(repo.get_assignments(enterprise_id), now)


def assignments_in_force(repo, now):
    """(enterprise id, version in force at `now`) for every enterprise that has one."""
    return [(enterprise_id, version) for enterprise_id, history in
            repo.all_assignments().items() if (version := history.at(now)) is not None]


def responders(repo, enterprise_id, at):
    """Who responds for the enterprise at `at`: the assignment then in force, with each
    officer's availability at that moment, and until when that answer holds unless the
    registry is edited."""
    enterprise = repo.get(Enterprise, enterprise_id)
    history = repo.get_assignments(enterprise_id)
    version = history.at(at)
    officers = repo.get_officers(version.officer_ids()) if version else {}
    try:
        station = repo.get(Station, enterprise.station_id)
    except StationNotFound:
        station = None
    on_station = repo.officers_of_station(enterprise.station_id, domain.DUTY_ROLES)
    on_duty = domain.duty_officer(on_station, version, at)
    holds_until = domain.next_change(at, history, [*officers.values(), *on_station])
    return resolve_responders(enterprise, version, officers, station, at, on_duty, holds_until)


def coverage(repo, at, enterprises=None, officers=None):
    enterprises = repo.all(Enterprise) if enterprises is None else enterprises
    officers = repo.all_officers() if officers is None else officers
    histories = repo.all_assignments()
    gaps = []
    for enterprise in enterprises:
        history = histories.get(enterprise.id)
        missing = coverage_gaps(history.at(at) if history else None, officers, at)
        if missing:
            gaps.append({"enterprise_id": enterprise.id, "enterprise_name": enterprise.name,
                         "station_id": enterprise.station_id, "gaps": missing})
    return {"at": at, "enterprises": len(enterprises),
            "covered": len(enterprises) - len(gaps), "gaps": gaps}


def registry_figures(repo, at):
    """Figures for the domain gauges: enterprises by level, officers absent, coverage gaps."""
    enterprises, officers = repo.all(Enterprise), repo.all_officers()
    by_level = dict.fromkeys(domain.LEVELS, 0)
    for enterprise in enterprises:
        by_level[enterprise.level] += 1
    absent = sum(1 for o in officers.values() if o.absent_at(at))
    gap_counts = dict.fromkeys(domain.COVERAGE_GAPS, 0)
    for row in coverage(repo, at, enterprises, officers)["gaps"]:
        for gap in row["gaps"]:
            gap_counts[gap] += 1
    return {"enterprises_by_level": by_level, "officers_absent": absent,
            "coverage_gaps": gap_counts}


def enterprise_file(repo, enterprise_id, now):
    """One enterprise, one file: profile, assignments and everything that happened to it."""
    profile = repo.get(Enterprise, enterprise_id)
    return {"profile": profile,
            "assignments": assignments_view(repo.get_assignments(enterprise_id), now),
            "timeline": repo.timeline(enterprise_id)}


def record_on_file(repo, envelope, loaded):
    """Put an event on its enterprise's file; the same event twice is recorded once.

    `envelope` is the event as received, `loaded` the same after its schema checked it."""
    enterprise_id = loaded["data"].get("enterprise_id") or loaded["subject"]
    repo.record_timeline(envelope, enterprise_id, loaded["time"])

