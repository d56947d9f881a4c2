"""The registry's use cases on the in-memory store: what each command stores and publishes,
what it refuses (storing and publishing nothing), and the CSV import."""
from datetime import date, datetime, timedelta

import pytest

from contracts.envelope import open_envelope
from contracts.events import REGISTRY_EVENTS, REGISTRY_SOURCE
from kit.collection import Events
from kit.tables import MemoryDatabase, MemoryTable
from kit.testing import of_type, published
from services.enterprise import handlers
from services.enterprise.domain import Contact, Enterprise, Grid, credit_code_check_char
from services.enterprise.exceptions import (AssignmentChangedMeanwhile, DuplicateBadgeNumber,
                                            DuplicateCreditCode, EnterpriseNotFound,
                                            InvalidAssignment, InvalidAvailability,
                                            InvalidEnterprise, InvalidPlace,
                                            OfficerNotFound, ValidationFailed)
from services.enterprise.store import Repository

NOW = datetime(2025, 4, 15, 8, 30)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
def repo():
    repository = Repository(MemoryDatabase(), events=Events(REGISTRY_SOURCE, REGISTRY_EVENTS,
                                                            clock=lambda: NOW))
    repository.ensure_indexes()
    return repository


def credit_code(n):
    first17 = f"91350100MA{n:07d}"
    return first17 + credit_code_check_char(first17)


def events(repo, since=0):
    """The events stored so far (after the first `since`), each checked against its contract."""
    found = published(repo.unit)[since:]
    for envelope in found:
        open_envelope(envelope, REGISTRY_EVENTS)
        assert envelope["source"] == REGISTRY_SOURCE and envelope["time"] == "2025-04-15T08:30:00Z"
    return found


@pytest.fixture
def places(repo):
    station = handlers.create_station(repo, {"name": "Gulou Station", "kind": "station",
                                             "address": "1 Gulou Road", "phone": "110"})
    park = handlers.create_park(repo, {"name": "Software Park", "station_id": station.id,
                                       "address": ""})
    grid = handlers.create_grid(repo, {"code": "G01", "name": "Riverside",
                                       "station_id": station.id})
    return {"station": station, "park": park, "grid": grid}


def enterprise_data(places, n=1, **changes):
    data = {"name": f"Works {n}", "credit_code": credit_code(n), "kind": "enterprise",
            "level": "other", "stage": "production", "grid_id": places["grid"].id,
            "park_id": None, "address": "", "workforce": 10, "migrant_workers": 0,
            "contact": {"name": "Chen Li", "phone": "13800000000"}}
    data.update(changes)
    return data


def officer_data(places, badge, role="community_officer", departments=()):
    return {"badge_number": badge, "name": badge, "role": role,
            "station_id": places["station"].id, "departments": list(departments),
            "phone": "13900000000"}


# --- what each command publishes -------------------------------------------------------------


def test_places_publish_their_facts_when_created_and_updated(repo, places):
    handlers.update_place(repo, Grid, places["grid"].id, {"name": "Riverbank"})

    assert [(e["type"], e["subject"], e["data"]) for e in events(repo)] == [
        ("station.created", places["station"].id,
         {"id": places["station"].id, "name": "Gulou Station", "kind": "station",
          "address": "1 Gulou Road"}),
        ("park.created", places["park"].id,
         {"id": places["park"].id, "name": "Software Park",
          "station_id": places["station"].id, "address": ""}),
        ("grid.created", places["grid"].id,
         {"id": places["grid"].id, "code": "G01", "name": "Riverside",
          "station_id": places["station"].id}),
        ("grid.updated", places["grid"].id,
         {"id": places["grid"].id, "code": "G01", "name": "Riverbank",
          "station_id": places["station"].id}),
    ]
    assert repo.grids.get(places["grid"].id).version == 2


def test_an_enterprise_takes_its_station_from_its_grid_and_its_events_leave_out_the_contact(
        repo, places):
    enterprise = handlers.register_enterprise(repo, enterprise_data(places))
    updated = handlers.update_enterprise(repo, enterprise.id,
                                         {"workforce": 40, "contact": {"phone": "110"}})

    assert enterprise.station_id == places["station"].id
    assert updated.contact == Contact(name="Chen Li", phone="110")
    registered, changed = of_type(events(repo), "enterprise.registered") + \
        of_type(events(repo), "enterprise.updated")
    assert registered["subject"] == enterprise.id
    assert registered["data"]["credit_code"] == credit_code(1)
    assert changed["data"]["workforce"] == 40
    assert "contact" not in registered["data"] and "contact" not in changed["data"]


def test_an_officers_availability_publishes_every_absence(repo, places):
    officer = handlers.register_officer(repo, officer_data(places, "A1001"))
    handlers.change_availability(repo, officer.id, {"status": "on_leave",
                                                    "first_day": date(2025, 4, 16),
                                                    "last_day": date(2025, 4, 17)}, NOW)
    back = handlers.change_availability(repo, officer.id, {"status": "off_duty"}, NOW)

    [first, second] = of_type(events(repo), "officer.availability_changed")
    assert first["data"] == {"officer_id": officer.id, "badge_number": "A1001", "absences": [
        {"kind": "on_leave", "start": "2025-04-16T00:00:00Z", "end": "2025-04-18T00:00:00Z",
         "note": ""}]}
    assert [a["kind"] for a in second["data"]["absences"]] == ["on_leave", "off_duty"]
    assert back.absent_at(NOW).kind == "off_duty" and back.version == 3
    with pytest.raises(InvalidAvailability):
        handlers.change_availability(repo, officer.id, {"status": "off_duty"}, NOW)
    assert repo.officers.get(officer.id).version == 3


@pytest.fixture
def team(repo, places):
    enterprise = handlers.register_enterprise(repo, enterprise_data(places))
    a, b, c = (handlers.register_officer(repo, officer_data(places, badge)).id
               for badge in ("C1001", "C1002", "C1003"))
    return {"enterprise": enterprise.id, "a": a, "b": b, "c": c}


def test_an_assignment_change_publishes_its_revision_and_the_version_it_follows(repo, team):
    first = handlers.assign(repo, team["enterprise"], {
        "a_officer_id": team["a"], "b_officer_id": team["b"], "departments": ["traffic"],
        "effective_from": NOW}, "admin", NOW)
    second = handlers.assign(repo, team["enterprise"], {
        "a_officer_id": team["c"], "b_officer_id": team["b"], "departments": [],
        "effective_from": LATER}, "admin", NOW)

    assert (first.revision, second.revision, second.version) == (1, 2, 2)
    one, two = of_type(events(repo), "assignment.changed")
    assert one["subject"] == team["enterprise"]
    assert one["data"] == {
        "enterprise_id": team["enterprise"], "revision": 1, "valid_from": "2025-04-15T08:30:00Z",
        "a_officer_id": team["a"], "b_officer_id": team["b"], "bureau_leader_id": None,
        "station_leader_id": None, "area_chief_id": None, "departments": ["traffic"],
        "changed_by": "admin", "previous": None}
    assert two["data"]["revision"] == 2
    assert two["data"]["previous"] == {k: v for k, v in one["data"].items()
                                       if k not in ("enterprise_id", "revision", "previous")}


# --- who is assigned, who responds, what is on file ---------------------------------------------


def test_an_assignment_effective_later_changes_who_is_assigned_only_from_then(repo, team):
    e, a, b, c = team["enterprise"], team["a"], team["b"], team["c"]
    handlers.assign(repo, e, {"a_officer_id": a, "b_officer_id": b, "effective_from": NOW},
                    "admin", NOW)
    handlers.assign(repo, e, {"a_officer_id": c, "b_officer_id": b, "effective_from": LATER},
                    "admin", NOW)

    assert handlers.enterprises_assigned_to(repo, a, NOW) == [e]
    assert handlers.enterprises_assigned_to(repo, c, NOW) == []
    assert handlers.enterprises_assigned_to(repo, c, LATER) == [e]
    assert handlers.enterprises_assigned_to(repo, a, LATER) == []
    assert handlers.enterprises_assigned_to(repo, b, LATER) == [e]
    view = handlers.assignments_of(repo, e, NOW)
    assert (view["revision"], view["current"].a_officer_id) == (2, a)
    assert [v.a_officer_id for v in view["upcoming"]] == [c]


def test_an_officers_reach_is_its_seats_now_its_departments_and_its_colleagues(repo, places):
    first, second = (handlers.register_enterprise(repo, enterprise_data(places, n)).id
                     for n in (8, 9))
    a, b, c, chief = (handlers.register_officer(repo, officer_data(places, badge, role,
                                                                   departments)).id
                      for badge, role, departments in (("D1", "community_officer", ["traffic"]),
                                                       ("D2", "community_officer", []),
                                                       ("D3", "community_officer", []),
                                                       ("D4", "area_chief", [])))
    handlers.assign(repo, first, {"a_officer_id": a, "b_officer_id": b, "area_chief_id": chief,
                                  "effective_from": NOW}, "admin", NOW)
    handlers.assign(repo, second, {"a_officer_id": c, "b_officer_id": a,
                                   "effective_from": NOW}, "admin", NOW)
    handlers.assign(repo, second, {"a_officer_id": c, "b_officer_id": b,
                                   "effective_from": LATER}, "admin", NOW)

    reach = handlers.officer_reach(repo, a, NOW)
    assert reach["seats"] == {first: ["a_officer"], second: ["b_officer"]}
    assert reach["departments"] == ["traffic"]
    assert reach["colleagues"] == sorted({b, c, chief})
    later = handlers.officer_reach(repo, a, LATER)
    assert later["seats"] == {first: ["a_officer"]} and c not in later["colleagues"]
    assert handlers.officer_reach(repo, chief, NOW)["seats"] == {first: ["area_chief"]}
    nobody = handlers.officer_reach(repo, "5f0000000000000000000000", NOW)
    assert nobody["seats"] == {} and nobody["colleagues"] == []


def test_b_responds_while_a_is_on_leave_and_the_answer_says_until_when(repo, team):
    handlers.assign(repo, team["enterprise"], {"a_officer_id": team["a"],
                                               "b_officer_id": team["b"],
                                               "effective_from": NOW}, "admin", NOW)
    handlers.change_availability(repo, team["a"], {"status": "on_leave",
                                                   "first_day": date(2025, 4, 15),
                                                   "last_day": date(2025, 4, 15)}, NOW)

    answer = handlers.responders(repo, team["enterprise"], LATER)
    assert answer.to_call.officer.id == team["b"]
    assert answer.station.name == "Gulou Station"
    assert answer.duty_officer.officer.id == team["c"]  # the station's, neither A nor B
    assert answer.holds_until == datetime(2025, 4, 16)  # A's leave ends
    with pytest.raises(EnterpriseNotFound):
        handlers.responders(repo, "nowhere", LATER)


def test_the_enterprise_file_records_each_event_once(repo, places):
    enterprise = handlers.register_enterprise(repo, enterprise_data(places))
    handlers.update_enterprise(repo, enterprise.id, {"stage": "landing"})
    for envelope in events(repo) + events(repo):  # every event delivered twice
        if envelope["type"].startswith("enterprise."):
            handlers.record_on_file(repo, envelope, open_envelope(envelope, REGISTRY_EVENTS))

    timeline = handlers.enterprise_file(repo, enterprise.id, NOW)["timeline"]
    assert sorted(e["type"] for e in timeline) == ["enterprise.registered", "enterprise.updated"]
    assert {e["data"]["stage"] for e in timeline} == {"production", "landing"}


# --- refusals store and publish nothing --------------------------------------------------------


def test_refused_commands_store_and_publish_nothing(repo, places, team):
    before = len(published(repo.unit))
    refusals = [
        (DuplicateCreditCode, lambda: handlers.register_enterprise(
            repo, enterprise_data(places, 1))),
        (InvalidEnterprise, lambda: handlers.register_enterprise(
            repo, enterprise_data(places, 2, grid_id="nowhere"))),
        (InvalidEnterprise, lambda: handlers.register_enterprise(
            repo, enterprise_data(places, 3, workforce=1, migrant_workers=2))),
        (InvalidEnterprise, lambda: handlers.update_enterprise(
            repo, team["enterprise"], {"park_id": "nowhere"})),
        (DuplicateBadgeNumber, lambda: handlers.register_officer(
            repo, officer_data(places, "C1001"))),
        (ValidationFailed, lambda: handlers.create_park(
            repo, {"name": "P", "station_id": "nowhere", "address": ""})),
        (ValidationFailed, lambda: handlers.update_officer(
            repo, team["a"], {"station_id": "nowhere"})),
        (OfficerNotFound, lambda: handlers.update_officer(repo, "nobody", {"name": "x"})),
        (EnterpriseNotFound, lambda: handlers.assign(
            repo, "nowhere", {"a_officer_id": team["a"]}, "admin", NOW)),
        (InvalidAssignment, lambda: handlers.assign(
            repo, team["enterprise"], {"a_officer_id": team["a"], "b_officer_id": team["a"]},
            "admin", NOW)),
    ]
    for refusal, command in refusals:
        with pytest.raises(refusal):
            command()
    assert len(published(repo.unit)) == before
    assert [e.name for e in repo.all(Enterprise)] == ["Works 1"]
    assert repo.history(team["enterprise"]).version == 0


def test_a_grid_with_enterprises_keeps_its_station(repo, places):
    other = handlers.create_station(repo, {"name": "Wusi Station", "kind": "station",
                                           "address": "", "phone": ""})
    empty = handlers.create_grid(repo, {"code": "G02", "name": "Hillside",
                                        "station_id": places["station"].id})
    handlers.register_enterprise(repo, enterprise_data(places))
    before = len(published(repo.unit))

    with pytest.raises(InvalidPlace) as refused:
        handlers.update_place(repo, Grid, places["grid"].id, {"station_id": other.id})
    moved = handlers.update_place(repo, Grid, empty.id, {"station_id": other.id})
    renamed = handlers.update_place(repo, Grid, places["grid"].id, {"name": "Riverbank"})

    assert "station_id" in refused.value.errors
    assert repo.grids.get(places["grid"].id).station_id == places["station"].id
    assert moved.station_id == other.id and renamed.name == "Riverbank"
    assert [e["type"] for e in events(repo, before)] == ["grid.updated", "grid.updated"]


# --- a write race ------------------------------------------------------------------------------


class RacingTable(MemoryTable):
    """The fake table, where another writer's change (each of `meanwhile`, once) lands just
    before one of ours is written."""

    def __init__(self, name):
        super().__init__(name)
        self.meanwhile = []
        self.busy = False

    def insert(self, row):
        self._others_first()
        super().insert(row)

    def update(self, query, changes, upsert=False):
        self._others_first()
        return super().update(query, changes, upsert)

    def _others_first(self):
        if self.meanwhile and not self.busy:
            self.busy = True
            try:
                self.meanwhile.pop(0)()
            finally:
                self.busy = False


class RacingDatabase(MemoryDatabase):
    def table(self, name):
        if name not in self.tables:
            self.tables[name] = RacingTable(name)
        return self.tables[name]


@pytest.fixture
def racing():
    repository = Repository(RacingDatabase())
    repository.ensure_indexes()
    return repository


def test_an_assignment_made_meanwhile_is_built_upon_not_overwritten(racing):
    """Two supervisors assign at once: the one that loses the race is checked and applied
    again on top of the winner's version."""
    team = racing_team(racing)
    racing.assignments.table.meanwhile.append(lambda: handlers.assign(
        racing, team["enterprise"], {"a_officer_id": team["b"], "effective_from": NOW},
        "other", NOW))

    result = handlers.assign(racing, team["enterprise"], {"a_officer_id": team["a"],
                                                          "effective_from": LATER}, "me", NOW)

    assert [v.changed_by for v in result.versions] == ["other", "me"]
    assert result.version == 2 and racing.history(team["enterprise"]) == result
    assert [e["data"]["revision"] for e in of_type(published(racing.unit),
                                                   "assignment.changed")] == [1, 2]


def test_an_assignment_that_always_loses_the_race_is_refused_by_name(racing):
    team = racing_team(racing)
    others = racing.assignments.table.meanwhile
    others.extend(lambda: handlers.assign(racing, team["enterprise"], {
        "a_officer_id": team["b"], "effective_from": NOW}, "other", NOW) for _ in range(20))

    with pytest.raises(AssignmentChangedMeanwhile) as refused:
        handlers.assign(racing, team["enterprise"], {"a_officer_id": team["a"],
                                                     "effective_from": LATER}, "me", NOW)

    assert refused.value.enterprise_id == team["enterprise"]
    assert others == []
    assert {v.changed_by for v in racing.history(team["enterprise"]).versions} == {"other"}


def racing_team(repo):
    station = handlers.create_station(repo, {"name": "S", "kind": "station", "address": "",
                                             "phone": ""})
    grid = handlers.create_grid(repo, {"code": "G", "name": "G", "station_id": station.id})
    enterprise = handlers.register_enterprise(repo, enterprise_data({"grid": grid}))
    a, b = (handlers.register_officer(repo, officer_data({"station": station}, badge)).id
            for badge in ("R1001", "R1002"))
    return {"enterprise": enterprise.id, "a": a, "b": b}
