"""The registry's use cases: plain functions over the domain and the repository they are given.

Every check happens before the first write, so a refused command changes nothing and
publishes nothing. A record records its events as it changes and is written with them (see
kit.collection); every change goes through `change`, which retries a lost race from the new
state.
"""
from dataclasses import replace

from . import domain
from .domain import (AssignmentHistory, AssignmentVersion, Contact, Enterprise, Grid, Officer,
                     Park, Station)
from .exceptions import (DuplicateBadgeNumber, DuplicateCreditCode, InvalidEnterprise,
                         InvalidPlace, ValidationFailed)
from .responders import (DUTY_ROLES, coverage_gaps, duty_officer, next_change,
                         resolve_responders)

# --- stations, parks, grids -------------------------------------------------------------------


def _require_station(repo, station_id, field="station_id"):
    if repo.stations.find(station_id) is None:
        raise ValidationFailed({field: [f"no station with id {station_id}"]})


def create_station(repo, data):
    return repo.stations.add(Station.create(id=repo.new_id(), **data))


def create_park(repo, data):
    _require_station(repo, data["station_id"])
    return repo.parks.add(Park.create(id=repo.new_id(), **data))


def create_grid(repo, data):
    _require_station(repo, data["station_id"])
    return repo.grids.add(Grid.create(id=repo.new_id(), **data))


def update_place(repo, record_cls, record_id, changes):
    """Change a station, park or grid; references are checked before anything is written."""
    def change(place):
        if "station_id" in changes:
            _require_station(repo, changes["station_id"])
            if (isinstance(place, Grid) and changes["station_id"] != place.station_id
                    and repo.enterprises.count({"grid_id": place.id})):
                raise InvalidPlace({"station_id": [  # enterprises take their station from it
                    "the grid has enterprises: move them to another grid first"]})
        place.update(changes)

    return repo.of(record_cls).change(record_id, change)


# --- enterprises -------------------------------------------------------------------------------


def _station_of(repo, grid_id, park_id):
    """The station of an enterprise in grid `grid_id` (and park `park_id`, if given), after
    checking that both exist."""
    errors = {}
    grid = repo.grids.find(grid_id)
    if grid is None:
        errors["grid_id"] = [f"no grid with id {grid_id}"]
    if park_id is not None and repo.parks.find(park_id) is None:
        errors["park_id"] = [f"no park with id {park_id}"]
    if errors:
        raise InvalidEnterprise(errors)
    return grid.station_id


def prepare_enterprise(repo, data):
    """A new enterprise, checked (credit code not yet taken) but not written."""
    if repo.find_enterprise_by_credit_code(data["credit_code"]) is not None:
        raise DuplicateCreditCode("credit_code", data["credit_code"])
    contact = Contact(**data.pop("contact"))
    station_id = _station_of(repo, data["grid_id"], data.get("park_id"))
    return Enterprise.create(id=repo.new_id(), station_id=station_id, contact=contact, **data)


def register_enterprise(repo, data):
    return repo.enterprises.add(prepare_enterprise(repo, data))


def update_enterprise(repo, enterprise_id, changes):
    def change(enterprise):
        moved = dict(changes)
        if "contact" in moved:
            moved["contact"] = replace(enterprise.contact, **moved["contact"])
        moved["station_id"] = _station_of(repo, moved.get("grid_id", enterprise.grid_id),
                                          moved.get("park_id", enterprise.park_id))
        enterprise.update(moved)

    return repo.enterprises.change(enterprise_id, change)


# --- officers ----------------------------------------------------------------------------------


def prepare_officer(repo, data):
    """A new officer, checked (badge number not yet taken) but not written."""
    if repo.find_officer_by_badge(data["badge_number"]) is not None:
        raise DuplicateBadgeNumber("badge_number", data["badge_number"])
    _require_station(repo, data["station_id"])
    return Officer.create(id=repo.new_id(), **data)


def register_officer(repo, data):
    return repo.officers.add(prepare_officer(repo, data))


def update_officer(repo, officer_id, changes):
    def change(officer):
        if "station_id" in changes:
            _require_station(repo, changes["station_id"])
        officer.update(changes)

    return repo.officers.change(officer_id, change)


def change_availability(repo, officer_id, command, now):
    """Put an officer on leave, off duty, or back on duty; the history is kept."""
    def change(officer):
        status = command["status"]
        if status == "on_leave":
            officer.take_leave(command["first_day"], command["last_day"],
                               command.get("note", ""))
        elif status == "off_duty":
            officer.go_off_duty(command.get("start") or now, command.get("end"),
                                command.get("note", ""))
        else:
            officer.return_to_duty(command.get("at") or now)

    return repo.officers.change(officer_id, change)


# --- assignments ---------------------------------------------------------------------------------


def assignment_change(repo, enterprise_id, command, actor, now):
    """The change that appends a new assignment version to an existing enterprise's history,
    effective from `command["effective_from"]` or now; checked as it is applied."""
    repo.enterprises.get(enterprise_id)
    version = AssignmentVersion(
        valid_from=command.get("effective_from") or now, changed_by=actor,
        departments=tuple(dict.fromkeys(command.get("departments") or ())),
        **{seat: command.get(seat) for seat in domain.SEATS})

    def change(history):
        history.assign(version, repo.get_officers(version.officer_ids()), now)

    return change


def assign(repo, enterprise_id, command, actor, now):
    """Make a new assignment version for the enterprise, effective from now or a later time."""
    change = assignment_change(repo, enterprise_id, command, actor, now)
    return repo.assignments.change(enterprise_id, change, new=AssignmentHistory)


def prepare_assignment(repo, enterprise_id, command, actor, now):
    """An assignment change checked against the history as it is (nothing written): the
    function that writes it, checking again against the history then."""
    change = assignment_change(repo, enterprise_id, command, actor, now)
    change(repo.history(enterprise_id))
    return lambda: repo.assignments.change(enterprise_id, change, new=AssignmentHistory)


def enterprises_assigned_to(repo, officer_id, at):
    """Ids of the enterprises whose assignment in force at `at` names the officer."""
    return sorted(officer_reach(repo, officer_id, at)["seats"])


def officer_reach(repo, officer_id, at):
    """What an officer's work reaches at `at`: the seats it holds per enterprise (from the
    assignments in force), its specialist departments, and its colleagues (every officer
    holding a seat on one of those enterprises). An unknown officer reaches nothing."""
    officer = repo.officers.find(officer_id)
    if officer is None:
        return {"officer_id": officer_id, "seats": {}, "departments": [], "colleagues": []}
    seats, colleagues = {}, set()
    for history in repo.assignments_held_by(officer_id):
        version = history.at(at)
        if version is None or officer_id not in version.officer_ids():
            continue
        seats[history.id] = [seat.removesuffix("_id") for seat in domain.SEATS
                             if getattr(version, seat) == officer_id]
        colleagues |= version.officer_ids()
    return {"officer_id": officer_id, "seats": seats, "departments": list(officer.departments),
            "colleagues": sorted(colleagues - {officer_id})}


def assignments_view(history, now):
    """The assignment in force at `now`, those already decided for later, and every holding."""
    return {"enterprise_id": history.id, "revision": history.revision,
            "current": history.at(now),
            "upcoming": [v for v in history.versions if v.valid_from > now],
            "holdings": history.holdings()}


def assignments_of(repo, enterprise_id, now):
    """An existing enterprise's assignments as of `now` (EnterpriseNotFound otherwise)."""
    repo.enterprises.get(enterprise_id)
    return assignments_view(repo.history(enterprise_id), now)


def assignments_in_force(repo, now):
    """(enterprise id, version in force at `now`) for every enterprise that has one."""
    return [(enterprise_id, version) for enterprise_id, history in
            repo.all_assignments().items() if (version := history.at(now)) is not None]


def responders(repo, enterprise_id, at):
    """Who responds for the enterprise at `at`: the assignment then in force, with each
    officer's availability at that moment, and until when that answer holds unless the
    registry is edited."""
    enterprise = repo.enterprises.get(enterprise_id)
    history = repo.history(enterprise_id)
    version = history.at(at)
    officers = repo.get_officers(version.officer_ids()) if version else {}
    station = repo.stations.find(enterprise.station_id)
    on_station = repo.officers_of_station(enterprise.station_id, DUTY_ROLES)
    on_duty = duty_officer(on_station, version, at)
    holds_until = next_change(at, history, [*officers.values(), *on_station])
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
    """Figures for the domain gauges: enterprises by level, officers absent, coverage gaps;
    counted on indexes, so they cost the same with 60 enterprises or 33,000."""
    absent = repo.officers_absent(at)
    return {"enterprises_by_level": {level: repo.enterprises.count({"level": level})
                                     for level in domain.LEVELS},
            "officers_absent": len(absent),
            "coverage_gaps": repo.gap_figures(at, absent)}


def enterprise_file(repo, enterprise_id, now):
    """One enterprise, one file: profile, assignments and everything that happened to it."""
    profile = repo.enterprises.get(enterprise_id)
    return {"profile": profile,
            "assignments": assignments_view(repo.history(enterprise_id), now),
            "timeline": repo.timeline(enterprise_id)}


def record_on_file(repo, envelope, loaded):
    """Put an event on its enterprise's file; the same event twice is recorded once.

    `envelope` is the event as received, `loaded` the same after its schema checked it."""
    enterprise_id = loaded["data"].get("enterprise_id") or loaded["subject"]
    repo.record_timeline(envelope, enterprise_id, loaded["time"])

