"""The dispatch repository's contract, on the in-memory fake, the embedded store and MongoDB
(when MONGO_URI is set): what it adds to the kit's collections.

An incident, a request and a visit book come back exactly as stored; every pending deadline
has its row, never later than the incident's own deadline; listings are newest first and
keep to a caller's reach; each aggregate's events wait in an outbox table the repository
names; and two processes firing the same deadlines fail each incident over once.
"""
import multiprocessing
from collections import Counter
from datetime import datetime, timedelta

import pytest

from kit import storage
from kit.storage import open_database
from kit.testing import backend_fixture, published
from services.dispatch import handlers
from services.dispatch.domain import STATES, Incident, Policy, Recipient
from services.dispatch.exceptions import IncidentExists, IncidentNotFound
from services.dispatch.service_requests import Routing, ServiceRequest
from services.dispatch.store import Repository
from services.dispatch.visits import Visit, VisitBook

backend = backend_fixture("dispatch")

# Stored times keep milliseconds (BSON), so every time here is whole seconds.
NOW = datetime(2025, 4, 15, 8, 30)
POLICY = Policy()
WINDOW = POLICY.window("high")
DUE = NOW + WINDOW  # when the first page of a "high" incident reported at NOW times out

A = Recipient("officer", "o-a", "Officer A", "a_officer")
B = Recipient("officer", "o-b", "Officer B", "b_officer", available=True)
LEADER = Recipient("officer", "o-sl", "Chief Wang", "station_leader", available=False)
TOP = Recipient("officer", "o-bl", "Director Zhao", "bureau_leader")
DUTY = Recipient("officer", "o-duty", "Officer Huang", "duty_officer")
STATION = Recipient("station", "s1", "Gulou Station", "station")


@pytest.fixture
def repo(backend):
    repository = Repository(backend.database)
    repository.ensure_indexes()
    return repository


def an_incident(incident_id="i1", enterprise_id="e1", now=NOW, ladder=(A, B, LEADER, TOP),
                duty=DUTY, station=STATION):
    return Incident.report(incident_id, enterprise_id, "Minjiang Works", "s1", "theft", "high",
                           "Copper cable stolen", "North gate", "enterprise", "u1", ladder,
                           duty, station, POLICY, now)


def a_busy_incident():
    """Every nested record in use: failover, receipt, acknowledgement, departments, closure."""
    incident = an_incident()
    incident.fire_deadline(POLICY, DUE)
    incident.fire_deadline(POLICY, DUE + WINDOW)  # B silent: past the absent leader to the top
    [duty] = [n for n in incident.notifications if n.reason == "duty"]
    incident.acknowledge(duty.id, DUTY.id, DUE + WINDOW + timedelta(seconds=1))
    top_page = incident.notifications[-1]
    incident.acknowledge(top_page.id, TOP.id, DUE + WINDOW + timedelta(seconds=30))
    incident.call_departments(["traffic", "fire"], TOP.id, DUE + WINDOW + timedelta(minutes=1))
    incident.department_acknowledges("fire", "desk-7", DUE + WINDOW + timedelta(minutes=2))
    incident.move_to("on_scene", TOP.id, DUE + WINDOW + timedelta(minutes=10), "arrived")
    incident.move_to("resolved", TOP.id, DUE + WINDOW + timedelta(hours=1), "cable recovered")
    return incident


def drain_all(repo):
    sent = []
    for table in repo.outbox_tables():
        storage.drain(table, lambda batch: sent.extend(storage.opened(batch)))
    return sent


def failovers(incident):
    return sum(1 for e in incident.audit if e.kind == "failover")


# --- round trips ------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    an_incident,
    a_busy_incident,
    lambda: an_incident(ladder=(), duty=None, station=None),  # flagged at intake, nobody else
], ids=["intake", "every_nested_record", "flagged_without_duty_or_station"])
def test_an_incident_comes_back_as_it_was_stored(repo, make):
    incident = repo.incidents.add(make())

    stored = repo.incidents.get(incident.id)

    assert stored == incident and stored.version == 1
    assert type(stored.ladder) is tuple
    assert all(type(r) is Recipient for r in stored.ladder)


def test_a_request_and_a_visit_book_come_back_as_stored(repo):
    request = ServiceRequest.submit("r1", "e1", "appointment_booking", "Please",
                                    {"preferred_time": "2025-04-17T09:00:00+08:00",
                                     "attendees": 3}, NOW, "u1")
    request.route(Routing("officer", "o-a"), NOW, "dispatch")
    repo.requests.add(request)
    book = VisitBook("e1")
    book.plan(Visit("v1", "e1", "o-a", "check", NOW, NOW + timedelta(hours=1)))
    book.plan(Visit("v2", "e1", "o-b", "cctv", NOW, NOW + timedelta(hours=1)))
    repo.visit_books.add(book)

    assert repo.requests.get("r1") == request
    assert repo.requests.get("r1").attributes["preferred_time"] == datetime(2025, 4, 17, 1)
    assert repo.visit_books.get("e1") == book
    assert repo.visits_to("e1") == book.visits and repo.visits_to("e2") == []
    assert repo.all_visits() == book.visits


@pytest.mark.parametrize("incident_id", ["nope", "", "i1 "])
def test_an_unknown_incident_is_not_found(repo, incident_id):
    repo.incidents.add(an_incident())
    with pytest.raises(IncidentNotFound) as missing:
        repo.incidents.get(incident_id)
    assert missing.value.record_id == incident_id


def test_the_same_incident_id_twice_is_refused_and_changes_nothing(repo):
    first = repo.incidents.add(an_incident())

    with pytest.raises(IncidentExists) as refused:
        repo.incidents.add(an_incident(enterprise_id="e2", now=NOW + timedelta(hours=1)))

    assert "id" in refused.value.errors
    assert repo.incidents.get("i1") == first
    assert repo.deadlines.pending() == {"i1": DUE}  # the existing row is left alone
    assert len(drain_all(repo)) == 4  # the refused intake's events were not stored


# --- deadline rows ----------------------------------------------------------------------------


def test_a_new_incident_waiting_for_an_ack_has_its_deadline_row(repo):
    repo.incidents.add(an_incident())
    repo.incidents.add(an_incident("flagged", ladder=()))
    assert repo.deadlines.pending() == {"i1": DUE}


def test_a_failover_moves_the_deadline_row(repo):
    repo.incidents.add(an_incident())
    repo.incidents.change("i1", lambda incident: incident.fire_deadline(POLICY, DUE))
    assert repo.deadlines.pending() == {"i1": DUE + WINDOW}


@pytest.mark.parametrize("settle", [
    lambda i: i.acknowledge(i.notifications[0].id, "o-a", NOW),
    lambda i: i.move_to("cancelled", "u1", NOW),
], ids=["acknowledged", "cancelled"])
def test_a_settled_incident_loses_its_deadline_row(repo, settle):
    repo.incidents.add(an_incident())
    repo.incidents.change("i1", settle)
    assert repo.deadlines.pending() == {}
    assert repo.deadlines.due(DUE + timedelta(days=1)) == []


def test_a_stale_save_writes_neither_the_incident_nor_its_deadline_row(repo):
    repo.incidents.add(an_incident())
    winner, loser = repo.incidents.get("i1"), repo.incidents.get("i1")
    winner.acknowledge(winner.notifications[0].id, A.id, NOW)
    loser.fire_deadline(POLICY, DUE)

    assert repo.incidents.save(winner) is True
    assert repo.incidents.save(loser) is False

    assert repo.incidents.get("i1") == winner
    assert repo.deadlines.pending() == {}
    assert [e["type"] for e in drain_all(repo)][4:] == ["incident.acknowledged"]


def test_due_deadlines_are_the_due_ones_earliest_first(repo):
    for incident_id, minutes in (("late", 30), ("first", 0), ("second", 10), ("future", 120)):
        repo.incidents.add(an_incident(incident_id, now=NOW + timedelta(minutes=minutes)))
    at = NOW + timedelta(minutes=30) + WINDOW  # "late" is due exactly now

    assert repo.deadlines.due(at) == ["first", "second", "late"]
    assert repo.deadlines.due(at, limit=2) == ["first", "second"]
    assert repo.deadlines.due(NOW) == []


def test_due_deadlines_since_a_moment_are_those_that_came_due_from_its_second_on(repo):
    for incident_id, seconds in (("before", -2.5), ("at", 0.4), ("after", 3), ("future", 9)):
        repo.deadlines.set(incident_id, DUE + timedelta(seconds=seconds))
    at = DUE + timedelta(seconds=3)

    assert repo.deadlines.due(at, since=DUE) == ["at", "after"]
    assert repo.deadlines.due(at, since=DUE - timedelta(seconds=3)) == ["before", "at", "after"]
    assert repo.deadlines.due(at, since=DUE + timedelta(seconds=4)) == []
    assert repo.deadlines.due(at, since=DUE - timedelta(hours=1)) == ["before", "at", "after"]


def test_a_deadline_set_only_if_earlier_keeps_an_earlier_row(repo):
    repo.deadlines.set("i1", DUE, only_earlier=True)
    repo.deadlines.set("i1", DUE + WINDOW, only_earlier=True)
    assert repo.deadlines.pending() == {"i1": DUE}
    repo.deadlines.set("i1", DUE - WINDOW, only_earlier=True)
    assert repo.deadlines.pending() == {"i1": DUE - WINDOW}
    assert repo.deadlines.due(DUE - WINDOW, since=DUE - WINDOW) == ["i1"]


def test_set_and_drop_deadline(repo):
    repo.deadlines.set("i1", DUE)
    repo.deadlines.set("i1", DUE + WINDOW)
    repo.deadlines.set("i2", DUE)
    assert repo.deadlines.pending() == {"i1": DUE + WINDOW, "i2": DUE}
    repo.deadlines.drop("i1")
    repo.deadlines.drop("never-there")
    assert repo.deadlines.pending() == {"i2": DUE}


# --- listings and figures ---------------------------------------------------------------------


def test_incident_figures_count_every_state(repo):
    repo.incidents.add(an_incident("i1"))
    repo.incidents.add(an_incident("i2"))
    repo.incidents.change("i2", lambda i: i.move_to("cancelled", "u1", DUE, "false alarm"))

    figures = repo.incident_figures()
    assert figures["notified"] == 1 and figures["cancelled"] == 1
    assert sum(figures.values()) == 2 and figures["resolved"] == 0


def test_a_store_kept_without_figures_is_counted_once_at_start(repo, backend):
    repo.incidents.add(an_incident("i1"))
    repo.incidents.add(an_incident("i2"))
    repo.incidents.change("i2", lambda i: i.move_to("cancelled", "u1", DUE, "false alarm"))
    backend.database.table("figures").delete({"_id": "incidents"})
    Repository(backend.database).ensure_indexes()
    assert repo.incident_figures() == dict(dict.fromkeys(STATES, 0), notified=1, cancelled=1)


def test_list_incidents_filters_and_puts_the_newest_first(repo):
    other_ladder = (Recipient("officer", "o-x", "Officer X", "a_officer"),)
    repo.incidents.add(an_incident("old", "e1", NOW))
    repo.incidents.add(an_incident("mid", "e2", NOW + timedelta(minutes=1), ladder=other_ladder,
                                   duty=None))
    newest = an_incident("new", "e1", NOW + timedelta(minutes=2))
    newest.acknowledge(newest.notifications[0].id, A.id, NOW + timedelta(minutes=3))
    repo.incidents.add(newest)

    def ids(**filters):
        items, total = repo.list_incidents(**filters)
        return [i.id for i in items], total

    assert ids() == (["new", "mid", "old"], 3)
    assert ids(enterprise_id="e1") == (["new", "old"], 2)
    assert ids(officer_id="o-a") == (["new", "old"], 2)
    assert ids(officer_id="o-x") == (["mid"], 1)
    assert ids(officer_id="o-duty") == (["new", "old"], 2)  # the duty officer was notified
    assert ids(officer_id="o-b") == ([], 0)  # B was never paged
    assert ids(state="acknowledged") == (["new"], 1)
    assert ids(state="notified", enterprise_id="e1") == (["old"], 1)
    assert ids(skip=1, limit=1) == (["mid"], 3)
    assert repo.list_incidents()[0][0] == newest

    # a scope's reach: the incidents of these enterprises, or those paging this officer
    assert ids(reach={"enterprise_ids": ["e2"], "officer_id": "o-a"}) == (["new", "mid", "old"], 3)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-x"}) == (["mid"], 1)
    assert ids(reach={"enterprise_ids": ["e1"], "officer_id": None}) == (["new", "old"], 2)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-b"}) == ([], 0)
    assert ids(reach={"enterprise_ids": ["e2"], "officer_id": "o-b"},
               enterprise_id="e1") == ([], 0)  # the reach narrows, never widens, a filter


def test_the_officer_filter_follows_the_stored_changes(repo):
    repo.incidents.add(an_incident())
    repo.incidents.change("i1", lambda incident: incident.fire_deadline(POLICY, DUE))
    assert [i.id for i in repo.list_incidents(officer_id="o-b")[0]] == ["i1"]
    assert repo.list_incidents(state="notified")[1] == 1


def test_list_requests_keeps_to_a_reach_of_enterprises_or_the_officer_routed_to(repo):
    def request(request_id, enterprise_id, routed_to, minutes):
        made = ServiceRequest.submit(request_id, enterprise_id, "other", "text", {},
                                     NOW + timedelta(minutes=minutes), "someone")
        if routed_to is not None:
            made.route(Routing(*routed_to), NOW + timedelta(minutes=minutes), "dispatch")
        repo.requests.add(made)

    request("r1", "e1", ("officer", "o-a"), 1)
    request("r2", "e2", ("officer", "o-x"), 2)
    request("r3", "e2", ("department", "traffic"), 3)
    request("r4", "e3", None, 4)

    def ids(**filters):
        items, total = repo.list_requests(**filters)
        return [r.id for r in items], total

    assert ids() == (["r4", "r3", "r2", "r1"], 4)
    assert ids(status="submitted") == (["r4"], 1)
    assert ids(enterprise_id="e2", limit=1) == (["r3"], 2)
    assert ids(reach={"enterprise_ids": ["e3"], "officer_id": "o-x"}) == (["r4", "r2"], 2)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-a"}) == (["r1"], 1)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-a"}, enterprise_id="e2") == ([], 0)
    repo.requests.change("r2", lambda r: r.route(Routing("officer", "o-a"),
                                                 NOW + timedelta(minutes=9), "dispatch"))
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-a"}) == (["r2", "r1"], 2)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-x"}) == ([], 0)


# --- outbox -----------------------------------------------------------------------------------


def test_every_aggregates_events_wait_in_a_named_outbox_table_until_drained_once(repo):
    repo.incidents.add(an_incident())
    request = ServiceRequest.submit("r1", "e1", "other", "text", {}, NOW, "u1")
    repo.requests.add(request)
    repo.visit_books.change("e1", lambda b: b.plan(Visit("v1", "e1", "o-a", "check", NOW,
                                                         NOW + timedelta(hours=1))),
                            new=VisitBook)
    queued = published(repo.unit)

    sent = drain_all(repo)

    assert sorted(e["id"] for e in sent) == sorted(e["id"] for e in queued)
    assert Counter(e["type"] for e in sent) == Counter({
        "incident.reported": 1, "notification.issued": 3, "request.submitted": 1,
        "visit.planned": 1})
    assert drain_all(repo) == []
    assert repo.incidents.get("i1").version == 1  # draining leaves the aggregates alone


# --- two processes, one store -----------------------------------------------------------------

N = 100
WORKERS = 2


def fire_all_deadlines(mongo_uri, data_dir, incident_ids, now, barrier, fired):
    """A worker process: its own connection, then each deadline at (almost) the same moment
    as the other worker (the barrier lines them up again before every incident, so both load
    the same version). Adds how many failovers it wrote to `fired`."""
    repo = Repository(open_database("dispatch", mongo_uri, data_dir))
    count = 0
    for incident_id in incident_ids:
        barrier.wait(timeout=60)
        before = len(repo.unit.events)
        handlers.fire_deadline(repo, incident_id, POLICY, now)
        count += len(repo.unit.events) > before
    with fired.get_lock():
        fired.value += count


def test_two_processes_firing_the_same_deadlines_fail_over_each_incident_once(backend, repo):
    if backend.name == "memory":
        pytest.skip("the fake lives in one process")
    ids = [f"i{n:03d}" for n in range(N)]
    for incident_id in ids:
        repo.incidents.add(an_incident(incident_id))
    later = DUE + timedelta(seconds=1)
    assert len(repo.deadlines.due(later)) == N

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(WORKERS)
    fired = spawn.Value("i", 0)
    data_dir = None if backend.data_dir is None else str(backend.data_dir)
    workers = [spawn.Process(target=fire_all_deadlines,
                             args=(backend.mongo_uri, data_dir, ids, later, barrier, fired))
               for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    for worker in workers:
        if worker.is_alive():
            worker.kill()
    assert [w.exitcode for w in workers] == [0] * WORKERS

    assert fired.value == N
    for incident_id in ids:
        stored = repo.incidents.get(incident_id)
        assert failovers(stored) == 1, incident_id
        assert sum(1 for e in stored.audit if e.kind == "missed") == 1, incident_id
        assert stored.version == 2, incident_id
    assert repo.deadlines.pending() == {i: later + WINDOW for i in ids}
    sent = Counter(e["type"] for e in drain_all(repo))
    assert sent["incident.failed_over"] == N
    assert sent["notification.issued"] == N * 3 + N
