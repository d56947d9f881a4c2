"""The registry repository's own rules, on every storage backend (the in-memory fake, the
embedded store, MongoDB when MONGO_URI is set).

Beyond the kit's collection contract: each record comes back as it was stored; a taken
credit code, badge number or grid code is refused with the registry's error and writes
nothing; listings page in the order records were made; the officers and assignment holders
are found through their indexes; the enterprise file records an event once; all of it
survives a new connection. The use cases run on the fake alone (tests/unit).
"""
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from kit.storage import drain, opened
from kit.testing import backend_fixture, published
from services.enterprise.domain import (Absence, AssignmentHistory, AssignmentVersion, Contact,
                                        Enterprise, Grid, Officer, Park, Station,
                                        credit_code_check_char)
from services.enterprise.exceptions import (AssignmentChangedMeanwhile, DuplicateBadgeNumber,
                                            DuplicateCreditCode, DuplicateGridCode,
                                            EnterpriseNotFound, GridNotFound, OfficerNotFound,
                                            ParkNotFound, StationNotFound)
from services.enterprise.store import Repository

backend = backend_fixture("enterprise")

# Stored times keep milliseconds (BSON), so every time here is whole seconds.
NOW = datetime(2025, 4, 15, 8, 30)
LATER = NOW + timedelta(hours=1)


@pytest.fixture
def repo(backend):
    repository = Repository(backend.database)
    repository.ensure_indexes()
    return repository


def credit_code(n):
    """A distinct valid credit code for each n."""
    first17 = f"91350100MA{n:07d}"
    return first17 + credit_code_check_char(first17)


# --- records -----------------------------------------------------------------------------------


def a_station(repo, name="Gulou Station"):
    return Station.create(id=repo.new_id(), name=name, kind="station",
                          address="1 Gulou Road", phone="0591-87000000")


def a_park(repo, station_id="s1"):
    return Park.create(id=repo.new_id(), name="Software Park", station_id=station_id,
                       address="89 Software Avenue")


def a_grid(repo, code="G01", station_id="s1"):
    return Grid.create(id=repo.new_id(), code=code, name=f"Grid {code}", station_id=station_id)


def an_enterprise(repo, n=1, station_id="s1", level="above_scale", park_id=None, grid_id="g1"):
    return Enterprise.create(
        id=repo.new_id(), name=f"Minjiang Works {n}", credit_code=credit_code(n),
        kind="enterprise", level=level, stage="production", grid_id=grid_id,
        station_id=station_id, park_id=park_id, address="3 Wusi Road", workforce=120,
        migrant_workers=40, contact=Contact(name="Chen Li", phone="13800000000"))


def an_officer(repo, badge="A1001", role="community_officer", station_id="s1"):
    officer = Officer.create(id=repo.new_id(), badge_number=badge, name=f"Officer {badge}",
                             role=role, station_id=station_id,
                             departments=["traffic", "public_order"], phone="13900000000")
    officer.take_leave(date(2025, 4, 1), date(2025, 4, 3), note="annual leave")
    officer.go_off_duty(NOW, None, note="injured")
    return officer


RECORDS = {
    "station": (a_station, {"name": "Gulou Station (new)", "kind": "park_post", "phone": "110"}),
    "park": (a_park, {"name": "Software Park II", "address": "90 Software Avenue"}),
    "grid": (a_grid, {"code": "G99", "name": "Riverside"}),
    "enterprise": (an_enterprise, {"name": "Minjiang Works Ltd", "stage": "landing",
                                   "park_id": "p1", "workforce": 200,
                                   "contact": Contact(name="Lin Fang", phone="13700000000")}),
    "officer": (an_officer, {"name": "Officer Lin", "role": "area_chief",
                             "departments": ["cyber_security"]}),
}


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_a_record_comes_back_as_stored_and_changed(repo, kind):
    make, changes = RECORDS[kind]
    record = make(repo)
    records = repo.of(type(record))

    records.add(record)
    assert records.get(record.id) == record and record.version == 1
    changed = records.change(record.id, lambda r: r.update(changes))
    assert records.get(record.id) == changed and changed.version == 2
    assert {name: getattr(changed, name) for name in changes} == changes  # its own key kept
    assert repo.all(type(record)) == [changed]
    assert isinstance(records.table.get(record.id)["_id"], str)


def test_an_officer_keeps_open_and_closed_absences(repo):
    officer = repo.officers.add(an_officer(repo))
    stored = repo.officers.get(officer.id)
    assert stored.absences == [
        Absence("on_leave", datetime(2025, 4, 1), datetime(2025, 4, 4), "annual leave"),
        Absence("off_duty", NOW, None, "injured"),
    ]
    repo.officers.change(officer.id, lambda o: o.return_to_duty(LATER))
    again = repo.officers.get(officer.id)
    assert again.absences[1] == Absence("off_duty", NOW, LATER, "injured")
    assert again.absent_at(LATER) is None


def test_records_are_found_by_their_natural_keys(repo):
    enterprise = repo.enterprises.add(an_enterprise(repo))
    officer = repo.officers.add(an_officer(repo, badge="B2002"))
    assert repo.find_enterprise_by_credit_code(enterprise.credit_code) == enterprise
    assert repo.find_enterprise_by_credit_code(credit_code(999)) is None
    assert repo.find_officer_by_badge("B2002") == officer
    assert repo.find_officer_by_badge("B9999") is None


# --- unique keys -------------------------------------------------------------------------------

UNIQUE = [
    # (make first, make second, field, exception)
    (lambda r: an_enterprise(r, 1), lambda r: an_enterprise(r, 2), "credit_code",
     DuplicateCreditCode),
    (lambda r: an_officer(r, "A1001"), lambda r: an_officer(r, "A2002"), "badge_number",
     DuplicateBadgeNumber),
    (lambda r: a_grid(r, "G01"), lambda r: a_grid(r, "G02"), "code", DuplicateGridCode),
]
UNIQUE_IDS = ["credit_code", "badge_number", "grid_code"]


@pytest.mark.parametrize("make_first, make_second, field, duplicate", UNIQUE, ids=UNIQUE_IDS)
def test_adding_a_taken_unique_key_is_refused_and_writes_nothing(
        repo, make_first, make_second, field, duplicate):
    first = make_first(repo)
    records = repo.of(type(first))
    records.add(first)
    clash = replace(make_second(repo), events=[], **{field: getattr(first, field)})
    clash.events.append(type(first).created(clash))

    with pytest.raises(duplicate) as refused:
        records.add(clash)

    assert (refused.value.field, refused.value.value) == (field, getattr(first, field))
    assert repo.all(type(first)) == [first]
    assert records.find(clash.id) is None
    assert {e["subject"] for e in published(repo.unit)} == {first.id}


@pytest.mark.parametrize("make_first, make_second, field, duplicate", UNIQUE, ids=UNIQUE_IDS)
def test_changing_to_a_taken_unique_key_is_refused_and_writes_nothing(
        repo, make_first, make_second, field, duplicate):
    first, second = make_first(repo), make_second(repo)
    records = repo.of(type(first))
    records.add(first)
    records.add(second)
    stored = len(published(repo.unit))

    with pytest.raises(duplicate) as refused:
        records.change(second.id, lambda r: r.update({field: getattr(first, field)}))

    assert (refused.value.field, refused.value.value) == (field, getattr(first, field))
    assert records.get(first.id) == first and records.get(second.id) == second
    assert len(published(repo.unit)) == stored  # the refused change stored no event


# --- not found ---------------------------------------------------------------------------------

NOT_FOUND = [(Station, StationNotFound), (Park, ParkNotFound), (Grid, GridNotFound),
             (Enterprise, EnterpriseNotFound), (Officer, OfficerNotFound)]


@pytest.mark.parametrize("record_cls, not_found", NOT_FOUND, ids=lambda v: v.__name__)
@pytest.mark.parametrize("record_id", ["5f0c8b9e1c9d440000a1b2c3", "not-an-id", "", None, 42],
                         ids=["unknown", "malformed", "empty", "none", "int"])
def test_a_missing_record_raises_its_own_not_found(repo, record_cls, not_found, record_id):
    with pytest.raises(not_found) as missing:
        repo.of(record_cls).get(record_id)
    assert missing.value.record_id == record_id
    assert repo.of(record_cls).find(record_id) is None


def test_a_record_of_another_kind_is_not_found(repo):
    station = repo.stations.add(a_station(repo))
    with pytest.raises(ParkNotFound):
        repo.parks.get(station.id)


@pytest.mark.parametrize("record_cls, not_found", NOT_FOUND, ids=lambda v: v.__name__)
def test_a_change_of_an_unknown_record_creates_nothing(repo, record_cls, not_found):
    with pytest.raises(not_found):
        repo.of(record_cls).change(repo.new_id(), lambda r: r.update({"name": "x"}))
    assert repo.all(record_cls) == []
    assert published(repo.unit) == []


# --- listing -----------------------------------------------------------------------------------


@pytest.fixture
def seven_enterprises(repo):
    layout = [("s1", "above_scale"), ("s1", "other"), ("s2", "above_scale"), ("s1", "above_scale"),
              ("s2", "other"), ("s1", "city_key_project"), ("s2", "above_scale")]
    return [repo.enterprises.add(an_enterprise(repo, n, station_id=s, level=level))
            for n, (s, level) in enumerate(layout)]


def test_a_listing_pages_in_the_order_records_were_made_with_the_total(repo, seven_enterprises):
    pages = [repo.page(Enterprise, skip=skip, limit=3) for skip in (0, 3, 6, 9)]
    assert [len(items) for items, _ in pages] == [3, 3, 1, 0]
    assert {total for _, total in pages} == {7}
    assert [e for items, _ in pages for e in items] == seven_enterprises
    assert repo.page(Enterprise) == (seven_enterprises, 7)


def test_a_listing_filters_on_indexed_fields_and_ignores_none(repo, seven_enterprises):
    at_s1, total = repo.page(Enterprise, station_id="s1")
    assert total == 4 and at_s1 == [e for e in seven_enterprises if e.station_id == "s1"]
    items, total = repo.page(Enterprise, station_id="s2", level="above_scale", limit=1)
    assert total == 2
    assert items == [e for e in seven_enterprises
                     if e.station_id == "s2" and e.level == "above_scale"][:1]
    assert repo.page(Enterprise, station_id=None, level=None)[1] == 7
    assert repo.page(Enterprise, station_id="s9") == ([], 0)
    assert repo.page(Enterprise, kind="project") == ([], 0)


def test_a_listing_by_ids_passes_over_unknown_ids(repo, seven_enterprises):
    wanted = [seven_enterprises[4].id, seven_enterprises[1].id]
    items, total = repo.page(Enterprise, ids=wanted + ["not-an-id", repo.new_id()])
    assert (items, total) == ([seven_enterprises[1], seven_enterprises[4]], 2)
    assert repo.page(Enterprise, ids=[]) == ([], 0)
    station_id = seven_enterprises[4].station_id
    expected = [e for e in (seven_enterprises[1], seven_enterprises[4])
                if e.station_id == station_id]
    assert repo.page(Enterprise, ids=wanted, station_id=station_id) == (expected, len(expected))


def test_officers_are_found_by_id_station_and_role(repo):
    officers = [repo.officers.add(an_officer(repo, badge, role, station))
                for badge, role, station in (("A1001", "community_officer", "s1"),
                                             ("A1002", "area_chief", "s1"),
                                             ("A1003", "community_officer", "s2"))]
    a, b, c = officers
    assert repo.page(Officer, station_id="s1", role="community_officer") == ([a], 1)
    assert repo.page(Officer, role="community_officer")[1] == 2
    assert repo.get_officers([a.id, b.id, a.id, repo.new_id(), "not-an-id", None, ""]) == \
        {a.id: a, b.id: b}
    assert repo.get_officers([]) == {}
    assert repo.all_officers() == {o.id: o for o in officers}
    assert sorted(repo.officers_of_station("s1"), key=lambda o: o.id) == [a, b]
    assert repo.officers_of_station("s1", roles=("area_chief",)) == [b]
    assert repo.officers_of_station("s9") == []


# --- indexes -----------------------------------------------------------------------------------

INDEXED = {"stations": set(), "parks": {"station_id"}, "grids": {"code!", "station_id"},
           "enterprises": {"credit_code!", "station_id", "grid_id", "level"},
           "officers": {"badge_number!", "station_id", "role", "absent_until"},
           "assignments": {"holders", "gaps", "latest_from"},
           "timeline": {"enterprise_id+time"}}


def test_every_lookup_and_listing_is_served_by_an_index(repo, backend):
    if backend.name == "memory":
        pytest.skip("the fake keeps no indexes but the unique ones (checked above)")
    for table, expected in INDEXED.items():
        found = set()
        for keys, unique in backend.database.table(table).indexes():
            fields = [field for field, _ in keys]
            if fields in (["_id"], ["unsent"]):
                continue
            found.add("+".join(fields) + ("!" if unique else ""))
        assert found == expected, table


# --- assignments -------------------------------------------------------------------------------


def version(valid_from, a=None, b=None, **seats):
    return AssignmentVersion(valid_from=valid_from, a_officer_id=a, b_officer_id=b,
                             departments=("traffic",), changed_by="admin", **seats)


def assign(repo, enterprise_id, new, now=NOW, officers=None):
    return repo.assignments.change(
        enterprise_id, lambda h: h.assign(new, officers or OFFICERS, now), new=AssignmentHistory)


OFFICERS = {f"o{i}": Officer(f"o{i}", f"B{i}", f"o{i}", "community_officer", "s1")
            for i in range(10)}


def test_an_enterprise_without_assignments_has_an_empty_history(repo):
    history = repo.history("e1")
    assert (history.id, history.versions, history.version, history.revision) == \
        ("e1", [], 0, 0)


def test_an_assignment_history_is_stored_whole_and_versioned(repo):
    v1 = version(NOW, "o1", "o2", area_chief_id=None)
    v2 = version(LATER, "o4", "o2")
    assign(repo, "e1", v1)
    history = assign(repo, "e1", v2)

    stored = repo.history("e1")
    assert stored == history
    assert stored.versions == [v1, v2] and (stored.version, stored.revision) == (2, 2)
    assert stored.at(NOW + timedelta(minutes=30)) == v1 and stored.current() == v2
    assert repo.all_assignments() == {"e1": stored}
    assert [e["data"]["revision"] for e in published(repo.unit)] == [1, 2]


def held(repo, officer_id):
    return sorted(h.id for h in repo.assignments_held_by(officer_id))


def test_the_holders_index_follows_the_last_change(repo):
    assign(repo, "e1", version(NOW, "o1", "o2"))
    assign(repo, "e2", version(NOW, "o3", "o1"))
    assert held(repo, "o1") == ["e1", "e2"]

    assign(repo, "e1", version(LATER, "o4", "o2"), now=LATER)
    assert held(repo, "o1") == ["e2"] and held(repo, "o4") == ["e1"]
    assert held(repo, "nobody") == []


def test_an_assignment_that_keeps_losing_the_race_is_refused_by_its_own_name(repo):
    assign(repo, "e1", version(NOW, "o1"))

    def overtaken(history):
        assign(repo, "e1", version(history.current().valid_from + timedelta(minutes=1), "o2"))
        history.assign(version(LATER, "o3"), OFFICERS, NOW)

    with pytest.raises(AssignmentChangedMeanwhile) as refused:
        repo.assignments.change("e1", overtaken, attempts=2)
    assert refused.value.enterprise_id == "e1"
    assert held(repo, "o3") == []
    assert repo.history("e1").revision == 3  # the two that won


# --- the enterprise file's timeline ------------------------------------------------------------


def scanned_figures(repo, at):
    """The gauges' figures the slow way: every enterprise, officer and history read."""
    from services.enterprise.handlers import coverage
    from services.enterprise.responders import COVERAGE_GAPS
    gaps = dict.fromkeys(COVERAGE_GAPS, 0)
    for row in coverage(repo, at)["gaps"]:
        for gap in row["gaps"]:
            gaps[gap] += 1
    absent = sum(1 for o in repo.all_officers().values() if o.absent_at(at))
    return absent, gaps


def test_the_gauges_figures_counted_on_indexes_equal_a_full_scan(repo):
    from services.enterprise.handlers import registry_figures
    officers = {}
    roles = ["community_officer"] * 4 + ["station_chief", "bureau_leader", "area_chief"]
    for i, role in enumerate(roles):
        officer = Officer.create(id=f"o{i}", badge_number=f"B{i}", name=f"o{i}", role=role,
                                 station_id="s1")
        officers[officer.id] = officer
    officers["o1"].take_leave(date(2025, 4, 14), date(2025, 4, 16))   # A of e1 and e2
    officers["o2"].go_off_duty(NOW - timedelta(hours=1), None)        # B of e1, open
    officers["o3"].go_off_duty(NOW + timedelta(days=3), NOW + timedelta(days=4))  # later
    for officer in officers.values():
        repo.officers.add(officer)
    enterprises = [repo.enterprises.add(an_enterprise(repo, n, level=level))
                   for n, level in enumerate(("above_scale", "above_scale", "key", "small",
                                              "above_scale"))]
    e1, e2, e3, e4, _unassigned = (e.id for e in enterprises)
    chiefs = dict(station_leader_id="o4", bureau_leader_id="o5", area_chief_id="o6")
    assign(repo, e1, version(NOW - timedelta(days=30), "o1", "o2", **chiefs), officers=officers)
    assign(repo, e2, version(NOW - timedelta(days=30), "o1", "o3", **chiefs), officers=officers)
    assign(repo, e3, version(NOW - timedelta(days=30), "o3", None), officers=officers)
    # e4: a full cover from next week; until then only A
    assign(repo, e4, version(NOW - timedelta(days=30), "o2", None, **chiefs), officers=officers)
    assign(repo, e4, version(NOW + timedelta(days=7), "o2", "o3", **chiefs), officers=officers)

    for at in (NOW - timedelta(days=60), NOW, NOW + timedelta(days=2), NOW + timedelta(days=3),
               NOW + timedelta(days=8)):
        figures = registry_figures(repo, at)
        absent, gaps = scanned_figures(repo, at)
        assert (figures["officers_absent"], figures["coverage_gaps"]) == (absent, gaps), at
    figures = registry_figures(repo, NOW)
    assert figures["coverage_gaps"] == {"no_a_officer": 1, "no_b_officer": 3,
                                        "fewer_than_three_chiefs": 2, "a_and_b_absent": 1}
    assert figures["officers_absent"] == 2
    assert figures["enterprises_by_level"]["above_scale"] == 3


def entry(event_id, event_type="enterprise.updated", data=None):
    return {"id": event_id, "type": event_type, "source": "/services/enterprise",
            "data": data or {"name": event_id}}


def test_an_event_is_filed_once_and_the_file_reads_newest_first(repo):
    first, second = entry("ev-1", "enterprise.registered"), entry("ev-2")
    repo.record_timeline(first, "e1", NOW)
    repo.record_timeline(second, "e1", LATER)
    repo.record_timeline(first, "e1", NOW)  # redelivered
    repo.record_timeline(entry("ev-3"), "e2", NOW)

    timeline = repo.timeline("e1")
    assert [(e["event_id"], e["time"], e["type"]) for e in timeline] == [
        ("ev-2", LATER, "enterprise.updated"), ("ev-1", NOW, "enterprise.registered")]
    assert timeline[1]["source"] == "/services/enterprise"
    assert timeline[1]["data"] == {"name": "ev-1"}
    assert repo.timeline("e1", limit=1) == timeline[:1]
    assert [e["event_id"] for e in repo.timeline("e2")] == ["ev-3"]
    assert repo.timeline("e9") == []


# --- events and persistence --------------------------------------------------------------------


def test_every_table_that_stores_events_is_drained(repo):
    repo.stations.add(a_station(repo))
    enterprise = repo.enterprises.add(an_enterprise(repo))
    repo.enterprises.change(enterprise.id, lambda e: e.update({"name": "Renamed"}))
    assign(repo, enterprise.id, version(NOW, "o1"))

    sent = []
    for table in repo.outbox_tables():
        drain(table, lambda batch: sent.extend(opened(batch)))
    assert sorted(e["id"] for e in sent) == sorted(e["id"] for e in published(repo.unit))
    assert {e["type"] for e in sent} == {"station.created", "enterprise.registered",
                                         "enterprise.updated", "assignment.changed"}


def test_what_is_stored_survives_a_new_connection(backend, repo):
    station = repo.stations.add(a_station(repo))
    enterprise = repo.enterprises.add(an_enterprise(repo))
    officer = repo.officers.add(an_officer(repo))
    assign(repo, enterprise.id, version(NOW, officer.id), officers={officer.id: officer})
    repo.record_timeline(entry("ev-1"), enterprise.id, NOW)

    reopened = Repository(backend.reopen())

    assert reopened.stations.get(station.id) == station
    assert reopened.enterprises.get(enterprise.id) == enterprise
    assert reopened.officers.get(officer.id) == officer
    assert reopened.history(enterprise.id).versions == [version(NOW, officer.id)]
    assert held(reopened, officer.id) == [enterprise.id]
    assert [e["event_id"] for e in reopened.timeline(enterprise.id)] == ["ev-1"]
    with pytest.raises(DuplicateCreditCode):  # unique keys still hold after the reopen
        reopened.enterprises.add(replace(an_enterprise(reopened),
                                         credit_code=enterprise.credit_code))
