"""Incident rules: one alert pushed to three recipients, the acknowledgement window, A/B
failover, the ladder up to the top, who may acknowledge, the case's own course, departments,
and the events a change produces. Pure domain: fixed times, nothing sleeps."""
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from contracts.envelope import make_envelope, open_envelope
from contracts.events import DISPATCH_EVENTS, DISPATCH_SOURCE
from services.dispatch.domain import (CLOSED_STATES, TRANSITIONS, AuditEntry, DepartmentCall,
                                      Incident, Policy, Recipient, ladder_from_responders)
from services.dispatch.exceptions import (AckNotAllowed, AcknowledgementTooLate,
                                          IncidentClosed, NotOnCase, TransitionRefused)

NOW = datetime(2025, 4, 15, 8, 30)
POLICY = Policy()
WINDOW = timedelta(seconds=300)  # "high", the priority used unless a test says otherwise

A = Recipient("officer", "o-a", "Officer Chen", "a_officer")
B = Recipient("officer", "o-b", "Officer Lin", "b_officer")
STATION_LEADER = Recipient("officer", "o-sl", "Chief Wang", "station_leader")
BUREAU_LEADER = Recipient("officer", "o-bl", "Director Zhao", "bureau_leader")
LADDER = (A, B, STATION_LEADER, BUREAU_LEADER)
DUTY = Recipient("officer", "o-duty", "Officer Huang", "duty_officer")
STATION = Recipient("station", "s1", "Gulou Station", "station")


def absent(recipient):
    return replace(recipient, available=False)


def reported(ladder=LADDER, duty=DUTY, station=STATION, priority="high", policy=POLICY,
             now=NOW):
    return Incident.report("i1", "e1", "Minjiang Works", "s1", "theft", priority,
                           "Copper cable stolen from the yard", "North gate", "enterprise",
                           "u1", ladder, duty, station, policy, now)


def page_to(incident, recipient):
    """The latest page (a notification awaiting an acknowledgement) sent to `recipient`."""
    return [n for n in incident.notifications
            if n.recipient == recipient and n.step is not None][-1]


def duty_notification(incident):
    [found] = [n for n in incident.notifications if n.reason == "duty"]
    return found


def kinds(entries):
    return [e.kind for e in entries]


def fire_after(incident, policy=POLICY):
    """Let the current page's deadline pass and fire it; returns when that was."""
    at = incident.deadline
    incident.fire_deadline(policy, at)
    return at


def snapshot(incident):
    """What a refused command must leave exactly as it was."""
    return replace(incident, notifications=list(incident.notifications),
                   departments=list(incident.departments), audit=list(incident.audit))


# --- intake: three pushes ----------------------------------------------------------------------


class TestIntake:
    def test_three_pushes_the_responsible_officer_the_duty_officer_and_the_station(self):
        incident = reported()

        assert [n.recipient for n in incident.notifications] == [A, DUTY, STATION]
        assert [n.reason for n in incident.notifications] == ["responsible", "duty", "station"]
        assert all(n.sent_at == NOW for n in incident.notifications)
        assert incident.state == "notified"
        assert not incident.unacknowledged

    def test_only_the_responsible_page_waits_for_an_acknowledgement(self):
        incident = reported()
        page, duty, station = incident.notifications

        assert (page.step, page.deadline) == (0, NOW + WINDOW)
        assert (duty.step, duty.deadline) == (None, None)
        assert (station.step, station.deadline) == (None, None)
        assert (incident.step, incident.deadline) == (0, NOW + WINDOW)

    @pytest.mark.parametrize("priority, seconds", [("emergency", 120), ("high", 300),
                                                   ("medium", 900), ("low", 3600)])
    def test_the_window_depends_on_the_priority(self, priority, seconds):
        incident = reported(priority=priority)
        assert incident.deadline == NOW + timedelta(seconds=seconds)
        assert incident.notifications[0].deadline == NOW + timedelta(seconds=seconds)

    def test_the_policy_sets_the_windows(self):
        policy = Policy(windows={"emergency": 30, "high": 60, "medium": 90, "low": 120})
        assert reported(priority="medium", policy=policy).deadline == NOW + timedelta(seconds=90)

    def test_notification_ids_are_unique(self):
        incident = reported()
        for _ in range(4):
            fire_after(incident)
        ids = [n.id for n in incident.notifications]
        assert len(ids) == 7
        assert len(set(ids)) == len(ids)

    def test_the_intake_is_on_the_audit_trail(self):
        incident = reported()
        assert incident.audit[0] == AuditEntry(NOW, "state", "u1", "reported")
        assert incident.audit[-1] == AuditEntry(NOW, "state", "", "notified")
        assert kinds(incident.audit).count("notified") == 3

    def test_an_absent_a_officer_is_skipped_and_b_paged_at_once(self):
        incident = reported(ladder=(absent(A), B, STATION_LEADER, BUREAU_LEADER))

        assert [n.recipient for n in incident.notifications] == [B, DUTY, STATION]
        page = incident.notifications[0]
        assert (page.reason, page.step, page.deadline) == ("responsible", 1, NOW + WINDOW)
        assert AuditEntry(NOW, "skipped", A.id, "a_officer is absent") in incident.audit
        assert (incident.step, incident.deadline) == (1, NOW + WINDOW)

    def test_with_a_and_b_absent_the_station_leader_is_paged(self):
        incident = reported(ladder=(absent(A), absent(B), STATION_LEADER, BUREAU_LEADER))

        assert incident.notifications[0].recipient == STATION_LEADER
        assert incident.notifications[0].step == 2
        assert [e.who for e in incident.audit if e.kind == "skipped"] == [A.id, B.id]

    @pytest.mark.parametrize("ladder", [(), tuple(absent(r) for r in LADDER)],
                             ids=["empty_ladder", "everybody_absent"])
    def test_nobody_to_page_is_flagged_at_once_but_duty_and_station_still_hear(self, ladder):
        incident = reported(ladder=ladder)

        assert incident.unacknowledged
        assert incident.deadline is None
        assert "flagged" in kinds(incident.audit)
        assert [n.recipient for n in incident.notifications] == [DUTY, STATION]
        assert all(n.step is None for n in incident.notifications)
        assert incident.state == "notified"
        assert not incident.deadline_passed(NOW + timedelta(days=1))

    def test_without_duty_officer_or_station_only_the_responsible_is_paged(self):
        incident = reported(duty=None, station=None)
        assert [n.recipient for n in incident.notifications] == [A]

    def test_a_new_incident_is_at_version_zero_until_it_is_stored(self):
        assert reported().version == 0


# --- deadlines: failover and escalation ---------------------------------------------------------


class TestDeadline:
    def test_firing_before_the_deadline_is_refused_and_changes_nothing(self):
        incident = reported()
        before = snapshot(incident)

        with pytest.raises(TransitionRefused) as refused:
            incident.fire_deadline(POLICY, NOW + WINDOW - timedelta(seconds=1))

        assert "deadline" in refused.value.errors
        assert incident == before

    def test_the_deadline_passes_at_the_deadline_itself(self):
        incident = reported()
        assert not incident.deadline_passed(NOW + WINDOW - timedelta(seconds=1))
        assert incident.deadline_passed(NOW + WINDOW)

    def test_a_silent_a_officer_fails_over_to_b(self):
        incident = reported()
        n_audit = len(incident.audit)
        at = NOW + WINDOW

        incident.fire_deadline(POLICY, at)

        page = incident.notifications[-1]
        assert (page.recipient, page.reason, page.step) == (B, "failover", 1)
        assert (page.sent_at, page.deadline) == (at, at + WINDOW)
        assert (incident.step, incident.deadline) == (1, at + WINDOW)
        assert incident.audit[n_audit:n_audit + 2] == [
            AuditEntry(at, "missed", A.id, "a_officer did not acknowledge in time"),
            AuditEntry(at, "failover", B.id, "a_officer -> b_officer"),
        ]
        assert incident.state == "notified"

    def test_a_silent_b_officer_escalates_to_the_station_leader_then_the_bureau_leader(self):
        incident = reported()
        fire_after(incident)  # A -> B

        at = fire_after(incident)
        page = incident.notifications[-1]
        assert (page.recipient, page.reason, page.step) == (STATION_LEADER, "escalation", 2)
        assert AuditEntry(at, "escalation", STATION_LEADER.id,
                          "b_officer -> station_leader") in incident.audit

        at = fire_after(incident)
        page = incident.notifications[-1]
        assert (page.recipient, page.reason, page.step) == (BUREAU_LEADER, "escalation", 3)
        assert incident.deadline == at + WINDOW
        assert kinds(incident.audit).count("failover") == 1
        assert kinds(incident.audit).count("escalation") == 2

    def test_with_b_absent_a_silent_a_officer_escalates_past_b(self):
        incident = reported(ladder=(A, absent(B), STATION_LEADER, BUREAU_LEADER))

        fire_after(incident)

        assert incident.notifications[-1].recipient == STATION_LEADER
        assert incident.notifications[-1].reason == "escalation"
        assert "failover" not in kinds(incident.audit)
        assert incident.audit[-3].kind == "skipped"

    def test_when_b_was_paged_first_its_silence_is_an_escalation(self):
        incident = reported(ladder=(absent(A), B, STATION_LEADER, BUREAU_LEADER))
        fire_after(incident)
        assert incident.notifications[-1].recipient == STATION_LEADER
        assert "failover" not in kinds(incident.audit)

    @pytest.mark.parametrize("top_repeats", [0, 1, 2, 3])
    def test_the_top_is_paged_again_top_repeats_times_then_flagged(self, top_repeats):
        policy = Policy(top_repeats=top_repeats)
        incident = reported(policy=policy)
        for _ in range(3):  # A -> B -> station leader -> bureau leader
            fire_after(incident, policy)

        for i in range(top_repeats):
            fire_after(incident, policy)
            page = incident.notifications[-1]
            assert (page.recipient, page.reason) == (BUREAU_LEADER, "repeat")
            assert incident.repeats == i + 1
            assert not incident.unacknowledged
        at = fire_after(incident, policy)

        assert incident.unacknowledged
        assert incident.deadline is None
        assert incident.audit[-1].kind == "flagged"
        assert incident.audit[-1].at == at
        assert kinds(incident.audit).count("repeated") == top_repeats
        assert [n.recipient for n in incident.notifications].count(BUREAU_LEADER) == \
            1 + top_repeats
        assert incident.state == "notified"
        with pytest.raises(TransitionRefused):
            incident.fire_deadline(policy, at + timedelta(days=1))

    def test_the_default_policy_repeats_the_top_twice(self):
        assert Policy().top_repeats == 2

    def test_the_flagged_top_may_still_acknowledge_its_last_page(self):
        incident = reported()
        while not incident.unacknowledged:
            fire_after(incident)
        last = page_to(incident, BUREAU_LEADER)
        assert incident.acknowledge(last.id, BUREAU_LEADER.id, NOW + timedelta(hours=1))
        assert incident.state == "acknowledged"

    def test_a_repeated_page_supersedes_the_earlier_one(self):
        incident = reported()
        for _ in range(3):
            fire_after(incident)
        first_top_page = page_to(incident, BUREAU_LEADER)
        at = fire_after(incident)  # repeat

        with pytest.raises(AcknowledgementTooLate):
            incident.acknowledge(first_top_page.id, BUREAU_LEADER.id, at)
        assert incident.acknowledge(page_to(incident, BUREAU_LEADER).id, BUREAU_LEADER.id, at)


# --- acknowledgement --------------------------------------------------------------------------


class TestAcknowledge:
    def test_the_paged_officer_acknowledges(self):
        incident = reported()
        at = NOW + timedelta(seconds=42)

        assert incident.acknowledge(incident.notifications[0].id, A.id, at) is True

        assert incident.state == "acknowledged"
        assert (incident.acknowledged_by, incident.acknowledged_at) == (A.id, at)
        assert incident.deadline is None
        assert not incident.deadline_passed(at + timedelta(days=1))
        assert incident.audit[-2:] == [AuditEntry(at, "acknowledged", A.id, "a_officer"),
                                       AuditEntry(at, "state", A.id, "acknowledged")]

    @pytest.mark.parametrize("officer_id", [B.id, DUTY.id, STATION.id, "stranger", ""])
    def test_only_the_recipient_may_acknowledge_a_page(self, officer_id):
        incident = reported()
        before = snapshot(incident)

        with pytest.raises(AckNotAllowed) as refused:
            incident.acknowledge(incident.notifications[0].id, officer_id, NOW)

        assert "notification_id" in refused.value.errors
        assert incident == before

    def test_a_station_notification_cannot_be_acknowledged_by_anyone(self):
        incident = reported()
        [station] = [n for n in incident.notifications if n.reason == "station"]
        with pytest.raises(AckNotAllowed) as refused:
            incident.acknowledge(station.id, STATION.id, NOW)
        assert "notification_id" in refused.value.errors

    @pytest.mark.parametrize("notification_id", ["i1-n99", "i2-n1", ""])
    def test_an_unknown_notification_is_refused(self, notification_id):
        incident = reported()
        before = snapshot(incident)
        with pytest.raises(AckNotAllowed) as refused:
            incident.acknowledge(notification_id, A.id, NOW)
        assert "notification_id" in refused.value.errors
        assert incident == before

    def test_acknowledging_twice_is_a_no_op(self):
        incident = reported()
        page = incident.notifications[0]
        incident.acknowledge(page.id, A.id, NOW + timedelta(seconds=10))
        before = snapshot(incident)

        assert incident.acknowledge(page.id, A.id, NOW + timedelta(seconds=20)) is False

        assert incident == before
        assert incident.acknowledged_at == NOW + timedelta(seconds=10)

    def test_a_page_that_timed_out_cannot_be_acknowledged(self):
        incident = reported()
        a_page = incident.notifications[0]
        at = fire_after(incident)  # the case moved on to B
        before = snapshot(incident)

        with pytest.raises(AcknowledgementTooLate) as late:
            incident.acknowledge(a_page.id, A.id, at + timedelta(seconds=1))

        assert "notification_id" in late.value.errors
        assert incident == before
        assert incident.acknowledge(page_to(incident, B).id, B.id, at + timedelta(seconds=2))

    def test_after_someone_acknowledged_it_is_too_late(self):
        incident = reported()
        a_page = incident.notifications[0]
        at = fire_after(incident)
        incident.acknowledge(page_to(incident, B).id, B.id, at)
        before = snapshot(incident)

        with pytest.raises(AcknowledgementTooLate) as late:
            incident.acknowledge(a_page.id, A.id, at + timedelta(seconds=1))

        assert "notification_id" in late.value.errors
        assert B.id in str(late.value)
        assert incident == before

    @pytest.mark.parametrize("closed", sorted(CLOSED_STATES))
    def test_a_closed_incident_cannot_be_acknowledged(self, closed):
        incident = reported()
        incident.move_to(closed, "supervisor", NOW + timedelta(seconds=5))
        before = snapshot(incident)

        with pytest.raises(IncidentClosed) as refused:
            incident.acknowledge(incident.notifications[0].id, A.id, NOW + timedelta(seconds=6))

        assert "state" in refused.value.errors
        assert incident == before

    def test_the_duty_officer_acknowledges_with_a_receipt_that_moves_nothing(self):
        incident = reported()
        duty = duty_notification(incident)
        at = NOW + timedelta(seconds=30)

        assert incident.acknowledge(duty.id, DUTY.id, at) is True

        assert incident.state == "notified"
        assert incident.acknowledged_by is None
        assert incident.deadline == NOW + WINDOW  # A's page still waits
        assert incident.audit[-1] == AuditEntry(at, "receipt", DUTY.id, duty.id)

    def test_a_second_receipt_is_a_no_op(self):
        incident = reported()
        duty = duty_notification(incident)
        incident.acknowledge(duty.id, DUTY.id, NOW)
        before = snapshot(incident)

        assert incident.acknowledge(duty.id, DUTY.id, NOW + timedelta(seconds=1)) is False
        assert incident == before

    def test_only_the_duty_officer_may_give_the_receipt(self):
        incident = reported()
        with pytest.raises(AckNotAllowed) as refused:
            incident.acknowledge(duty_notification(incident).id, A.id, NOW)
        assert "notification_id" in refused.value.errors


# --- the case's own course -----------------------------------------------------------------------


def in_state(state):
    """An incident walked to `state` along the usual path."""
    incident = reported()
    if state == "notified":
        return incident
    incident.acknowledge(incident.notifications[0].id, A.id, NOW + timedelta(seconds=10))
    if state == "acknowledged":
        return incident
    incident.move_to(state, A.id, NOW + timedelta(seconds=20))
    return incident


ALLOWED = [(start, end) for start, ends in TRANSITIONS.items() for end in ends]
REFUSED = [("notified", "acknowledged"), ("notified", "reported"), ("notified", "notified"),
           ("acknowledged", "notified"), ("acknowledged", "acknowledged"),
           ("on_scene", "cancelled"), ("on_scene", "notified"), ("on_scene", "acknowledged"),
           ("resolved", "on_scene"), ("resolved", "referred"), ("referred", "resolved"),
           ("cancelled", "notified"), ("cancelled", "resolved"), ("notified", "bogus")]


class TestMove:
    @pytest.mark.parametrize("start, end", ALLOWED, ids=[f"{s}->{e}" for s, e in ALLOWED])
    def test_allowed_transitions(self, start, end):
        incident = in_state(start)
        incident.events.clear()
        at = NOW + timedelta(minutes=30)

        incident.move_to(end, "o-a", at, note="on my way")

        assert incident.state == end
        assert incident.deadline is None
        assert incident.closed_at == (at if end in CLOSED_STATES else None)
        assert incident.audit[-1] == AuditEntry(at, "state", "o-a", f"{end}: on my way")
        assert [e.type for e in incident.events] == ["incident.state_changed"] + (
            ["incident.closed"] if end in CLOSED_STATES else [])

    @pytest.mark.parametrize("start, end", REFUSED, ids=[f"{s}->{e}" for s, e in REFUSED])
    def test_refused_transitions(self, start, end):
        incident = in_state(start)
        before = snapshot(incident)

        with pytest.raises(TransitionRefused) as refused:
            incident.move_to(end, "o-a", NOW + timedelta(minutes=30))

        assert "state" in refused.value.errors
        assert incident == before

    def test_closing_a_notified_incident_stops_the_ladder(self):
        incident = reported()
        at = NOW + timedelta(seconds=5)
        incident.move_to("cancelled", "u1", at)

        assert incident.closed_at == at
        assert incident.deadline is None
        assert not incident.deadline_passed(NOW + timedelta(days=1))
        assert not incident.is_open()

    def test_a_note_is_optional(self):
        incident = reported()
        incident.move_to("on_scene", "o-a", NOW)
        assert incident.audit[-1].detail == "on_scene"


# --- departments ---------------------------------------------------------------------------------


class TestWhoMayAct:
    def test_supervisors_and_notified_officers_may_act(self):
        incident = reported()
        incident.check_may_act("supervisor", "sup-1")
        incident.check_may_act("officer", A.id)
        incident.check_may_act("officer", DUTY.id)

    def test_an_officer_not_notified_may_not(self):
        with pytest.raises(NotOnCase) as refused:
            reported().check_may_act("officer", B.id)
        assert "incident_id" in refused.value.errors

    def test_the_reporting_enterprise_may_only_cancel(self):
        incident = reported()
        incident.check_may_act("enterprise", "u1", "e1", "cancelled")
        for enterprise_id, state in (("e1", "resolved"), ("e2", "cancelled")):
            with pytest.raises(NotOnCase):
                incident.check_may_act("enterprise", "u1", enterprise_id, state)


class TestDepartments:
    def test_each_department_is_notified_once(self):
        incident = reported()
        at = NOW + timedelta(minutes=1)

        sent = incident.call_departments(["traffic", "fire"], "o-sl", at)

        assert [(n.recipient, n.reason, n.step, n.deadline) for n in sent] == [
            (Recipient("department", "traffic", "traffic", "department"), "department", None,
             None),
            (Recipient("department", "fire", "fire", "department"), "department", None, None)]
        assert incident.notifications[-2:] == sent
        assert incident.departments == [DepartmentCall("traffic", "o-sl", at, sent[0].id),
                                        DepartmentCall("fire", "o-sl", at, sent[1].id)]
        assert [(e.kind, e.who, e.detail) for e in incident.audit
                if e.kind == "department_called"] == [("department_called", "o-sl", "traffic"),
                                                      ("department_called", "o-sl", "fire")]

    def test_calling_again_adds_nothing(self):
        incident = reported()
        incident.call_departments(["traffic"], "o-sl", NOW)
        before = snapshot(incident)

        assert incident.call_departments(["traffic"], "o-bl", NOW + timedelta(minutes=1)) == []
        assert incident == before

    def test_the_same_department_twice_in_one_call_is_notified_once(self):
        incident = reported()
        sent = incident.call_departments(["traffic", "traffic"], "o-sl", NOW)
        assert [n.recipient.id for n in sent] == ["traffic"]
        assert [c.department for c in incident.departments] == ["traffic"]

    def test_only_new_departments_are_added(self):
        incident = reported()
        incident.call_departments(["traffic"], "o-sl", NOW)
        sent = incident.call_departments(["traffic", "fire"], "o-sl", NOW + timedelta(minutes=1))
        assert [n.recipient.id for n in sent] == ["fire"]
        assert [c.department for c in incident.departments] == ["traffic", "fire"]

    def test_a_closed_incident_calls_no_department(self):
        incident = in_state("resolved")
        before = snapshot(incident)
        with pytest.raises(IncidentClosed):
            incident.call_departments(["traffic"], "o-sl", NOW + timedelta(hours=1))
        assert incident == before

    def test_a_department_acknowledges_once(self):
        incident = reported()
        incident.call_departments(["traffic", "fire"], "o-sl", NOW)
        at = NOW + timedelta(minutes=2)

        assert incident.department_acknowledges("fire", "desk-7", at) is True
        assert incident.departments[1].acknowledged_by == "desk-7"
        assert incident.departments[1].acknowledged_at == at
        assert incident.departments[0].acknowledged_at is None
        assert incident.audit[-1] == AuditEntry(at, "department_acknowledged", "desk-7", "fire")
        before = snapshot(incident)

        assert incident.department_acknowledges("fire", "desk-8", at + timedelta(minutes=1)) \
            is False
        assert incident == before

    def test_a_department_not_called_cannot_acknowledge(self):
        incident = reported()
        incident.call_departments(["traffic"], "o-sl", NOW)
        before = snapshot(incident)
        with pytest.raises(AckNotAllowed) as refused:
            incident.department_acknowledges("fire", "desk-7", NOW)
        assert "department" in refused.value.errors
        assert incident == before


# --- versions and events ---------------------------------------------------------------------


def test_the_domain_leaves_the_version_to_the_store():
    incident = reported()
    at = fire_after(incident)
    incident.acknowledge(page_to(incident, B).id, B.id, at)
    incident.move_to("resolved", B.id, at)
    assert incident.version == 0


def test_no_ops_and_refusals_record_no_event():
    incident = reported()
    page = incident.notifications[0]
    incident.acknowledge(page.id, A.id, NOW)
    recorded = list(incident.events)

    incident.acknowledge(page.id, A.id, NOW)
    incident.call_departments([], A.id, NOW)
    for refused in (lambda: incident.fire_deadline(POLICY, NOW + timedelta(days=1)),
                    lambda: incident.move_to("notified", A.id, NOW),
                    lambda: incident.acknowledge(page.id, B.id, NOW)):
        with pytest.raises((TransitionRefused, AckNotAllowed)):
            refused()

    assert incident.events == recorded


# --- the ladder from the registry ----------------------------------------------------------------


def seat(name, officer_id, available=True):
    return {"seat": name, "officer_id": officer_id, "badge_number": f"B-{officer_id}",
            "name": f"Officer {officer_id}", "role": "community_officer", "phone": "139",
            "available": available,
            "absence": None if available else {"kind": "on_leave", "start": "2025-04-14T00:00Z",
                                               "end": None, "note": ""}}


def responders(seats):
    return {"enterprise_id": "e1", "enterprise_name": "Minjiang Works",
            "at": "2025-04-15T08:30:00Z",
            "station": {"id": "s1", "name": "Gulou Station", "kind": "station",
                        "address": "1 Gulou Road", "phone": "110"},
            "to_call": seats[0] if seats else None, "seats": seats,
            "duty_officer": None, "departments": ["traffic"]}


class TestLadderFromResponders:
    def test_the_ladder_follows_ladder_order_not_the_registry_order(self):
        # The registry lists seats as a, b, bureau leader, station leader, area chief.
        answer = responders([seat("a_officer", "a"), seat("b_officer", "b", available=False),
                             seat("bureau_leader", "lead"), seat("station_leader", "chief"),
                             seat("area_chief", "area")])

        assert ladder_from_responders(answer) == [
            Recipient("officer", "a", "Officer a", "a_officer", True),
            Recipient("officer", "b", "Officer b", "b_officer", False),
            Recipient("officer", "chief", "Officer chief", "station_leader", True),
            Recipient("officer", "lead", "Officer lead", "bureau_leader", True),
        ]

    def test_empty_seats_are_left_out(self):
        answer = responders([seat("b_officer", "b"), seat("bureau_leader", "lead")])
        assert [r.role for r in ladder_from_responders(answer)] == ["b_officer",
                                                                    "bureau_leader"]

    def test_no_assignment_gives_an_empty_ladder(self):
        assert ladder_from_responders(responders([])) == []
        assert ladder_from_responders({"enterprise_id": "e1"}) == []

    def test_an_area_chief_alone_is_no_ladder(self):
        assert ladder_from_responders(responders([seat("area_chief", "area")])) == []


# --- the events a change produces ----------------------------------------------------------------


def changed(incident, change):
    """The events `change(incident)` records."""
    before = len(incident.events)
    change(incident)
    return incident.events[before:]


def types(events):
    return Counter(e.type for e in events)


def opened(events, subject="i1"):
    """Every event dumped into its envelope and loaded back through its contract schema
    (raises if one does not validate)."""
    return [open_envelope(make_envelope(e.type, DISPATCH_SOURCE, subject, e, DISPATCH_EVENTS),
                          DISPATCH_EVENTS) for e in events]


class TestEvents:
    def test_intake_is_reported_then_issues_three_notifications(self):
        incident = reported()

        assert [e.type for e in incident.events] == ["incident.reported"] + [
            "notification.issued"] * 3
        loaded = opened(incident.events)
        assert loaded[0]["data"] == {
            "incident_id": "i1", "enterprise_id": "e1", "enterprise_name": "Minjiang Works",
            "station_id": "s1", "category": "theft", "priority": "high",
            "description": "Copper cable stolen from the yard", "location": "North gate",
            "reporter_role": "enterprise", "reporter_id": "u1", "reported_at": NOW}
        pages = loaded[1:]
        assert [e["data"]["recipient"]["id"] for e in pages] == [A.id, DUTY.id, STATION.id]
        assert [e["data"]["ack_deadline"] for e in pages] == [NOW + WINDOW, None, None]
        assert [e["data"]["notification_id"] for e in pages] == [
            n.id for n in incident.notifications]

    def test_a_flagged_intake_says_so(self):
        incident = reported(ladder=())
        assert [e.type for e in incident.events] == [
            "incident.reported", "incident.flagged_unacknowledged", "notification.issued",
            "notification.issued"]
        opened(incident.events)

    def test_failover(self):
        incident = reported()
        at = NOW + WINDOW
        events = changed(incident, lambda i: i.fire_deadline(POLICY, at))

        assert [e.type for e in events] == ["incident.page_missed", "incident.failed_over",
                                            "notification.issued"]
        by_type = {e["type"]: e["data"] for e in opened(events)}
        assert (by_type["incident.page_missed"]["officer_id"],
                by_type["incident.page_missed"]["role"]) == (A.id, "a_officer")
        assert (by_type["incident.failed_over"]["officer_id"],
                by_type["incident.failed_over"]["role"]) == (B.id, "b_officer")
        assert by_type["incident.failed_over"]["detail"] == "a_officer -> b_officer"
        assert by_type["notification.issued"]["reason"] == "failover"
        assert by_type["notification.issued"]["ack_deadline"] == at + WINDOW

    def test_escalation_repeat_and_flag(self):
        policy = Policy(top_repeats=1)
        incident = reported(ladder=(A, B, absent(STATION_LEADER), BUREAU_LEADER),
                            policy=policy)
        fire_after(incident, policy)
        at = incident.deadline
        events = changed(incident, lambda i: i.fire_deadline(policy, at))
        assert [e.type for e in events] == ["incident.page_missed", "incident.escalated",
                                            "notification.issued"]
        assert events[1].detail == "b_officer -> bureau_leader"  # past the absent leader
        opened(events)

        at = incident.deadline
        events = changed(incident, lambda i: i.fire_deadline(policy, at))
        assert [e.type for e in events] == ["incident.page_missed", "notification.issued"]
        assert events[1].reason == "repeat"

        at = incident.deadline
        events = changed(incident, lambda i: i.fire_deadline(policy, at))
        assert [e.type for e in events] == ["incident.page_missed",
                                            "incident.flagged_unacknowledged"]
        assert (events[1].officer_id, events[1].role) == ("", "")
        opened(events)

    def test_acknowledgement_carries_its_latency(self):
        incident = reported()
        at = NOW + timedelta(seconds=75)
        events = changed(incident, lambda i: i.acknowledge(i.notifications[0].id, A.id, at))

        assert types(events) == Counter({"incident.acknowledged": 1})
        [loaded] = opened(events)
        assert loaded["data"]["latency_seconds"] == 75.0
        assert (loaded["data"]["officer_id"], loaded["data"]["role"]) == (A.id, "a_officer")

    def test_latency_after_a_failover_counts_from_bs_page(self):
        incident = reported()
        paged_b = fire_after(incident)
        at = paged_b + timedelta(seconds=12)
        events = changed(incident, lambda i: i.acknowledge(page_to(i, B).id, B.id, at))
        [loaded] = opened(events)
        assert loaded["data"]["latency_seconds"] == 12.0

    def test_the_role_is_the_officers_last_seat_on_the_ladder(self):
        same = replace(A, role="bureau_leader")  # one officer in two seats
        incident = reported(ladder=(A, B, same))
        events = changed(incident, lambda i: i.acknowledge(i.notifications[0].id, A.id, NOW))
        assert events[0].role == "bureau_leader"

    def test_a_receipt_records_no_event(self):
        incident = reported()
        events = changed(incident,
                         lambda i: i.acknowledge(duty_notification(i).id, DUTY.id, NOW))
        assert events == []

    def test_closing(self):
        incident = in_state("acknowledged")
        at = NOW + timedelta(hours=1)
        events = changed(incident, lambda i: i.move_to("resolved", A.id, at, "recovered"))

        assert [e.type for e in events] == ["incident.state_changed", "incident.closed"]
        changed_, closed = opened(events)
        assert (changed_["data"]["state"], changed_["data"]["note"]) == ("resolved",
                                                                         "recovered")
        assert closed["data"]["closed_at"] == at
        assert closed["data"]["reported_at"] == NOW
        assert closed["data"]["acknowledged_by"] == A.id
        assert closed["data"]["officer_ids"] == sorted([A.id, DUTY.id])

    def test_on_scene_is_a_state_change_but_not_a_close(self):
        incident = in_state("acknowledged")
        events = changed(incident, lambda i: i.move_to("on_scene", A.id, NOW))
        assert [e.type for e in events] == ["incident.state_changed"]
        assert opened(events)[0]["data"]["note"] == ""

    def test_departments(self):
        incident = reported()
        events = changed(incident, lambda i: i.call_departments(["traffic"], "o-sl", NOW))
        assert types(events) == Counter({"notification.issued": 1})
        events = changed(incident, lambda i: i.department_acknowledges("traffic", "desk", NOW))
        assert types(events) == Counter({"department.acknowledged": 1})
        assert opened(events)[0]["data"] == {"incident_id": "i1", "enterprise_id": "e1",
                                             "department": "traffic", "actor": "desk",
                                             "at": NOW}
