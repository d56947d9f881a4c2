"""The registry repository's contract, run against every storage backend (see conftest.py).

Whatever the backend, the repository must give back what was stored, refuse duplicates with
the specific exception and without changing anything, refuse a stale assignment change, and
keep every event it was given until a drain has published it.
"""
import csv
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from bson import ObjectId

from contracts.envelope import decode
from kit.storage import drain, opened
from services.enterprise import handlers
from services.enterprise.domain import (Absence, AssignmentVersion, Contact, Enterprise, Grid,
                                        Officer, Park, Station, credit_code_check_char)
from services.enterprise.exceptions import (AssignmentChangedMeanwhile, DuplicateBadgeNumber,
                                            DuplicateCreditCode, DuplicateGridCode,
                                            EnterpriseNotFound, GridNotFound, InvalidImport,
                                            InvalidPlace, OfficerNotFound, ParkNotFound,
                                            StationNotFound)
from services.enterprise.imports import import_csv
from services.enterprise.store import Repository

# Stored times keep milliseconds (BSON), so every time here is whole seconds.
NOW = datetime(2025, 4, 15, 8, 30)
LATER = NOW + timedelta(hours=1)


def credit_code(n):
    """A distinct valid credit code for each n."""
    first17 = f"91350100MA{n:07d}"
    return first17 + credit_code_check_char(first17)


# --- records -----------------------------------------------------------------------------------


def a_station(repo, name="Gulou Station"):
    return Station(id=repo.new_id(), name=name, kind="station", address="1 Gulou Road",
                   phone="0591-87000000")


def a_park(repo, station_id=None):
    return Park(id=repo.new_id(), name="Software Park", station_id=station_id or repo.new_id(),
                address="89 Software Avenue")


def a_grid(repo, code="G01", station_id=None):
    return Grid(id=repo.new_id(), code=code, name=f"Grid {code}",
                station_id=station_id or repo.new_id())


def an_enterprise(repo, n=1, station_id="s1", level="above_scale", park_id=None):
    return Enterprise(id=repo.new_id(), name=f"Minjiang Works {n}", credit_code=credit_code(n),
                      kind="enterprise", level=level, stage="production", grid_id="g1",
                      station_id=station_id, park_id=park_id, address="3 Wusi Road",
                      workforce=120, migrant_workers=40,
                      contact=Contact(name="Chen Li", phone="13800000000"))


def an_officer(repo, badge="A1001", role="community_officer", station_id="s1"):
    officer = Officer(id=repo.new_id(), badge_number=badge, name=f"Officer {badge}", role=role,
                      station_id=station_id, departments=["traffic", "public_order"],
                      phone="13900000000")
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


def envelope(event_type, subject, data, now=NOW):
    return handlers.event(event_type, subject, data, now)


_CREATED = {Station: "station.created", Park: "park.created", Grid: "grid.created",
            Enterprise: "enterprise.registered", Officer: "officer.registered"}
_UPDATED = {Station: "station.updated", Park: "park.updated", Grid: "grid.updated",
            Enterprise: "enterprise.updated", Officer: "officer.updated"}


def created(record, now=NOW):
    return envelope(_CREATED[type(record)], record.id, record, now)


def updated(record, now=LATER):
    return envelope(_UPDATED[type(record)], record.id, record, now)


def assignment_changed(enterprise_id, new_version, revision, previous=None):
    data = dict(vars(new_version), enterprise_id=enterprise_id, revision=revision,
                previous=previous)
    return envelope("assignment.changed", enterprise_id, data, new_version.valid_from)


def raw(record_cls, record_id):
    """The stored document itself, to see its outbox."""
    collection = {Station: "stations", Park: "parks", Grid: "grids", Enterprise: "enterprises",
                  Officer: "officers"}[record_cls]
    [found] = [c for c in Repository.outbox_collections() if c.name == collection]
    return found.find_one({"_id": ObjectId(record_id)})


def drain_all():
    published = []
    for collection in Repository.outbox_collections():
        drain(collection, lambda batch: published.extend(opened(batch)))
    return published


# --- add, get, update --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_add_get_update_round_trip(repo, kind):
    make, changes = RECORDS[kind]
    record = make(repo)
    record_cls = type(record)

    assert repo.add(record) == record
    assert repo.get(record_cls, record.id) == record
    assert repo.exists(record_cls, record.id)

    changed = replace(record, **changes)
    assert repo.update(changed) == changed
    assert repo.get(record_cls, record.id) == changed
    assert repo.all(record_cls) == [changed]


def test_enterprise_contact_and_optional_park_round_trip(repo):
    enterprise = an_enterprise(repo, park_id="p1")
    repo.add(enterprise)
    stored = repo.get(Enterprise, enterprise.id)
    assert stored.contact == Contact(name="Chen Li", phone="13800000000")
    assert stored.park_id == "p1"

    repo.update(replace(enterprise, park_id=None, contact=Contact()))
    stored = repo.get(Enterprise, enterprise.id)
    assert stored.park_id is None
    assert stored.contact == Contact(name="", phone="")


def test_officer_absences_round_trip_with_open_and_closed_periods(repo):
    officer = an_officer(repo)
    repo.add(officer)
    stored = repo.get(Officer, officer.id)
    assert stored.absences == [
        Absence("on_leave", datetime(2025, 4, 1), datetime(2025, 4, 4), "annual leave"),
        Absence("off_duty", NOW, None, "injured"),
    ]
    assert stored.absent_at(LATER).kind == "off_duty"

    stored.return_to_duty(LATER)
    repo.update(stored)
    again = repo.get(Officer, officer.id)
    assert again.absences[1] == Absence("off_duty", NOW, LATER, "injured")
    assert again.absent_at(LATER) is None


def test_find_by_natural_keys(repo):
    enterprise, officer = an_enterprise(repo), an_officer(repo, badge="B2002")
    repo.add(enterprise)
    repo.add(officer)
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


@pytest.mark.parametrize("make_first, make_second, field, duplicate", UNIQUE,
                         ids=["credit_code", "badge_number", "grid_code"])
def test_adding_a_taken_unique_key_is_refused_and_changes_nothing(
        repo, make_first, make_second, field, duplicate):
    first = make_first(repo)
    repo.add(first, [created(first)])
    clash = replace(make_second(repo), **{field: getattr(first, field)})

    with pytest.raises(duplicate) as refused:
        repo.add(clash, [created(clash)])

    assert (refused.value.field, refused.value.value) == (field, getattr(first, field))
    assert repo.all(type(first)) == [first]
    assert not repo.exists(type(first), clash.id)
    assert len(drain_all()) == 1  # the refused add's event was not stored


@pytest.mark.parametrize("make_first, make_second, field, duplicate", UNIQUE,
                         ids=["credit_code", "badge_number", "grid_code"])
def test_updating_to_a_taken_unique_key_is_refused_and_changes_nothing(
        repo, make_first, make_second, field, duplicate):
    first, second = make_first(repo), make_second(repo)
    repo.add(first)
    repo.add(second)
    clash = replace(second, name="renamed", **{field: getattr(first, field)})

    with pytest.raises(duplicate) as refused:
        repo.update(clash, [updated(clash)])

    assert (refused.value.field, refused.value.value) == (field, getattr(first, field))
    assert repo.get(type(first), first.id) == first
    assert repo.get(type(second), second.id) == second
    assert drain_all() == []  # the refused update's event was not stored


def test_an_update_may_keep_its_own_unique_key(repo):
    enterprise = an_enterprise(repo)
    repo.add(enterprise)
    renamed = replace(enterprise, name="Same code, new name")
    repo.update(renamed)
    assert repo.get(Enterprise, enterprise.id) == renamed


# --- not found ---------------------------------------------------------------------------------

NOT_FOUND = [(Station, StationNotFound), (Park, ParkNotFound), (Grid, GridNotFound),
             (Enterprise, EnterpriseNotFound), (Officer, OfficerNotFound)]


@pytest.mark.parametrize("record_cls, not_found", NOT_FOUND, ids=lambda v: v.__name__)
@pytest.mark.parametrize("record_id", ["5f0c8b9e1c9d440000a1b2c3", "not-an-id", "", None, 42],
                         ids=["unknown", "malformed", "empty", "none", "int"])
def test_get_of_a_missing_record_raises_its_not_found(repo, record_cls, not_found, record_id):
    with pytest.raises(not_found) as missing:
        repo.get(record_cls, record_id)
    assert missing.value.record_id == record_id
    assert not repo.exists(record_cls, record_id)


def test_get_does_not_return_a_record_of_another_kind(repo):
    station = a_station(repo)
    repo.add(station)
    with pytest.raises(ParkNotFound):
        repo.get(Park, station.id)


@pytest.mark.parametrize("kind", sorted(RECORDS))
def test_update_of_an_unknown_record_raises_not_found_and_creates_nothing(repo, kind):
    make, _ = RECORDS[kind]
    record = make(repo)
    not_found = dict(NOT_FOUND)[type(record)]
    with pytest.raises(not_found):
        repo.update(record, [updated(record)])
    assert repo.all(type(record)) == []
    assert drain_all() == []


# --- listing -----------------------------------------------------------------------------------


@pytest.fixture
def seven_enterprises(repo):
    layout = [("s1", "above_scale"), ("s1", "other"), ("s2", "above_scale"), ("s1", "above_scale"),
              ("s2", "other"), ("s1", "city_key_project"), ("s2", "above_scale")]
    enterprises = [an_enterprise(repo, n, station_id=s, level=lvl)
                   for n, (s, lvl) in enumerate(layout)]
    for enterprise in enterprises:
        repo.add(enterprise)
    return sorted(enterprises, key=lambda e: e.id)


def test_list_pages_in_id_order_with_the_total(repo, seven_enterprises):
    pages = [repo.list(Enterprise, skip=skip, limit=3) for skip in (0, 3, 6, 9)]
    assert [len(items) for items, _ in pages] == [3, 3, 1, 0]
    assert {total for _, total in pages} == {7}
    assert [e for items, _ in pages for e in items] == seven_enterprises


def test_list_defaults_to_the_first_page(repo, seven_enterprises):
    assert repo.list(Enterprise) == (seven_enterprises, 7)


def test_list_filters(repo, seven_enterprises):
    at_s1, total = repo.list(Enterprise, station_id="s1")
    assert total == 4
    assert at_s1 == [e for e in seven_enterprises if e.station_id == "s1"]

    items, total = repo.list(Enterprise, station_id="s2", level="above_scale", limit=1)
    assert total == 2
    assert items == [e for e in seven_enterprises
                     if e.station_id == "s2" and e.level == "above_scale"][:1]

    # A filter given as None is no filter at all.
    assert repo.list(Enterprise, station_id=None, level=None)[1] == 7
    assert repo.list(Enterprise, station_id="s9") == ([], 0)


def test_list_by_ids_ignores_unknown_and_malformed_ids(repo, seven_enterprises):
    wanted = [seven_enterprises[4].id, seven_enterprises[1].id]
    items, total = repo.list(Enterprise, ids=wanted + ["not-an-id", repo.new_id()])
    assert total == 2
    assert items == [seven_enterprises[1], seven_enterprises[4]]
    assert repo.list(Enterprise, ids=[]) == ([], 0)
    station_id = seven_enterprises[4].station_id
    expected = [e for e in (seven_enterprises[1], seven_enterprises[4])
                if e.station_id == station_id]
    assert repo.list(Enterprise, ids=wanted, station_id=station_id) == (expected, len(expected))


def test_list_officers_by_station_and_role(repo):
    officers = [an_officer(repo, "A1001", "community_officer", "s1"),
                an_officer(repo, "A1002", "area_chief", "s1"),
                an_officer(repo, "A1003", "community_officer", "s2")]
    for officer in officers:
        repo.add(officer)
    assert repo.list(Officer, station_id="s1", role="community_officer") == ([officers[0]], 1)
    assert repo.list(Officer, role="community_officer")[1] == 2


def test_get_officers_returns_those_that_exist_by_id(repo):
    a, b = an_officer(repo, "A1001"), an_officer(repo, "A1002")
    repo.add(a)
    repo.add(b)
    found = repo.get_officers([a.id, b.id, a.id, repo.new_id(), "not-an-id", None, ""])
    assert found == {a.id: a, b.id: b}
    assert repo.get_officers([]) == {}
    assert repo.all_officers() == {a.id: a, b.id: b}


# --- assignments -------------------------------------------------------------------------------


def version(valid_from, a=None, b=None, **seats):
    return AssignmentVersion(valid_from=valid_from, a_officer_id=a, b_officer_id=b,
                             departments=("traffic",), changed_by="admin", **seats)


def test_a_new_enterprise_has_an_empty_history(repo):
    history = repo.get_assignments(repo.new_id())
    assert history.versions == []
    assert history.revision == 0


def test_append_assignment_builds_the_history(repo):
    enterprise_id = repo.new_id()
    v1 = version(NOW, "o1", "o2", area_chief_id="o3")
    v2 = version(LATER, "o4", "o2", area_chief_id="o3")

    history = repo.append_assignment(repo.get_assignments(enterprise_id), v1)
    assert history.versions == [v1]
    history = repo.append_assignment(repo.get_assignments(enterprise_id), v2)
    assert history.versions == [v1, v2]

    stored = repo.get_assignments(enterprise_id)
    assert stored.enterprise_id == enterprise_id
    assert stored.versions == [v1, v2]
    assert stored.revision == 2
    assert stored.at(NOW + timedelta(minutes=30)) == v1
    assert stored.current() == v2
    assert repo.all_assignments() == {enterprise_id: stored}


@pytest.mark.parametrize("versions_before", [0, 1, 3])
def test_an_append_on_a_stale_history_is_refused_and_writes_nothing(repo, versions_before):
    enterprise_id = repo.new_id()
    for i in range(versions_before):
        repo.append_assignment(repo.get_assignments(enterprise_id),
                               version(NOW + timedelta(minutes=i), f"o{i}"))
    drain_all()
    mine, theirs = repo.get_assignments(enterprise_id), repo.get_assignments(enterprise_id)

    winner = version(LATER, "winner")
    repo.append_assignment(theirs, winner)
    loser = version(LATER, "loser")
    with pytest.raises(AssignmentChangedMeanwhile) as refused:
        repo.append_assignment(mine, loser, [
            assignment_changed(enterprise_id, loser, versions_before + 1, mine.current())])

    assert refused.value.enterprise_id == enterprise_id
    stored = repo.get_assignments(enterprise_id)
    assert stored.revision == versions_before + 1
    assert stored.current() == winner
    assert len(mine.versions) == versions_before  # the caller's copy is left as it was
    assert held(repo, "loser") == []
    assert drain_all() == []


def held(repo, officer_id):
    return sorted(h.enterprise_id for h in repo.assignments_held_by(officer_id))


def test_holders_index_follows_the_last_change(repo):
    e1, e2 = repo.new_id(), repo.new_id()
    repo.append_assignment(repo.get_assignments(e1), version(NOW, "o1", "o2"))
    repo.append_assignment(repo.get_assignments(e2), version(NOW, "o3", "o1",
                                                             area_chief_id="o9"))
    assert held(repo, "o1") == sorted([e1, e2])

    repo.append_assignment(repo.get_assignments(e1), version(LATER, "o4", "o2"))
    assert held(repo, "o1") == [e2]
    assert held(repo, "o4") == [e1]
    assert held(repo, "o9") == [e2]
    assert held(repo, "nobody") == []


# --- the enterprise file's timeline ------------------------------------------------------------


def test_record_timeline_is_idempotent_and_timeline_is_newest_first(repo):
    enterprise = an_enterprise(repo)
    other = repo.new_id()
    first = envelope("enterprise.registered", enterprise.id, enterprise, NOW)
    second = envelope("enterprise.updated", enterprise.id, enterprise, LATER)
    elsewhere = envelope("enterprise.registered", other, enterprise, NOW)

    repo.record_timeline(first, enterprise.id, NOW)
    repo.record_timeline(second, enterprise.id, LATER)
    repo.record_timeline(first, enterprise.id, NOW)  # redelivered
    repo.record_timeline(elsewhere, other, NOW)

    timeline = repo.timeline(enterprise.id)
    assert [(e["event_id"], e["time"], e["type"]) for e in timeline] == [
        (second["id"], LATER, "enterprise.updated"),
        (first["id"], NOW, "enterprise.registered"),
    ]
    assert timeline[1]["source"] == first["source"]
    assert timeline[1]["data"] == first["data"]
    assert repo.timeline(enterprise.id, limit=1) == timeline[:1]
    assert [e["event_id"] for e in repo.timeline(other)] == [elsewhere["id"]]
    assert repo.timeline(repo.new_id()) == []


# --- the outbox --------------------------------------------------------------------------------


def outbox(record_cls, record_id):
    """The envelopes waiting in a record's outbox, oldest first."""
    return [decode(entry["message"]) for entry in raw(record_cls, record_id)["outbox"]]


def test_events_given_to_add_are_stored_in_the_document(repo):
    station = a_station(repo)
    events = [created(station)]
    repo.add(station, events)
    assert outbox(Station, station.id) == events


def test_drain_publishes_each_event_exactly_once(repo):
    station = a_station(repo)
    enterprise = an_enterprise(repo)
    renamed = replace(enterprise, name="Renamed")
    first_version = version(NOW, "o1")
    e1, e2, e3 = created(station), created(enterprise), updated(renamed)
    e4 = assignment_changed(enterprise.id, first_version, 1)
    repo.add(station, [e1])
    repo.add(enterprise, [e2])
    repo.update(renamed, [e3])
    repo.append_assignment(repo.get_assignments(enterprise.id), first_version, [e4])

    published = drain_all()

    assert sorted(published, key=lambda e: e["id"]) == sorted([e1, e2, e3, e4],
                                                              key=lambda e: e["id"])
    assert drain_all() == []
    assert outbox(Station, station.id) == []
    # Draining leaves the records themselves alone.
    assert repo.get(Enterprise, enterprise.id).name == "Renamed"
    assert repo.get_assignments(enterprise.id).revision == 1


def test_an_update_keeps_events_still_waiting_in_the_outbox(repo):
    enterprise = an_enterprise(repo)
    renamed = replace(enterprise, name="Renamed")
    e1, e2 = created(enterprise), updated(renamed)
    repo.add(enterprise, [e1])
    repo.update(renamed, [e2])

    assert outbox(Enterprise, enterprise.id) == [e1, e2]
    assert drain_all() == [e1, e2]


def test_the_unit_of_work_names_the_documents_that_carry_events(repo):
    quiet, loud = a_station(repo, "Quiet"), a_station(repo, "Loud")
    enterprise_id = repo.new_id()
    event = created(loud)
    repo.add(quiet)
    repo.add(loud, [event])
    repo.append_assignment(repo.get_assignments(enterprise_id), version(NOW, "o1"),
                           [assignment_changed(enterprise_id, version(NOW, "o1"), 1)])

    touched = {name: docs for name, (_, docs) in repo.unit.touched.items()}
    assert set(touched) == {"stations", "assignments"}
    assert {str(i): [e["id"] for e in entries] for i, entries in touched["stations"].items()} \
        == {loud.id: [event["id"]]}
    assert set(touched["assignments"]) == {enterprise_id}

    collection, entries = repo.unit.touched["stations"]
    published = []
    only = {doc_id: {e["id"] for e in queued} for doc_id, queued in entries.items()}
    assert drain(collection, lambda batch: published.extend(opened(batch)), only=only) == 1
    assert published == [event]


def test_a_sweep_takes_only_entries_older_than_the_cutoff(repo):
    old, fresh = a_station(repo, "Old"), a_station(repo, "Fresh")
    left_behind, in_flight = created(old), created(fresh)
    repo.add(old, [left_behind])
    cutoff = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(milliseconds=1)
    time.sleep(0.01)
    repo.add(fresh, [in_flight])
    [collection] = [c for c in Repository.outbox_collections() if c.name == "stations"]

    published = []
    assert drain(collection, lambda batch: published.extend(opened(batch)),
                 stale_before=cutoff) == 1
    assert published == [left_behind]
    assert outbox(Station, fresh.id) == [in_flight]


def test_a_sweep_reads_first_format_entries_and_passes_over_unreadable_ones(repo):
    first, broken, fine = (a_station(repo, name) for name in ("First", "Broken", "Fine"))
    legacy, later = created(first), created(fine)
    repo.add(first)
    repo.add(broken)
    repo.add(fine, [later])
    [collection] = [c for c in Repository.outbox_collections() if c.name == "stations"]
    at = datetime(2026, 3, 1, 8, 0)
    collection.update_one({"_id": ObjectId(first.id)}, {"$set": {"outbox": [
        {"id": legacy["id"], "queued_at": at, "envelope": legacy}]}})
    collection.update_one({"_id": ObjectId(broken.id)}, {"$set": {"outbox": [
        {"id": "no-body", "queued_at": at}]}})

    published = []
    assert drain(collection, lambda batch: published.extend(opened(batch))) == 2
    assert sorted(e["id"] for e in published) == sorted([legacy["id"], later["id"]])
    assert [e["id"] for e in raw(Station, broken.id)["outbox"]] == ["no-body"]


def test_a_fresh_repository_shares_nothing_of_another_unit_of_work(repo):
    station = a_station(repo)
    repo.add(station, [created(station)])
    assert Repository().unit.touched == {}


# --- persistence -------------------------------------------------------------------------------


def test_data_survives_a_reconnect(backend, repo):
    station, enterprise, officer = a_station(repo), an_enterprise(repo), an_officer(repo)
    pending = created(enterprise)
    repo.add(station)
    repo.add(enterprise, [pending])
    repo.add(officer)
    repo.append_assignment(repo.get_assignments(enterprise.id), version(NOW, officer.id))
    timeline_event = updated(enterprise)
    repo.record_timeline(timeline_event, enterprise.id, NOW)

    backend.reconnect()
    reopened = Repository()

    assert reopened.get(Station, station.id) == station
    assert reopened.get(Enterprise, enterprise.id) == enterprise
    assert reopened.get(Officer, officer.id) == officer
    assert reopened.get_assignments(enterprise.id).versions == [version(NOW, officer.id)]
    assert held(reopened, officer.id) == [enterprise.id]
    assert [e["event_id"] for e in reopened.timeline(enterprise.id)] == [timeline_event["id"]]
    assert drain_all() == [pending]
    # Unique keys are still enforced after the reopen.
    with pytest.raises(DuplicateCreditCode):
        reopened.add(replace(enterprise, id=reopened.new_id()))


# --- CSV import through the real repository -----------------------------------------------------

ENTERPRISE_HEADER = ("name,credit_code,kind,level,stage,grid_code,park_name,address,workforce,"
                     "migrant_workers,contact_name,contact_phone")


@pytest.fixture
def places(repo):
    station = handlers.create_station(repo, {"name": "Gulou Station", "kind": "station",
                                             "address": "1 Gulou Road", "phone": "110"}, NOW)
    park = handlers.create_park(repo, {"name": "Software Park", "station_id": station.id,
                                       "address": ""}, NOW)
    grid = handlers.create_grid(repo, {"code": "G01", "name": "Riverside",
                                       "station_id": station.id}, NOW)
    drain_all()
    return {"station": station, "park": park, "grid": grid}


def test_a_grid_with_enterprises_keeps_its_station(repo, places):
    other = handlers.create_station(repo, {"name": "Wusi Station", "kind": "station",
                                           "address": "", "phone": ""}, NOW)
    empty = handlers.create_grid(repo, {"code": "G02", "name": "Hillside",
                                        "station_id": places["station"].id}, NOW)
    import_csv(repo, "enterprises", csv_text(row(1)), "all_or_nothing", "admin", NOW)
    drain_all()

    with pytest.raises(InvalidPlace) as refused:
        handlers.update_place(repo, Grid, places["grid"].id, {"station_id": other.id}, NOW)
    moved = handlers.update_place(repo, Grid, empty.id, {"station_id": other.id}, NOW)
    renamed = handlers.update_place(repo, Grid, places["grid"].id, {"name": "Riverbank"}, NOW)

    assert "station_id" in refused.value.errors
    assert repo.get(Grid, places["grid"].id).station_id == places["station"].id
    assert moved.station_id == other.id and renamed.name == "Riverbank"
    assert [e["type"] for e in drain_all()] == ["grid.updated", "grid.updated"]  # not refused


def csv_text(*rows, header=ENTERPRISE_HEADER):
    return "\n".join((header,) + rows) + "\n"


def row(n, grid="G01", park="", workforce="100", migrants="10", phone="13800000000",
        code=None):
    return (f"Works {n},{code or credit_code(n)},enterprise,above_scale,production,{grid},{park},"
            f"{n} Wusi Road,{workforce},{migrants},Contact {n},{phone}")


def test_import_all_or_nothing_with_one_bad_row_imports_nothing(repo, places):
    text = csv_text(row(1), row(2, grid="G77"), row(3, park="Software Park"))
    report = import_csv(repo, "enterprises", text, "all_or_nothing", "admin", NOW)

    assert report == {"kind": "enterprises", "mode": "all_or_nothing", "rows": 3, "imported": 0,
                      "rejected": [{"line": 3, "field": "grid_code",
                                    "reason": "no record named 'G77'"}]}
    assert repo.all(Enterprise) == []
    assert drain_all() == []


def test_import_good_rows_imports_the_good_rows(repo, places):
    text = csv_text(row(1), row(2, workforce="5", migrants="9"), row(3, park="Software Park"),
                    row(4, code="91350100MA00000040"))
    report = import_csv(repo, "enterprises", text, "good_rows", "admin", NOW)

    assert report["rows"] == 4
    assert report["imported"] == 2
    assert report["rejected"] == [
        {"line": 3, "field": "migrant_workers", "reason": "cannot exceed workforce"},
        {"line": 5, "field": "credit_code",
         "reason": f"check character is '0', expected '{credit_code(4)[17]}'"},
    ]
    stored = sorted(repo.all(Enterprise), key=lambda e: e.name)
    assert [e.credit_code for e in stored] == [credit_code(1), credit_code(3)]
    works_3 = stored[1]
    assert works_3.park_id == places["park"].id
    assert works_3.grid_id == places["grid"].id
    assert works_3.station_id == places["station"].id  # taken from the grid
    assert works_3.contact == Contact(name="Contact 3", phone="13800000000")
    assert (works_3.workforce, works_3.migrant_workers) == (100, 10)
    assert sorted(e["type"] for e in drain_all()) == ["enterprise.registered"] * 2


def test_import_reports_a_key_repeated_in_the_file(repo, places):
    text = csv_text(row(1), row(2), row(3, code=credit_code(1)))
    report = import_csv(repo, "enterprises", text, "good_rows", "admin", NOW)
    assert report["imported"] == 2
    assert report["rejected"] == [{"line": 4, "field": "credit_code",
                                   "reason": f"{credit_code(1)} appears earlier in this file"}]

    report = import_csv(repo, "enterprises", csv_text(row(5), row(5)), "all_or_nothing",
                        "admin", NOW)
    assert report["imported"] == 0
    assert [r["line"] for r in report["rejected"]] == [3]
    assert len(repo.all(Enterprise)) == 2


def test_import_reports_a_key_already_registered(repo, places):
    import_csv(repo, "enterprises", csv_text(row(1)), "all_or_nothing", "admin", NOW)
    report = import_csv(repo, "enterprises", csv_text(row(1), row(2)), "good_rows", "admin", NOW)
    assert report["imported"] == 1
    assert report["rejected"] == [{"line": 2, "field": "credit_code",
                                   "reason": f"credit_code '{credit_code(1)}' is already "
                                             "registered"}]


def test_import_names_the_contact_column_that_was_refused(repo, places):
    report = import_csv(repo, "enterprises", csv_text(row(1, phone="call me")), "good_rows",
                        "admin", NOW)
    assert report["imported"] == 0
    assert report["rejected"] == [{"line": 2, "field": "contact_phone",
                                   "reason": "not a phone number"}]


@pytest.mark.parametrize("header, errors", [
    ("name,credit_code,kind,level,stage", {"header": ["missing column 'grid_code'"]}),
    (ENTERPRISE_HEADER + ",favourite_colour", {"header": ["unknown column 'favourite_colour'"]}),
])
def test_import_with_a_bad_header_is_refused_as_a_whole(repo, places, header, errors):
    with pytest.raises(InvalidImport) as refused:
        import_csv(repo, "enterprises", csv_text(row(1), header=header), "good_rows", "admin",
                   NOW)
    assert refused.value.errors == errors
    assert repo.all(Enterprise) == []


def test_import_of_an_empty_file_is_refused(repo, places):
    with pytest.raises(InvalidImport) as refused:
        import_csv(repo, "enterprises", "", "good_rows", "admin", NOW)
    assert refused.value.errors == {"text": ["the file is empty"]}


def test_an_import_the_csv_module_cannot_parse_is_refused_naming_the_line(repo, places):
    huge = "x" * (csv.field_size_limit() + 1)
    with pytest.raises(InvalidImport) as refused:
        import_csv(repo, "enterprises", csv_text(row(1), row(2) + huge), "good_rows", "admin",
                   NOW)
    [reason] = refused.value.errors["text"]
    assert reason.startswith("line 3: ") and "a field is longer than" in reason
    assert repo.all(Enterprise) == []


def test_import_officers_then_assignments(repo, places):
    officers = csv_text(
        "A1001,Officer A,community_officer,Gulou Station,traffic;public_order,13900000001",
        "A1002,Officer B,auxiliary_officer,Gulou Station,,",
        "A1003,Officer C,area_chief,Nowhere Station,,",
        header="badge_number,name,role,station_name,departments,phone")
    report = import_csv(repo, "officers", officers, "good_rows", "admin", NOW)
    assert report["imported"] == 2
    assert report["rejected"] == [{"line": 4, "field": "station_name",
                                   "reason": "no record named 'Nowhere Station'"}]
    a = repo.find_officer_by_badge("A1001")
    assert a.departments == ["traffic", "public_order"]
    assert a.station_id == places["station"].id

    import_csv(repo, "enterprises", csv_text(row(1)), "all_or_nothing", "admin", NOW)
    assignments = csv_text(
        f"{credit_code(1)},A1001,A1002,,,,traffic,2025-04-16T00:00:00Z",
        header="credit_code,a_badge,b_badge,bureau_leader_badge,station_leader_badge,"
               "area_chief_badge,departments,effective_from")
    report = import_csv(repo, "assignments", assignments, "all_or_nothing", "admin", NOW)
    assert report["imported"] == 1 and report["rejected"] == []
    enterprise = repo.find_enterprise_by_credit_code(credit_code(1))
    current = repo.get_assignments(enterprise.id).current()
    assert (current.a_officer_id, current.b_officer_id) == (a.id,
                                                            repo.find_officer_by_badge("A1002").id)
    assert current.valid_from == datetime(2025, 4, 16)
    assert current.changed_by == "admin"
    assert held(repo, a.id) == [enterprise.id]


def test_an_assignment_effective_later_changes_who_is_assigned_only_from_then(repo):
    station = handlers.create_station(repo, {"name": "城东派出所", "kind": "station",
                                             "address": "", "phone": ""}, NOW)
    grid = handlers.create_grid(repo, {"code": "WG-01", "name": "一格",
                                       "station_id": station.id}, NOW)
    enterprise = handlers.register_enterprise(repo, {
        "name": "恒盛纺织", "credit_code": credit_code(7), "kind": "enterprise",
        "level": "other", "stage": "production", "grid_id": grid.id, "park_id": None,
        "address": "", "workforce": 10, "migrant_workers": 0, "contact": {}}, NOW)
    a, b, c = (handlers.register_officer(repo, {
        "badge_number": badge, "name": badge, "role": "community_officer",
        "station_id": station.id, "departments": [], "phone": ""}, NOW).id
        for badge in ("C1001", "C1002", "C1003"))
    handlers.assign(repo, enterprise.id, {"a_officer_id": a, "b_officer_id": b,
                                          "departments": [], "effective_from": NOW},
                    "admin", NOW)
    handlers.assign(repo, enterprise.id, {"a_officer_id": c, "b_officer_id": b,
                                          "departments": [], "effective_from": LATER},
                    "admin", NOW)

    assert handlers.enterprises_assigned_to(repo, a, NOW) == [enterprise.id]
    assert handlers.enterprises_assigned_to(repo, c, NOW) == []
    assert handlers.enterprises_assigned_to(repo, c, LATER) == [enterprise.id]
    assert handlers.enterprises_assigned_to(repo, a, LATER) == []
    assert handlers.enterprises_assigned_to(repo, b, LATER) == [enterprise.id]


def test_an_officers_reach_is_its_seats_now_its_departments_and_its_colleagues(repo):
    station = handlers.create_station(repo, {"name": "城西派出所", "kind": "station",
                                             "address": "", "phone": ""}, NOW)
    grid = handlers.create_grid(repo, {"code": "WG-02", "name": "二格",
                                       "station_id": station.id}, NOW)
    first, second = (handlers.register_enterprise(repo, {
        "name": name, "credit_code": credit_code(n), "kind": "enterprise", "level": "other",
        "stage": "production", "grid_id": grid.id, "park_id": None, "address": "",
        "workforce": 10, "migrant_workers": 0, "contact": {}}, NOW)
        for n, name in ((8, "一厂"), (9, "二厂")))
    a, b, c, chief = (handlers.register_officer(repo, {
        "badge_number": badge, "name": badge, "role": role, "station_id": station.id,
        "departments": departments, "phone": ""}, NOW).id
        for badge, role, departments in (("D1", "community_officer", ["traffic"]),
                                         ("D2", "community_officer", []),
                                         ("D3", "community_officer", []),
                                         ("D4", "area_chief", [])))
    handlers.assign(repo, first.id, {"a_officer_id": a, "b_officer_id": b, "area_chief_id": chief,
                                     "departments": [], "effective_from": NOW}, "admin", NOW)
    handlers.assign(repo, second.id, {"a_officer_id": c, "b_officer_id": a,
                                      "departments": [], "effective_from": NOW}, "admin", NOW)
    handlers.assign(repo, second.id, {"a_officer_id": c, "b_officer_id": b,
                                      "departments": [], "effective_from": LATER}, "admin", NOW)

    reach = handlers.officer_reach(repo, a, NOW)
    assert reach["seats"] == {first.id: ["a_officer"], second.id: ["b_officer"]}
    assert reach["departments"] == ["traffic"]
    assert reach["colleagues"] == sorted({b, c, chief})
    later = handlers.officer_reach(repo, a, LATER)
    assert later["seats"] == {first.id: ["a_officer"]} and c not in later["colleagues"]
    assert handlers.officer_reach(repo, chief, NOW)["seats"] == {first.id: ["area_chief"]}
    nobody = handlers.officer_reach(repo, "5f0000000000000000000000", NOW)
    assert nobody["seats"] == {} and nobody["colleagues"] == []
