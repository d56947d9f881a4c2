"""Dispatch's use cases on the in-memory store: intake (once per request key or per external
reference), acknowledgement, the deadline that fails over or does nothing, races lost and
recomputed, the case's own course, requests and visits, what mediation's and field work's
events make, and the events each one publishes."""
from collections import Counter
from datetime import datetime, timedelta

import pytest

from contracts.envelope import make_envelope, open_envelope
from contracts.events import FIELDWORK_EVENTS, MEDIATION_EVENTS
from contracts.identities import external_incident_id, verification_visit_id
from kit.errors import ValidationFailed
from kit.tables import MemoryDatabase
from kit.testing import of_type, published
from services.dispatch import handlers
from services.dispatch.domain import Policy
from services.dispatch.exceptions import (AcknowledgementTooLate, ChangedMeanwhile,
                                          IncidentNotFound, InvalidVisit, NotOnCase,
                                          RequestTransitionNotAllowed, VisitRefused)
from services.dispatch.store import Repository
from services.dispatch.visits import Visit, VisitBook, VisitPolicy
from services.enterprise.exceptions import EnterpriseNotFound

NOW = datetime(2025, 4, 15, 8, 30)
POLICY = Policy()
WINDOW = POLICY.window("high")
DUE = NOW + WINDOW
ENTERPRISE = {"role": "enterprise", "id": "u1", "enterprise_id": "e1"}
OFFICER = {"role": "officer", "id": "o-a"}
SUPERVISOR = {"role": "supervisor", "id": "s1"}
INCIDENT = {"enterprise_id": "e1", "category": "theft", "priority": "high",
            "description": "Copper cable stolen", "location": "North gate"}


@pytest.fixture
def repo():
    repository = Repository(MemoryDatabase())
    repository.ensure_indexes()
    return repository


def seat(name, officer_id, available=True):
    return {"seat": name, "officer_id": officer_id, "badge_number": f"B-{officer_id}",
            "name": f"Officer {officer_id}", "role": "community_officer", "phone": "139",
            "available": available, "absence": None}


def responders(enterprise_id="e1", a_available=True, duty=True, liaison=True):
    """Shaped like the registry's `responders` answer (seats in the registry's order)."""
    to_call = seat("a_officer", "o-a", a_available) if a_available else seat("b_officer", "o-b")
    return {"enterprise_id": enterprise_id, "enterprise_name": f"Works {enterprise_id}",
            "station": {"id": "s1", "name": "Gulou Station", "kind": "station",
                        "address": "1 Gulou Road", "phone": "110"},
            "to_call": to_call if liaison else None,
            "seats": [seat("a_officer", "o-a", a_available), seat("b_officer", "o-b"),
                      seat("bureau_leader", "o-bl"), seat("station_leader", "o-sl"),
                      seat("area_chief", "o-ac")],
            "duty_officer": seat("duty_officer", "o-duty") if duty else None,
            "departments": ["traffic"]}


def report(repo, now=NOW, reporter=ENTERPRISE, request_key=None, data=INCIDENT, **answer):
    return handlers.report_incident(repo, lambda eid: responders(eid, **answer), data, POLICY,
                                    now, reporter, request_key)


def types(repo):
    return [e["type"] for e in published(repo.unit)]


def pages_to(incident, officer_id):
    return [n for n in incident.notifications
            if n.recipient.id == officer_id and n.step is not None]


def failovers(incident):
    return sum(1 for e in incident.audit if e.kind == "failover")


def lose_the_first_save_to(collection, rival, new=None):
    """Let `rival(aggregate)` be written between the next change's load and its save (on
    `new()` where nothing is stored yet)."""
    save, raced = collection.save, []

    def save_after_the_rival(aggregate):
        if not raced:
            other = collection.find(aggregate.id) or new()
            rival(other)
            raced.append(save(other))
        return save(aggregate)

    collection.save = save_after_the_rival
    return raced


# --- intake -----------------------------------------------------------------------------------


def test_a_report_stores_the_case_and_its_deadline_row_and_publishes_its_pages(repo):
    incident = report(repo)

    assert repo.incidents.get(incident.id) == incident
    assert (incident.enterprise_name, incident.reporter_id) == ("Works e1", "u1")
    assert [r.id for r in incident.ladder] == ["o-a", "o-b", "o-sl", "o-bl"]
    assert [n.recipient.id for n in incident.notifications] == ["o-a", "o-duty", "s1"]
    assert repo.deadlines.pending() == {incident.id: DUE}
    assert types(repo) == ["incident.reported"] + ["notification.issued"] * 3
    reported = published(repo.unit)[0]
    assert (reported["subject"], reported["source"]) == (incident.id, "/services/dispatch")
    assert reported["data"]["incident_id"] == incident.id
    assert [type(e).__name__ for e in repo.unit.events] == [
        "IncidentReported"] + ["NotificationIssued"] * 3


def test_with_a_absent_b_is_paged_and_without_a_duty_officer_nobody_on_duty_is(repo):
    incident = report(repo, a_available=False, duty=False)

    assert [(n.recipient.id, n.reason) for n in incident.notifications] == [
        ("o-b", "responsible"), ("s1", "station")]
    assert incident.duty_officer is None
    assert types(repo) == ["incident.reported"] + ["notification.issued"] * 2


def test_an_unknown_enterprise_is_refused_and_nothing_is_stored(repo):
    def no_such_enterprise(enterprise_id):
        raise EnterpriseNotFound(enterprise_id)

    with pytest.raises(ValidationFailed) as refused:
        handlers.report_incident(repo, no_such_enterprise, dict(INCIDENT, enterprise_id="e404"),
                                 POLICY, NOW, ENTERPRISE, "u1:k")

    assert "enterprise_id" in refused.value.errors
    assert repo.list_incidents() == ([], 0)
    assert repo.deadlines.pending() == {} and published(repo.unit) == []


def test_a_report_retried_with_its_request_key_is_taken_in_once(repo):
    first = report(repo, request_key="u1:key-1")
    again = report(repo, now=NOW + timedelta(seconds=5), request_key="u1:key-1")
    other = report(repo, request_key="u2:key-1")

    assert again == first and other.id != first.id
    assert repo.list_incidents()[1] == 2
    assert Counter(types(repo))["incident.reported"] == 2


def test_a_report_racing_its_retry_makes_one_incident(repo):
    asked = []

    def registry(enterprise_id):
        if not asked:  # the retry is taken in while this try asks the registry
            asked.append(report(repo, request_key="u1:key-1"))
        return responders(enterprise_id)

    incident = handlers.report_incident(repo, registry, INCIDENT, POLICY, NOW, ENTERPRISE,
                                        "u1:key-1")

    assert incident == asked[0]
    assert repo.list_incidents()[1] == 1
    assert types(repo) == ["incident.reported"] + ["notification.issued"] * 3


def test_an_external_report_delivered_twice_makes_one_incident_reported_by_its_agency(repo):
    external = dict(INCIDENT, source="110", reference="A-1")
    first = report(repo, reporter=None, data=external)
    again = report(repo, reporter=None, data=external)
    other = report(repo, reporter=None, data=dict(external, reference="A-2"))

    assert again == first and other.id != first.id
    assert (first.reporter_role, first.reporter_id) == ("agency", "110")
    assert repo.list_incidents()[1] == 2


# --- mediation's and field work's events -------------------------------------------------------


def opened(catalogue, kind, data, event_id):
    """The event as a consumer opens it (contracts.envelope), its data through its schema."""
    source = "/services/fieldwork" if catalogue is FIELDWORK_EVENTS else "/services/mediation"
    return open_envelope(make_envelope(kind, source, "x", data, catalogue, now=NOW,
                                       event_id=event_id), catalogue)


def patrol_incident(finding_id="f-1"):
    return opened(FIELDWORK_EVENTS, "patrol.incident_raised", {
        "finding_id": finding_id, "patrol_id": "p-1",
        "incident_id": external_incident_id("fieldwork", finding_id), "enterprise_id": "e1",
        "category": "safety_hazard", "priority": "high",
        "description": "Blocked fire exit in the dye house", "location": "Dye house",
        "at": NOW}, f"ev-{finding_id}")


DEADLINE = datetime(2026, 11, 5, 6)


def hazard_order(kind="hazard.order_issued", event_id="ev-order", severity="high",
                 deadline=DEADLINE, enterprise_id="e1", hazard_id="h-1"):
    return opened(FIELDWORK_EVENTS, kind, {
        "station_id": "s1", "park_id": None, "grid_id": "g1", "enterprise_id": enterprise_id,
        "hazard_id": hazard_id, "kind": "fire", "severity": severity, "deadline": deadline,
        "verification_visit_id": verification_visit_id(hazard_id), "at": NOW}, event_id)


def leader_paging(repo, handler, event, **answer):
    return handler(repo, lambda eid: responders(eid, **answer), event, POLICY, NOW)


def test_a_patrol_incident_is_taken_in_once_under_the_id_field_work_named(repo):
    event = patrol_incident()
    first = leader_paging(repo, handlers.take_in_patrol_incident, event)
    again = leader_paging(repo, handlers.take_in_patrol_incident, event)  # redelivered

    assert first.id == event["data"]["incident_id"] == external_incident_id("fieldwork", "f-1")
    assert again == first and repo.list_incidents()[1] == 1
    assert (first.reporter_role, first.reporter_id) == ("agency", "fieldwork")
    assert (first.enterprise_id, first.category, first.priority, first.description,
            first.location) == ("e1", "safety_hazard", "high",
                                "Blocked fire exit in the dye house", "Dye house")
    assert [n.recipient.id for n in first.notifications] == ["o-a", "o-duty", "s1"]
    assert types(repo) == ["incident.reported"] + ["notification.issued"] * 3


def test_a_dispute_risk_pages_the_station_leader_first_once(repo):
    event = opened(MEDIATION_EVENTS, "dispute.risk_flagged", {
        "dispute_id": "d-1", "enterprise_id": "e1", "station_id": "s1", "grade": "critical",
        "flags": ["criminal_may_turn_deadly"], "rule_version": 3, "reasons": ["weapons"],
        "at": NOW}, "ev-risk")
    first = leader_paging(repo, handlers.report_dispute_risk, event)
    again = leader_paging(repo, handlers.report_dispute_risk, event)

    assert again == first and repo.list_incidents()[1] == 1
    assert first.id == external_incident_id("mediation", "ev-risk")
    assert (first.category, first.priority, first.location) == ("dispute", "emergency", "")
    assert first.description == ("dispute d-1 graded critical (criminal_may_turn_deadly) "
                                 "by rules v3")
    assert [r.id for r in first.ladder] == ["o-sl", "o-bl"]
    assert [n.recipient.id for n in first.notifications] == ["o-sl", "o-duty", "s1"]


@pytest.mark.parametrize("severity, priority", [("critical", "emergency"), ("high", "high"),
                                                ("medium", "medium"), ("low", "medium")])
def test_an_overdue_order_pages_the_station_leader_once_at_a_priority_from_its_severity(
        repo, severity, priority):
    event = hazard_order("hazard.order_overdue", event_id="ev-overdue", severity=severity)
    first = leader_paging(repo, handlers.report_overdue_order, event)
    again = leader_paging(repo, handlers.report_overdue_order, event)

    assert again == first and repo.list_incidents()[1] == 1
    assert first.id == external_incident_id("fieldwork", "ev-overdue")
    assert (first.reporter_role, first.reporter_id) == ("agency", "fieldwork")
    assert (first.category, first.priority, first.location) == ("safety_hazard", priority, "")
    assert first.description == (f"hazard h-1 (fire, {severity}) not rectified by its "
                                 f"deadline 2026-11-05 06:00 UTC")
    assert [r.id for r in first.ladder] == ["o-sl", "o-bl"]
    assert [(n.recipient.id, n.reason) for n in first.notifications] == [
        ("o-sl", "responsible"), ("o-duty", "duty"), ("s1", "station")]
    assert types(repo) == ["incident.reported"] + ["notification.issued"] * 3


def test_an_order_naming_no_enterprise_is_refused_and_nothing_is_made(repo):
    with pytest.raises(ValidationFailed) as overdue:
        leader_paging(repo, handlers.report_overdue_order,
                      hazard_order("hazard.order_overdue", enterprise_id=None))
    with pytest.raises(ValidationFailed) as issued:
        verify(repo, hazard_order(enterprise_id=None))

    assert "enterprise_id" in overdue.value.errors and "enterprise_id" in issued.value.errors
    assert repo.list_incidents() == ([], 0) and repo.all_visits() == []


def verify(repo, event, asked=None, **answer):
    def registry(enterprise_id):
        if asked is not None:
            asked.append(enterprise_id)
        return responders(enterprise_id, **answer)

    return handlers.plan_verification(repo, registry, event, VisitPolicy())


def test_an_order_has_its_verification_planned_by_the_a_officer_at_its_deadline(repo):
    outcome = verify(repo, hazard_order(), a_available=False)  # A is away now, not then

    visit = outcome.visit
    assert (outcome.kind, visit.id) == ("planned", verification_visit_id("h-1"))
    assert (visit.officer_id, visit.purpose) == ("o-a", "hazard verification h-1")
    assert (visit.start, visit.end) == (DEADLINE, DEADLINE + timedelta(hours=1))
    assert types(repo) == ["visit.planned"]
    assert published(repo.unit)[0]["subject"] == visit.id


def test_an_order_due_near_a_planned_visit_has_its_verification_merged_into_it(repo):
    plan(repo, "v5", "o-b", 5)
    outcome = verify(repo, hazard_order())

    assert (outcome.kind, outcome.visit.id, outcome.visit.participants) == ("merged", "v5",
                                                                            ["o-a"])
    assert outcome.visit.purpose == "visit 5; hazard verification h-1"
    assert outcome.absorbed.merged_into == "v5"
    merged = published(repo.unit)[-1]
    assert (merged["type"], merged["subject"], merged["data"]["merged_into"]) == (
        "visit.merged", verification_visit_id("h-1"), "v5")


def test_an_order_redelivered_plans_nothing_more_and_asks_nobody(repo):
    verify(repo, hazard_order())
    book = repo.visit_books.get("e1")
    asked = []

    again = verify(repo, hazard_order(), asked)

    assert again.visit.id == verification_visit_id("h-1") and asked == []
    assert repo.visit_books.get("e1").version == book.version
    assert types(repo) == ["visit.planned"]


def test_an_order_for_an_enterprise_with_its_visits_used_up_is_merged_not_refused(repo):
    for day in (2, 9, 16, 23):
        plan(repo, f"v{day}", "o-b", day)
    with pytest.raises(VisitRefused):
        plan(repo, "v-more", "o-b", 13)

    outcome = verify(repo, hazard_order(deadline=datetime(2026, 11, 13, 2)))

    assert (outcome.kind, outcome.visit.id) == ("merged", "v16")
    assert len([v for v in repo.visits_to("e1") if v.merged_into is None]) == 4


def test_an_order_for_an_enterprise_nobody_can_verify_is_refused(repo):
    def seatless(enterprise_id):
        return dict(responders(enterprise_id), seats=[])

    with pytest.raises(InvalidVisit) as refused:
        handlers.plan_verification(repo, seatless, hazard_order(), VisitPolicy())

    assert "enterprise_id" in refused.value.errors
    assert repo.visits_to("e1") == [] and published(repo.unit) == []


# --- the deadline -----------------------------------------------------------------------------


def test_a_deadline_fails_over_once_however_often_it_fires(repo):
    incident = report(repo)
    later = DUE + timedelta(seconds=3)

    fired = handlers.fire_deadline(repo, incident.id, POLICY, later)
    again = handlers.fire_deadline(repo, incident.id, POLICY, later)

    assert again == fired == repo.incidents.get(incident.id)
    assert (fired.version, failovers(fired), len(pages_to(fired, "o-b"))) == (2, 1, 1)
    assert repo.deadlines.pending() == {incident.id: later + WINDOW}
    assert types(repo)[4:] == ["incident.page_missed", "incident.failed_over",
                               "notification.issued"]


def test_a_deadline_before_its_time_only_puts_the_row_right(repo):
    incident = report(repo)
    repo.deadlines.set(incident.id, NOW)  # an early row, as a stale sweep may find

    handlers.fire_deadline(repo, incident.id, POLICY, NOW + timedelta(seconds=1))

    assert repo.incidents.get(incident.id).version == 1
    assert repo.deadlines.pending() == {incident.id: DUE}
    assert len(published(repo.unit)) == 4


def test_a_deadline_row_without_its_incident_is_dropped(repo):
    repo.deadlines.set("ghost", NOW)
    assert handlers.fire_deadline(repo, "ghost", POLICY, DUE) is None
    assert repo.deadlines.pending() == {}


def test_an_acknowledged_incident_does_not_fail_over_and_loses_a_stale_row(repo):
    incident = report(repo)
    handlers.acknowledge(repo, incident.id, incident.notifications[0].id, "o-a",
                         NOW + timedelta(seconds=20))
    assert repo.deadlines.pending() == {}
    repo.deadlines.set(incident.id, DUE)  # as if the row's drop had been lost

    stored = handlers.fire_deadline(repo, incident.id, POLICY, DUE + timedelta(minutes=5))

    assert (stored.state, stored.version, failovers(stored)) == ("acknowledged", 2, 0)
    assert repo.deadlines.pending() == {}
    assert types(repo)[4:] == ["incident.acknowledged"]
    assert published(repo.unit)[4]["data"]["latency_seconds"] == 20.0


def test_an_acknowledgement_that_loses_the_race_to_the_deadline_is_refused(repo):
    incident = report(repo)
    raced = lose_the_first_save_to(repo.incidents, lambda i: i.fire_deadline(POLICY, DUE))

    with pytest.raises(AcknowledgementTooLate):
        handlers.acknowledge(repo, incident.id, incident.notifications[0].id, "o-a", DUE)

    assert raced == [True]
    stored = repo.incidents.get(incident.id)
    assert (stored.state, stored.version, failovers(stored)) == ("notified", 2, 1)
    assert "incident.acknowledged" not in types(repo)


def test_a_deadline_that_loses_the_race_to_an_acknowledgement_does_nothing(repo):
    incident = report(repo)
    raced = lose_the_first_save_to(
        repo.incidents, lambda i: i.acknowledge(incident.notifications[0].id, "o-a", DUE))

    stored = handlers.fire_deadline(repo, incident.id, POLICY, DUE)

    assert raced == [True]
    assert (stored.state, stored.version, failovers(stored)) == ("acknowledged", 2, 0)
    assert repo.deadlines.pending() == {}
    assert types(repo)[4:] == ["incident.acknowledged"]


# --- the case's own course --------------------------------------------------------------------


def test_moving_calling_departments_and_their_acknowledgement_are_stored(repo):
    incident = report(repo)
    handlers.acknowledge(repo, incident.id, incident.notifications[0].id, "o-a", NOW)
    handlers.call_departments(repo, incident.id, ["traffic"], OFFICER, NOW)
    handlers.call_departments(repo, incident.id, ["traffic"], OFFICER, NOW)  # nothing new
    handlers.department_acknowledges(repo, incident.id, "traffic", {"role": "officer",
                                                                    "id": "d"}, NOW)
    handlers.move_incident(repo, incident.id, "resolved", OFFICER, "done", NOW)
    handlers.move_incident(repo, incident.id, "resolved", OFFICER, "done", NOW)  # done already

    stored = repo.incidents.get(incident.id)
    assert (stored.state, stored.closed_at, stored.version) == ("resolved", NOW, 5)
    assert stored.departments[0].acknowledged_by == "d"
    assert types(repo)[4:] == ["incident.acknowledged", "notification.issued",
                               "department.acknowledged", "incident.state_changed",
                               "incident.closed"]
    [closed] = of_type(published(repo.unit), "incident.closed")
    assert closed["data"]["officer_ids"] == ["o-a", "o-duty"]


def test_an_officer_not_on_the_case_may_not_move_it_and_nothing_changes(repo):
    incident = report(repo)
    with pytest.raises(NotOnCase):
        handlers.move_incident(repo, incident.id, "cancelled", {"role": "officer", "id": "o-x"},
                               "", NOW)
    assert repo.incidents.get(incident.id).version == 1


def test_a_change_to_an_unknown_incident_is_not_found(repo):
    with pytest.raises(IncidentNotFound):
        handlers.acknowledge(repo, "nope", "nope-n1", "o-a", NOW)


def test_a_change_that_always_loses_the_race_gives_up_with_changed_meanwhile(repo):
    incident = report(repo)
    save = repo.incidents.save

    def always_overtaken(aggregate):
        other = repo.incidents.get(aggregate.id)
        other.call_departments([f"d{other.version}"], "o-a", NOW)
        save(other)
        return save(aggregate)

    repo.incidents.save = always_overtaken
    with pytest.raises(ChangedMeanwhile) as busy:
        handlers.call_departments(repo, incident.id, ["traffic"], OFFICER, NOW)
    assert "incident_id" in busy.value.errors


# --- requests ---------------------------------------------------------------------------------


def submit(repo, service_code="legal_consultation", attributes=None, request_key=None,
           **answer):
    data = {"enterprise_id": "e1", "service_code": service_code, "description": "Please help",
            "attributes": attributes or {"topic": "labour_dispute"}}
    return handlers.submit_request(repo, lambda eid: responders(eid, **answer), data,
                                   ENTERPRISE, NOW, request_key)


def test_a_request_is_routed_on_submission_to_its_liaison_officer_or_department(repo):
    consultation = submit(repo)
    permit = submit(repo, "permits", {"permit_type": "explosives"})
    waiting = submit(repo, liaison=False)

    assert consultation.routed_to.target == "o-a" and consultation.status == "routed"
    assert (permit.routed_to.kind, permit.routed_to.target) == ("department", "public_order")
    assert (waiting.status, waiting.routed_to) == ("submitted", None)
    assert repo.requests.get(consultation.id) == consultation
    assert types(repo) == ["request.submitted", "request.routed"] * 2 + ["request.submitted"]
    routed = published(repo.unit)[1]
    assert (routed["data"]["actor"], routed["data"]["note"]) == ("dispatch",
                                                                 "routed on submission")


def test_a_request_retried_with_its_request_key_is_taken_in_once(repo):
    first = submit(repo, request_key="u1:req-1")
    again = submit(repo, request_key="u1:req-1")
    assert again == first and repo.list_requests()[1] == 1
    assert types(repo) == ["request.submitted", "request.routed"]


def test_a_request_for_an_unknown_enterprise_is_refused(repo):
    def no_such_enterprise(enterprise_id):
        raise EnterpriseNotFound(enterprise_id)

    with pytest.raises(ValidationFailed) as refused:
        handlers.submit_request(repo, no_such_enterprise,
                                {"enterprise_id": "e404", "service_code": "other",
                                 "description": "x", "attributes": {}}, ENTERPRISE, NOW)
    assert "enterprise_id" in refused.value.errors
    assert repo.list_requests() == ([], 0)


def test_a_request_is_handled_closed_and_rated_once(repo):
    request = submit(repo)
    for command, actor in (({"step": "start", "note": "called"}, OFFICER),
                           ({"step": "close", "note": "answered by video"}, OFFICER),
                           ({"step": "rate", "rating": 5}, ENTERPRISE)):
        handlers.request_step(repo, request.id, command, actor, NOW + timedelta(hours=1))
    with pytest.raises(RequestTransitionNotAllowed):
        handlers.request_step(repo, request.id, {"step": "rate", "rating": 1}, ENTERPRISE, NOW)
    with pytest.raises(NotOnCase):
        handlers.request_step(repo, request.id, {"step": "close", "note": "x"}, ENTERPRISE, NOW)

    stored = repo.requests.get(request.id)
    assert (stored.status, stored.rating, stored.version) == ("closed", 5, 4)
    assert types(repo)[2:] == ["request.started", "request.closed", "request.rated"]
    assert published(repo.unit)[-1]["data"]["rating"] == 5


# --- visits -----------------------------------------------------------------------------------


def plan(repo, visit_id, officer, day, hour=2):
    data = {"enterprise_id": "e1", "purpose": f"visit {day}",
            "start": datetime(2026, 11, day, hour), "end": datetime(2026, 11, day, hour + 1)}
    return handlers.plan_visit(repo, visit_id, data, officer, VisitPolicy())


def test_visits_are_planned_merged_nearby_and_refused_past_the_limit(repo):
    outcomes = [plan(repo, f"v{day}", "o-a", day).kind for day in (2, 5, 8, 11)]
    merged = plan(repo, "v-b", "o-b", 5, hour=6)
    with pytest.raises(VisitRefused):
        plan(repo, "v-late", "o-a", 14)

    assert outcomes == ["planned"] * 4
    assert (merged.kind, merged.visit.id, merged.visit.participants) == ("merged", "v5",
                                                                         ["o-b"])
    assert merged.absorbed.merged_into == "v5"
    assert [v.id for v in repo.visits_to("e1")] == ["v2", "v5", "v8", "v11", "v-b"]
    assert types(repo) == ["visit.planned"] * 4 + ["visit.merged"]
    assert published(repo.unit)[-1]["subject"] == "v-b"


def test_two_officers_racing_for_the_last_slot_one_is_refused(repo):
    for day in (2, 5, 8):
        plan(repo, f"v{day}", "o-a", day)
    lose_the_first_save_to(repo.visit_books, lambda book: book.plan(
        Visit("v-rival", "e1", "o-b", "rival", datetime(2026, 11, 11, 2),
              datetime(2026, 11, 11, 3)), VisitPolicy()))

    with pytest.raises(VisitRefused):
        plan(repo, "v14", "o-a", 14)

    assert [v.id for v in repo.visits_to("e1")] == ["v2", "v5", "v8", "v-rival"]


def test_the_first_visits_to_an_enterprise_planned_at_once_are_both_kept(repo):
    raced = lose_the_first_save_to(repo.visit_books, lambda book: book.plan(
        Visit("v-rival", "e1", "o-b", "rival", datetime(2026, 11, 20, 2),
              datetime(2026, 11, 20, 3)), VisitPolicy()), new=lambda: VisitBook("e1"))

    outcome = plan(repo, "v2", "o-a", 2)

    assert raced == [True] and outcome.kind == "planned"
    assert [v.id for v in repo.visits_to("e1")] == ["v-rival", "v2"]
    assert repo.visit_books.get("e1").version == 2


def test_cadence_counts_every_officer_on_a_visit(repo):
    plan(repo, "v1", "o-lead", 2)
    plan(repo, "v2", "o-a", 2, hour=3)  # merged into v1: o-a visited too
    rows = handlers.cadence(repo, [{"enterprise_id": "e1", "bureau_leader_id": "o-lead",
                                    "a_officer_id": "o-a"},
                                   {"enterprise_id": "e2", "bureau_leader_id": "o-lead",
                                    "a_officer_id": "o-a"}], datetime(2026, 11, 4))
    assert [(r["enterprise_id"], r["compliant"]) for r in rows] == [("e1", True),
                                                                    ("e2", False)]
