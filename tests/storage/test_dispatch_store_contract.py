"""The dispatch repository's contract, run against every storage backend.

Whatever the backend, an incident comes back exactly as it was stored; a change is written
only if the stored version is still the one it was computed from (so an acknowledgement and a
deadline never both win, even from two processes); every pending deadline has its row; and
every event of a change is stored with it until a drain has published it once.

The fixtures here shadow tests/storage/conftest.py's `backend` and `repo` (which are the
registry's) with the same two backends for the "dispatch" alias.
"""
import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import mongoengine
import pytest

from contracts.envelope import decode
from kit import storage
from kit.errors import ValidationFailed
from services.dispatch import handlers
from services.dispatch.domain import Incident, Policy, Recipient
from services.dispatch.exceptions import AcknowledgementTooLate, IncidentNotFound
from services.dispatch.store import ALIAS, Repository
from services.enterprise.exceptions import EnterpriseNotFound

DATABASE = f"liaison_{ALIAS}"

# Stored times keep milliseconds (BSON), so every time here is whole seconds.
NOW = datetime(2025, 4, 15, 8, 30)
POLICY = Policy()
WINDOW = POLICY.window("high")
DUE = NOW + WINDOW  # when the first page of a "high" incident reported at NOW times out


@dataclass
class Backend:
    name: str
    mongo_uri: str | None
    data_dir: Path | None


@pytest.fixture(params=["embedded", "mongodb"])
def backend(request, tmp_path):
    if request.param == "embedded":
        data_dir = tmp_path / "data"
        storage.connect(ALIAS, None, data_dir)
        Repository.ensure_indexes()
        yield Backend("embedded", None, data_dir)
        mongoengine.disconnect(alias=ALIAS)
        return

    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        pytest.skip("MONGO_URI is not set: the MongoDB run of the storage contract is skipped")
    storage.connect(ALIAS, mongo_uri)
    mongoengine.get_connection(ALIAS).drop_database(DATABASE)  # a killed run may have left data
    Repository.ensure_indexes()
    yield Backend("mongodb", mongo_uri, None)
    storage.connect(ALIAS, mongo_uri)
    mongoengine.get_connection(ALIAS).drop_database(DATABASE)
    mongoengine.disconnect(alias=ALIAS)


@pytest.fixture
def repo(backend):
    return Repository()


# --- the registry's answer, faked --------------------------------------------------------------


def seat(name, officer_id, available=True):
    return {"seat": name, "officer_id": officer_id, "badge_number": f"B-{officer_id}",
            "name": f"Officer {officer_id}", "role": "community_officer", "phone": "139",
            "available": available, "absence": None}


def responders_answer(enterprise_id="e1", a_available=True, duty=True):
    """Shaped like the registry's `responders` answer (seats in the registry's order)."""
    return {"enterprise_id": enterprise_id, "enterprise_name": f"Works {enterprise_id}",
            "at": "2025-04-15T08:30:00Z",
            "station": {"id": "s1", "name": "Gulou Station", "kind": "station",
                        "address": "1 Gulou Road", "phone": "110"},
            "to_call": seat("a_officer", "o-a", a_available),
            "seats": [seat("a_officer", "o-a", a_available), seat("b_officer", "o-b"),
                      seat("bureau_leader", "o-bl"), seat("station_leader", "o-sl"),
                      seat("area_chief", "o-ac")],
            "duty_officer": seat("duty_officer", "o-duty") if duty else None,
            "departments": ["traffic"]}


def report(repo, incident_id="i1", enterprise_id="e1", now=NOW, **answer):
    data = {"enterprise_id": enterprise_id, "category": "theft", "priority": "high",
            "description": "Copper cable stolen", "location": "North gate"}
    return handlers.report_incident(
        repo, lambda eid: responders_answer(eid, **answer), incident_id, data,
        {"role": "enterprise", "id": "u1", "enterprise_id": enterprise_id}, POLICY, now)


# --- domain objects built directly ----------------------------------------------------------------

A = Recipient("officer", "o-a", "Officer A", "a_officer")
B = Recipient("officer", "o-b", "Officer B", "b_officer", available=True)
LEADER = Recipient("officer", "o-sl", "Chief Wang", "station_leader", available=False)
TOP = Recipient("officer", "o-bl", "Director Zhao", "bureau_leader")
DUTY = Recipient("officer", "o-duty", "Officer Huang", "duty_officer")
STATION = Recipient("station", "s1", "Gulou Station", "station")


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


def changed(incident, change, now):
    """Apply `change` to the incident; the events it produces, as the handlers derive them."""
    n_notifications, n_audit = len(incident.notifications), len(incident.audit)
    change(incident)
    return handlers.events_since(incident, n_notifications, n_audit, now)


def drain_all():
    published = []
    for collection in Repository.outbox_collections():
        storage.drain(collection, lambda batch: published.extend(storage.opened(batch)))
    return published


def failovers(incident):
    return sum(1 for e in incident.audit if e.kind == "failover")


def pages_to(incident, officer_id):
    return [n for n in incident.notifications
            if n.recipient.id == officer_id and n.step is not None]


# --- round trip -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [
    an_incident,
    a_busy_incident,
    lambda: an_incident(ladder=(), duty=None, station=None),  # flagged at intake, nobody else
], ids=["intake", "every_nested_record", "flagged_without_duty_or_station"])
def test_an_incident_comes_back_as_it_was_stored(repo, make):
    incident = make()
    repo.add_incident(incident, [])

    stored = repo.get_incident(incident.id)

    assert stored == incident
    assert type(stored.ladder) is tuple
    assert all(type(r) is Recipient for r in stored.ladder)


def test_a_changed_incident_comes_back_as_saved(repo):
    incident = an_incident()
    repo.add_incident(incident, [])
    busy = a_busy_incident()

    assert repo.save_incident(busy, 0, []) is True
    assert repo.get_incident("i1") == busy


@pytest.mark.parametrize("incident_id", ["nope", "", "i1 "])
def test_an_unknown_incident_is_not_found(repo, incident_id):
    repo.add_incident(an_incident(), [])
    with pytest.raises(IncidentNotFound) as missing:
        repo.get_incident(incident_id)
    assert missing.value.record_id == incident_id


def test_the_same_incident_id_twice_is_refused_and_changes_nothing(repo):
    first = an_incident()
    repo.add_incident(first, handlers.events_since(first, 0, 0, NOW))
    again = an_incident(enterprise_id="e2")

    with pytest.raises(ValidationFailed) as refused:
        repo.add_incident(again, handlers.events_since(again, 0, 0, NOW))

    assert "id" in refused.value.errors
    assert repo.get_incident("i1") == first
    assert len(drain_all()) == 3  # the refused intake's events were not stored


def test_a_refused_duplicate_leaves_the_existing_deadline_row_alone(repo):
    repo.add_incident(an_incident(), [])
    later = an_incident(now=NOW + timedelta(hours=1))

    with pytest.raises(ValidationFailed):
        repo.add_incident(later, [])

    assert repo.pending_deadlines() == {"i1": DUE}


def test_an_unknown_enterprise_is_refused_and_nothing_is_stored(repo):
    def no_such_enterprise(enterprise_id):
        raise EnterpriseNotFound(enterprise_id)

    with pytest.raises(ValidationFailed) as refused:
        handlers.report_incident(
            repo, no_such_enterprise, "i1",
            {"enterprise_id": "e404", "category": "theft", "priority": "high",
             "description": "x", "location": "y"}, {"role": "officer", "id": "o-a"}, POLICY,
            NOW)

    assert "enterprise_id" in refused.value.errors
    with pytest.raises(IncidentNotFound):
        repo.get_incident("i1")
    assert repo.pending_deadlines() == {}
    assert drain_all() == []


# --- conditional save -----------------------------------------------------------------------------


def test_a_save_at_the_stored_version_writes(repo):
    incident = an_incident()
    repo.add_incident(incident, [])
    events = changed(incident, lambda i: i.fire_deadline(POLICY, DUE), DUE)

    assert repo.save_incident(incident, 0, events) is True

    assert repo.get_incident("i1") == incident
    assert repo.get_incident("i1").version == 1
    assert [e["id"] for e in drain_all()] == [e["id"] for e in events]


def test_a_stale_save_writes_nothing(repo):
    original = an_incident()
    repo.add_incident(original, [])
    winner = repo.get_incident("i1")
    won = changed(winner, lambda i: i.acknowledge(i.notifications[0].id, A.id, NOW), NOW)
    assert repo.save_incident(winner, 0, won)
    loser = an_incident()  # computed from version 0, which is no longer stored
    loser_events = changed(loser, lambda i: i.fire_deadline(POLICY, DUE), DUE)
    assert loser_events

    assert repo.save_incident(loser, 0, loser_events) is False

    assert repo.get_incident("i1") == winner
    published = drain_all()
    assert [e["type"] for e in published] == ["incident.acknowledged"]
    assert repo.pending_deadlines() == {}  # the loser's deadline was not written either


def test_a_save_of_an_unknown_incident_writes_nothing(repo):
    incident = an_incident()
    assert repo.save_incident(incident, 0, handlers.events_since(incident, 0, 0, NOW)) is False
    with pytest.raises(IncidentNotFound):
        repo.get_incident("i1")
    assert drain_all() == []
    assert repo.pending_deadlines() == {}


# --- deadline rows --------------------------------------------------------------------------------


def test_a_new_incident_waiting_for_an_ack_has_its_deadline_row(repo):
    repo.add_incident(an_incident(), [])
    assert repo.pending_deadlines() == {"i1": DUE}


def test_an_incident_flagged_at_intake_has_no_deadline_row(repo):
    repo.add_incident(an_incident(ladder=()), [])
    assert repo.pending_deadlines() == {}


def test_a_failover_moves_the_deadline_row(repo):
    incident = an_incident()
    repo.add_incident(incident, [])
    incident.fire_deadline(POLICY, DUE)

    repo.save_incident(incident, 0, [])

    assert repo.pending_deadlines() == {"i1": DUE + WINDOW}


@pytest.mark.parametrize("settle", [
    lambda i: i.acknowledge(i.notifications[0].id, "o-a", NOW),
    lambda i: i.move_to("cancelled", "u1", NOW),
], ids=["acknowledged", "cancelled"])
def test_a_settled_incident_loses_its_deadline_row(repo, settle):
    incident = an_incident()
    repo.add_incident(incident, [])
    settle(incident)

    repo.save_incident(incident, 0, [])

    assert repo.pending_deadlines() == {}
    assert repo.due_deadlines(DUE + timedelta(days=1)) == []


def test_due_deadlines_are_the_due_ones_earliest_first(repo):
    for incident_id, minutes in (("late", 30), ("first", 0), ("second", 10), ("future", 120)):
        repo.add_incident(an_incident(incident_id, now=NOW + timedelta(minutes=minutes)), [])
    at = NOW + timedelta(minutes=30) + WINDOW  # "late" is due exactly now

    assert repo.due_deadlines(at) == ["first", "second", "late"]
    assert repo.due_deadlines(at, limit=2) == ["first", "second"]
    assert repo.due_deadlines(NOW) == []


def test_incident_figures_count_every_state(repo):
    report(repo, "i1")
    report(repo, "i2")
    incident = repo.get_incident("i2")
    stored_version = incident.version
    changed(incident, lambda i: i.move_to("cancelled", "u1", DUE, "false alarm"), DUE)
    assert repo.save_incident(incident, stored_version, [])

    figures = repo.incident_figures()
    assert figures["notified"] == 1 and figures["cancelled"] == 1
    assert sum(figures.values()) == 2 and figures["resolved"] == 0


def test_due_deadlines_since_a_moment_are_those_that_came_due_from_its_second_on(repo):
    for incident_id, seconds in (("before", -2.5), ("at", 0.4), ("after", 3), ("future", 9)):
        repo.set_deadline(incident_id, DUE + timedelta(seconds=seconds))
    at = DUE + timedelta(seconds=3)

    assert repo.due_deadlines(at, since=DUE) == ["at", "after"]
    assert repo.due_deadlines(at, since=DUE - timedelta(seconds=3)) == ["before", "at", "after"]
    assert repo.due_deadlines(at, since=DUE + timedelta(seconds=4)) == []
    assert repo.due_deadlines(at, since=DUE - timedelta(hours=1)) == ["before", "at", "after"]


def test_a_deadline_set_only_if_earlier_keeps_an_earlier_row(repo):
    repo.set_deadline("i1", DUE, only_earlier=True)
    repo.set_deadline("i1", DUE + WINDOW, only_earlier=True)
    assert repo.pending_deadlines() == {"i1": DUE}
    repo.set_deadline("i1", DUE - WINDOW, only_earlier=True)
    assert repo.pending_deadlines() == {"i1": DUE - WINDOW}
    assert repo.due_deadlines(DUE - WINDOW, since=DUE - WINDOW) == ["i1"]


def test_set_and_drop_deadline(repo):
    repo.set_deadline("i1", DUE)
    repo.set_deadline("i1", DUE + WINDOW)
    repo.set_deadline("i2", DUE)
    assert repo.pending_deadlines() == {"i1": DUE + WINDOW, "i2": DUE}
    repo.drop_deadline("i1")
    repo.drop_deadline("never-there")
    assert repo.pending_deadlines() == {"i2": DUE}


# --- listing --------------------------------------------------------------------------------------


def test_list_incidents_filters_and_puts_the_newest_first(repo):
    other_ladder = (Recipient("officer", "o-x", "Officer X", "a_officer"),)
    repo.add_incident(an_incident("old", "e1", NOW), [])
    repo.add_incident(an_incident("mid", "e2", NOW + timedelta(minutes=1), ladder=other_ladder,
                                  duty=None), [])
    newest = an_incident("new", "e1", NOW + timedelta(minutes=2))
    newest.acknowledge(newest.notifications[0].id, A.id, NOW + timedelta(minutes=3))
    repo.add_incident(newest, [])

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
    incident = an_incident()
    repo.add_incident(incident, [])
    incident.fire_deadline(POLICY, DUE)
    repo.save_incident(incident, 0, [])
    assert [i.id for i in repo.list_incidents(officer_id="o-b")[0]] == ["i1"]
    assert repo.list_incidents(state="notified")[1] == 1


# --- handlers on the real repository -------------------------------------------------------------


def test_report_incident_stores_the_case_its_deadline_and_its_events(repo):
    incident, events = report(repo)

    assert repo.get_incident("i1") == incident
    assert incident.enterprise_name == "Works e1"
    assert [r.id for r in incident.ladder] == ["o-a", "o-b", "o-sl", "o-bl"]
    assert [n.recipient.id for n in incident.notifications] == ["o-a", "o-duty", "s1"]
    assert repo.pending_deadlines() == {"i1": DUE}
    assert [e["type"] for e in events] == ["incident.reported"] + ["notification.issued"] * 3
    assert [e["id"] for e in drain_all()] == [e["id"] for e in events]


def test_report_incident_with_a_absent_pages_b_and_without_duty_officer_skips_the_duty(repo):
    incident, events = report(repo, a_available=False, duty=False)

    stored = repo.get_incident("i1")
    assert stored == incident
    assert stored.duty_officer is None
    assert [(n.recipient.id, n.reason) for n in stored.notifications] == [
        ("o-b", "responsible"), ("s1", "station")]
    assert [e["type"] for e in events] == ["incident.reported"] + ["notification.issued"] * 2
    assert repo.pending_deadlines() == {"i1": DUE}


def test_a_deadline_fires_a_failover_once(repo):
    report(repo)
    later = DUE + timedelta(seconds=3)

    incident, events = handlers.fire_deadline(repo, "i1", POLICY, later)
    assert Counter(e["type"] for e in events) == Counter({
        "incident.page_missed": 1, "incident.failed_over": 1, "notification.issued": 1})
    assert repo.pending_deadlines() == {"i1": later + WINDOW}

    again, more = handlers.fire_deadline(repo, "i1", POLICY, later)

    assert more == []
    stored = repo.get_incident("i1")
    assert stored == incident == again
    assert stored.version == 1
    assert failovers(stored) == 1
    assert len(pages_to(stored, "o-b")) == 1
    assert repo.pending_deadlines() == {"i1": later + WINDOW}
    published = drain_all()
    assert Counter(e["type"] for e in published)["incident.failed_over"] == 1
    assert len(published) == 4 + 3


def test_a_deadline_before_its_time_only_puts_the_row_right(repo):
    report(repo)
    repo.set_deadline("i1", NOW)  # an early row, as a stale sweep may find

    incident, events = handlers.fire_deadline(repo, "i1", POLICY, NOW + timedelta(seconds=1))

    assert events == []
    assert repo.get_incident("i1").version == 0
    assert repo.pending_deadlines() == {"i1": DUE}


def test_a_deadline_row_without_its_incident_is_dropped(repo):
    repo.set_deadline("ghost", NOW)
    assert handlers.fire_deadline(repo, "ghost", POLICY, DUE) == (None, [])
    assert repo.pending_deadlines() == {}


def test_an_acknowledged_incident_does_not_fail_over(repo):
    incident, _ = report(repo)
    handlers.acknowledge(repo, "i1", incident.notifications[0].id, "o-a",
                         NOW + timedelta(seconds=20))
    assert repo.pending_deadlines() == {}
    drain_all()

    stored, events = handlers.fire_deadline(repo, "i1", POLICY, DUE + timedelta(minutes=5))

    assert events == []
    assert stored.state == "acknowledged"
    assert failovers(repo.get_incident("i1")) == 0
    assert repo.get_incident("i1").version == 1
    assert repo.pending_deadlines() == {}
    assert drain_all() == []


def test_a_stale_deadline_row_of_an_acknowledged_incident_is_dropped(repo):
    incident, _ = report(repo)
    handlers.acknowledge(repo, "i1", incident.notifications[0].id, "o-a", NOW)
    repo.set_deadline("i1", DUE)  # as if the row's drop had been lost

    handlers.fire_deadline(repo, "i1", POLICY, DUE)

    assert repo.pending_deadlines() == {}


@pytest.mark.parametrize("first", ["acknowledgement", "deadline"])
def test_an_acknowledgement_and_a_deadline_computed_from_the_same_version_one_wins(repo, first):
    report(repo)
    ack = repo.get_incident("i1")
    fire = repo.get_incident("i1")
    changes = {  # both at the very deadline
        "acknowledgement": (ack, changed(
            ack, lambda i: i.acknowledge(i.notifications[0].id, "o-a", DUE), DUE)),
        "deadline": (fire, changed(fire, lambda i: i.fire_deadline(POLICY, DUE), DUE))}
    second = "deadline" if first == "acknowledgement" else "acknowledgement"
    drain_all()

    assert repo.save_incident(changes[first][0], 0, changes[first][1]) is True
    assert repo.save_incident(changes[second][0], 0, changes[second][1]) is False

    stored = repo.get_incident("i1")
    assert stored == changes[first][0]
    assert stored.version == 1
    assert (stored.state, failovers(stored)) == (
        ("acknowledged", 0) if first == "acknowledgement" else ("notified", 1))
    assert [e["id"] for e in drain_all()] == [e["id"] for e in changes[first][1]]


def test_an_acknowledgement_that_loses_the_race_is_recomputed_and_refused(repo):
    incident, _ = report(repo)
    raced = []

    def acknowledge_while_the_deadline_fires(loaded):
        if not raced:  # the deadline, computed from the same version, is written first
            rival = repo.get_incident("i1")
            rival.fire_deadline(POLICY, DUE)
            raced.append(repo.save_incident(rival, loaded.version, []))
        return loaded.acknowledge(incident.notifications[0].id, "o-a", DUE)

    with pytest.raises(AcknowledgementTooLate):
        handlers.change_incident(repo, "i1", acknowledge_while_the_deadline_fires, DUE)

    assert raced == [True]
    stored = repo.get_incident("i1")
    assert (stored.state, stored.version, failovers(stored)) == ("notified", 1, 1)


def test_a_deadline_that_loses_the_race_is_recomputed_into_nothing(repo):
    incident, _ = report(repo)
    real_save = repo.save_incident
    raced = []

    def save_after_an_acknowledgement(changed, expected_version, events):
        if not raced:
            rival = repo.get_incident("i1")
            rival.acknowledge(incident.notifications[0].id, "o-a", DUE)
            raced.append(real_save(rival, expected_version, []))
        return real_save(changed, expected_version, events)

    repo.save_incident = save_after_an_acknowledgement
    stored, events = handlers.fire_deadline(repo, "i1", POLICY, DUE)

    assert raced == [True]
    assert events == []
    assert (stored.state, stored.version, failovers(stored)) == ("acknowledged", 1, 0)
    assert repo.get_incident("i1") == stored
    assert repo.pending_deadlines() == {}


def test_moving_calling_departments_and_their_acknowledgement_are_stored(repo):
    incident, _ = report(repo)
    officer = {"role": "officer", "id": "o-a"}
    handlers.acknowledge(repo, "i1", incident.notifications[0].id, "o-a", NOW)
    handlers.call_departments(repo, "i1", ["traffic"], officer, NOW)
    handlers.department_acknowledges(repo, "i1", "traffic", {"role": "officer", "id": "d"},
                                     NOW)
    _, events = handlers.move_incident(repo, "i1", "resolved", officer, "done", NOW)
    _, again = handlers.move_incident(repo, "i1", "resolved", officer, "done", NOW)

    stored = repo.get_incident("i1")
    assert (stored.state, stored.closed_at, stored.version) == ("resolved", NOW, 4)
    assert stored.departments[0].acknowledged_by == "d"
    assert [e["type"] for e in events] == ["incident.state_changed", "incident.closed"]
    assert again == []


# --- outbox ---------------------------------------------------------------------------------------


def test_events_are_stored_in_the_incident_and_published_once(repo):
    _, reported = report(repo)
    _, failed_over = handlers.fire_deadline(repo, "i1", POLICY, DUE)
    b_page = pages_to(repo.get_incident("i1"), "o-b")[0]
    _, acknowledged = handlers.acknowledge(repo, "i1", b_page.id, "o-b", DUE)
    [incidents] = [c for c in Repository.outbox_collections() if c.name == "incidents"]
    expected = reported + failed_over + acknowledged

    stored = incidents.find_one({"_id": "i1"})[storage.OUTBOX_FIELD]
    assert [entry["id"] for entry in stored] == [e["id"] for e in expected]
    assert [decode(entry["message"]) for entry in stored] == expected

    published = drain_all()
    assert sorted(e["id"] for e in published) == sorted(e["id"] for e in expected)
    assert len(published) == len(expected) == 4 + 3 + 1
    assert drain_all() == []
    assert incidents.find_one({"_id": "i1"})[storage.OUTBOX_FIELD] == []
    assert repo.get_incident("i1").state == "acknowledged"  # draining leaves the case alone


def test_a_drain_limited_to_one_workers_entries_leaves_the_others(repo):
    report(repo, "i1")
    report(repo, "i2", enterprise_id="e2")
    unit = storage.UnitOfWork()  # records what one worker queued
    worker_repo = Repository(unit)
    _, events = handlers.fire_deadline(worker_repo, "i1", POLICY, DUE)

    [(collection, queued)] = unit.touched.values()
    assert unit.envelopes() == events  # in the order they were queued
    published = []
    storage.drain(collection, lambda batch: published.extend(storage.opened(batch)),
                  only={doc_id: {e["id"] for e in entries} for doc_id, entries in queued.items()})

    assert [e["id"] for e in published] == [e["id"] for e in events]
    assert len(drain_all()) == 2 * 4  # both intakes, still queued


# --- two processes, one store (embedded) ----------------------------------------------------------

N = 100
WORKERS = 2


def fire_all_deadlines(data_dir, incident_ids, now, barrier, fired):
    """A worker process: its own connection, then each deadline at (almost) the same moment
    as the other worker (the barrier lines them up again before every incident, so both load
    the same version). Adds how many failovers it wrote to `fired`."""
    storage.connect(ALIAS, None, data_dir)
    repo = Repository()
    count = 0
    for incident_id in incident_ids:
        barrier.wait(timeout=60)
        _, events = handlers.fire_deadline(repo, incident_id, POLICY, now)
        count += bool(events)
    with fired.get_lock():
        fired.value += count


def test_two_processes_firing_the_same_deadlines_fail_over_each_incident_once(backend, repo):
    if backend.name != "embedded":
        pytest.skip("the cross-process lock is the embedded store's; MongoDB's filtered "
                    "update is atomic by itself")
    ids = [f"i{n:03d}" for n in range(N)]
    for incident_id in ids:
        report(repo, incident_id)
    later = DUE + timedelta(seconds=1)
    assert len(repo.due_deadlines(later)) == N

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(WORKERS)
    fired = spawn.Value("i", 0)
    workers = [spawn.Process(target=fire_all_deadlines,
                             args=(str(backend.data_dir), ids, later, barrier, fired))
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
        stored = repo.get_incident(incident_id)
        assert failovers(stored) == 1, incident_id
        assert sum(1 for e in stored.audit if e.kind == "missed") == 1, incident_id
        assert len(pages_to(stored, "o-b")) == 1, incident_id
        assert stored.version == 1, incident_id
    assert repo.pending_deadlines() == {i: later + WINDOW for i in ids}
    published = Counter(e["type"] for e in drain_all())
    assert published["incident.failed_over"] == N
    assert published["notification.issued"] == N * 3 + N


def test_list_requests_keeps_to_a_reach_of_enterprises_or_the_officer_routed_to(repo):
    from services.dispatch import requests as req

    def request(request_id, enterprise_id, routed_to, minutes):
        made = req.ServiceRequest.submit(request_id, enterprise_id, "other", "text", {},
                                         NOW + timedelta(minutes=minutes), "someone")
        if routed_to is not None:
            made.route(req.Routing(*routed_to), NOW + timedelta(minutes=minutes), "dispatch")
        repo.add_request(made, [])

    request("r1", "e1", ("officer", "o-a"), 1)
    request("r2", "e2", ("officer", "o-x"), 2)
    request("r3", "e2", ("department", "traffic"), 3)
    request("r4", "e3", None, 4)

    def ids(**filters):
        items, total = repo.list_requests(**filters)
        return [r.id for r in items], total

    assert ids() == (["r4", "r3", "r2", "r1"], 4)
    assert ids(reach={"enterprise_ids": ["e3"], "officer_id": "o-x"}) == (["r4", "r2"], 2)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-a"}) == (["r1"], 1)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-a"}, enterprise_id="e2") == ([], 0)
    routed, version = repo.get_request("r2")
    routed.route(req.Routing("officer", "o-a"), NOW + timedelta(minutes=9), "dispatch")
    assert repo.save_request(routed, version, [])
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-a"}) == (["r2", "r1"], 2)
    assert ids(reach={"enterprise_ids": [], "officer_id": "o-x"}) == ([], 0)
