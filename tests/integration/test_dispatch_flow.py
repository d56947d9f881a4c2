"""Dispatch with the registry, each in a real nameko container on a real RabbitMQ vhost.

What officers receive is read by a separate consumer (the event tap) from the dispatch.events
exchange, each event opened through its contract. Acknowledgement windows are short
(fractions of a second) instead of sleeping for minutes.
"""
import json
import time
from datetime import date

import eventlet
import kombu
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from kit.errors import ValidationFailed
from services.dispatch.exceptions import AcknowledgementTooLate
from services.dispatch.service import DispatchService
from services.enterprise.service import EnterpriseService
from tests.integration.conftest import seed_county

WINDOW = 0.6


@pytest.fixture
def config(config):
    return dict(config, RPC_TIMEOUT=5, TOP_REPEATS=1,
                ACK_WINDOWS={"emergency": WINDOW, "high": WINDOW, "medium": WINDOW,
                             "low": WINDOW})


class Tap:
    """What the event tap on dispatch.events received, as this module asks about it."""

    def __init__(self, tap):
        self.tap = tap

    @property
    def seen(self):
        return self.tap.snapshot()

    def collect(self, until, timeout=10.0):
        """The events so far, once `until(events)` holds or the time is up; every one of
        them honoured its contract."""
        self.tap.wait(until, timeout)
        assert self.tap.broken == []
        return self.seen

    def pages(self, incident_id):
        return [e["data"] for e in self.seen if e["type"] == "notification.issued"
                and e["data"]["incident_id"] == incident_id]


@pytest.fixture
def tap(event_tap):
    return Tap(event_tap("dispatch.events"))


@pytest.fixture
def services(container_factory, config, tap):
    for service_cls in (EnterpriseService, DispatchService):
        container_factory(service_cls, config).start()
    with ServiceRpcProxy("enterprise", config, timeout=10) as registry, \
            ServiceRpcProxy("dispatch", config, timeout=10) as dispatch:
        yield registry, dispatch


@pytest.fixture
def county(services):
    """One enterprise with A, B, the three chiefs, and a duty officer at its station."""
    return seed_county(services[0])


def report(dispatch, county, priority="high"):
    return dispatch.report_incident(
        {"enterprise_id": county["enterprise"]["id"], "category": "theft",
         "priority": priority, "description": "仓库夜间被盗", "location": "3号仓库"},
        {"role": "enterprise", "id": county["enterprise"]["id"]})


def test_one_alert_three_pushes_to_the_right_recipients(services, county, tap):
    _, dispatch = services
    incident = report(dispatch, county)

    tap.collect(lambda seen: len(tap.pages(incident["id"])) >= 3)

    pages = {(p["recipient"]["kind"], p["recipient"]["id"], p["reason"])
             for p in tap.pages(incident["id"])}
    assert pages == {("officer", county["a"], "responsible"),
                     ("officer", county["duty"], "duty"),
                     ("station", county["station"]["id"], "station")}
    [responsible] = [p for p in tap.pages(incident["id"]) if p["reason"] == "responsible"]
    assert responsible["ack_deadline"] is not None
    assert incident["state"] == "notified" and incident["version"] == 1
    intake = [e for e in tap.seen if e["subject"] == incident["id"]]
    assert [e["type"] for e in intake] == ["incident.reported"] + ["notification.issued"] * 3
    assert intake[0]["data"]["incident_id"] == incident["id"]


def test_a_on_leave_means_b_is_paged_at_once(services, county, tap):
    registry, dispatch = services
    today = date.today().isoformat()
    registry.change_availability(county["a"], {"status": "on_leave", "first_day": today,
                                               "last_day": today})
    incident = report(dispatch, county)

    tap.collect(lambda seen: len(tap.pages(incident["id"])) >= 3)

    officers = [(p["recipient"]["id"], p["reason"]) for p in tap.pages(incident["id"])
                if p["recipient"]["kind"] == "officer"]
    assert (county["b"], "responsible") in officers
    assert county["a"] not in [officer for officer, _ in officers]
    assert ("skipped", county["a"]) in [(a["kind"], a["who"]) for a in incident["audit"]]


def responsible(incident):
    [page] = [n for n in incident["notifications"] if n["reason"] == "responsible"]
    return page["recipient"]["id"]


def test_the_incident_reported_right_after_a_registry_edit_sees_the_edit(services, county):
    """Dispatch holds the registry's who-responds answers; an edit is answered only once its
    event is out, and that event makes dispatch forget what it held, so the very next report
    sees the edit. Repeated, so a lucky ordering cannot pass it."""
    registry, dispatch = services
    for _ in range(10):
        assert responsible(report(dispatch, county, "low")) == county["a"]
        assert responsible(report(dispatch, county, "low")) == county["a"]  # held answer
        registry.change_availability(county["a"], {"status": "off_duty"})
        assert responsible(report(dispatch, county, "low")) == county["b"]
        registry.change_availability(county["a"], {"status": "on_duty"})


def test_a_report_retried_with_its_request_key_makes_one_incident_paged_once(
        services, county, tap):
    """The gateway passes the caller's Idempotency-Key: a retry after a timeout, even one
    racing the first try, finds the incident the first try made."""
    _, dispatch = services
    data = {"enterprise_id": county["enterprise"]["id"], "category": "fraud",
            "priority": "low", "description": "冒充警察电话诈骗", "location": "财务室"}
    reporter = {"role": "enterprise", "id": county["enterprise"]["id"]}

    racing = [dispatch.report_incident.call_async(data, reporter, "u1:key-1")
              for _ in range(3)]
    first = [reply.result()["id"] for reply in racing]
    again = dispatch.report_incident(data, reporter, "u1:key-1")
    other = dispatch.report_incident(data, reporter, "u2:key-1")

    assert set(first) == {again["id"]} and other["id"] != again["id"]
    tap.collect(lambda seen: len(tap.pages(other["id"])) >= 3)
    assert len(tap.pages(again["id"])) == 3
    assert dispatch.list_incidents()["total"] == 2


def test_a_silent_fails_over_to_b_when_the_window_closes(services, county, tap):
    _, dispatch = services
    incident = report(dispatch, county)

    tap.collect(lambda seen: any(p["reason"] == "failover" for p in tap.pages(incident["id"])))

    [failover] = [p for p in tap.pages(incident["id"]) if p["reason"] == "failover"]
    assert failover["recipient"]["id"] == county["b"]
    stored = dispatch.get_incident(incident["id"])
    kinds = [(a["kind"], a["who"]) for a in stored["audit"]]
    assert ("missed", county["a"]) in kinds and ("failover", county["b"]) in kinds
    missed = [e for e in tap.seen if e["type"] == "incident.page_missed"
              and e["data"]["incident_id"] == incident["id"]]
    assert missed[0]["data"]["officer_id"] == county["a"]


def test_silence_all_the_way_up_follows_the_ladder_then_repeats_then_flags(
        services, county, tap):
    _, dispatch = services
    incident = report(dispatch, county)

    tap.collect(lambda seen: any(e["type"] == "incident.flagged_unacknowledged"
                                 for e in seen), timeout=15)

    ladder = [(p["recipient"]["id"], p["reason"]) for p in tap.pages(incident["id"])
              if p["recipient"]["kind"] == "officer" and p["reason"] != "duty"]
    assert ladder == [(county["a"], "responsible"), (county["b"], "failover"),
                      (county["station_leader"], "escalation"),
                      (county["bureau_leader"], "escalation"),
                      (county["bureau_leader"], "repeat")]
    stored = dispatch.get_incident(incident["id"])
    assert stored["unacknowledged"] is True and stored["deadline"] is None


def test_an_acknowledgement_stops_further_pages(services, county, tap):
    _, dispatch = services
    incident = report(dispatch, county, priority="low")
    page = next(n for n in incident["notifications"] if n["reason"] == "responsible")

    acknowledged = dispatch.acknowledge(incident["id"], {"notification_id": page["id"]},
                                        county["a"])
    again = dispatch.acknowledge(incident["id"], {"notification_id": page["id"]}, county["a"])
    eventlet.sleep(WINDOW * 3)
    tap.collect(lambda seen: False, timeout=0.5)

    assert acknowledged["state"] == "acknowledged" and again["version"] == acknowledged["version"]
    assert len(tap.pages(incident["id"])) == 3  # the three pushes, nothing after
    [ack] = [e for e in tap.seen if e["type"] == "incident.acknowledged"]
    assert ack["data"]["officer_id"] == county["a"] and ack["data"]["latency_seconds"] >= 0


def test_acknowledgement_racing_the_deadline_has_exactly_one_winner(services, county, tap):
    _, dispatch = services
    outcomes = {"acknowledged": 0, "failed_over": 0}
    for _ in range(25):
        incident = report(dispatch, county)
        page = next(n for n in incident["notifications"] if n["reason"] == "responsible")
        eventlet.sleep(WINDOW - 0.01)  # acknowledge as the deadline fires
        try:
            dispatch.acknowledge(incident["id"], {"notification_id": page["id"]}, county["a"])
            acked = True
        except AcknowledgementTooLate:
            acked = False
        eventlet.sleep(WINDOW / 2)
        stored = dispatch.get_incident(incident["id"])
        failovers = [a for a in stored["audit"] if a["kind"] == "failover"]
        if acked:
            assert stored["state"] == "acknowledged" and failovers == []
            outcomes["acknowledged"] += 1
        else:
            assert stored["acknowledged_by"] is None and len(failovers) == 1
            outcomes["failed_over"] += 1
    assert sum(outcomes.values()) == 25


def test_departments_called_by_a_chief_are_notified_and_report_in(services, county, tap):
    _, dispatch = services
    incident = report(dispatch, county, priority="low")
    chief = {"role": "officer", "id": county["a"]}

    called = dispatch.call_departments(
        incident["id"], {"departments": ["criminal_investigation", "cyber_security"]}, chief)
    reported = dispatch.department_acknowledges(incident["id"], "cyber_security",
                                                {"role": "officer", "id": "900001"})
    tap.collect(lambda seen: len(tap.pages(incident["id"])) >= 5)

    departments = {p["recipient"]["id"] for p in tap.pages(incident["id"])
                   if p["recipient"]["kind"] == "department"}
    assert departments == {"criminal_investigation", "cyber_security"}
    assert [d["department"] for d in called["departments"]] == ["criminal_investigation",
                                                                 "cyber_security"]
    assert [d["acknowledged_by"] for d in reported["departments"]] == [None, "900001"]


def test_invalid_reports_name_the_field_and_create_nothing(services, county):
    _, dispatch = services
    good = {"enterprise_id": county["enterprise"]["id"], "category": "theft",
            "priority": "high", "description": "x"}
    for bad, field in (({"category": "arson"}, "category"), ({"priority": "urgent"}, "priority"),
                       ({"description": ""}, "description"), ({"colour": "red"}, "colour"),
                       ({"enterprise_id": "nope"}, "enterprise_id")):
        with pytest.raises(ValidationFailed) as refusal:
            dispatch.report_incident(dict(good, **bad), {"role": "supervisor", "id": "s"})
        assert field in refusal.value.errors
    assert dispatch.list_incidents()["total"] == 0


def test_a_report_that_cannot_be_processed_goes_to_the_dead_letter_queue(
        services, county, config):
    _, dispatch = services
    good = {"enterprise_id": county["enterprise"]["id"], "category": "theft",
            "priority": "low", "description": "门卫报警", "source": "110", "reference": "A-1"}
    with kombu.Connection(config["AMQP_URI"]) as connection:
        producer = connection.Producer()
        for body in (dict(good, category="arson", reference="A-2"),
                     dict(good, enterprise_id="nope", reference="A-3"), good, good):
            producer.publish(body, routing_key="dispatch.incident_reports", serializer="json")
        dead = connection.SimpleQueue("dispatch.incident_reports.dead")
        letters = [dead.get(timeout=10) for _ in range(2)]
        for letter in letters:
            letter.ack()
        dead.close()

    errors = sorted((json.loads(m.body)["reference"], m.headers["x-error-type"],
                     m.headers["x-attempts"]) for m in letters)
    assert errors == [("A-2", "ValidationFailed", 1), ("A-3", "ValidationFailed", 1)]
    assert "category" in next(m.headers["x-error"] for m in letters
                              if json.loads(m.body)["reference"] == "A-2")
    deadline = time.monotonic() + 5
    while dispatch.list_incidents()["total"] < 1 and time.monotonic() < deadline:
        eventlet.sleep(0.05)
    eventlet.sleep(0.3)
    assert dispatch.list_incidents()["total"] == 1  # the report sent twice made one incident


# --- enterprise requests and visits -----------------------------------------------------------


def test_a_request_is_routed_on_submission_handled_closed_and_rated(services, county, tap):
    _, dispatch = services
    enterprise = {"role": "enterprise", "id": county["enterprise"]["id"],
                  "enterprise_id": county["enterprise"]["id"]}
    officer = {"role": "officer", "id": county["a"]}
    consultation = dispatch.submit_request(
        {"enterprise_id": county["enterprise"]["id"], "service_code": "legal_consultation",
         "description": "劳动合同纠纷咨询", "attributes": {"topic": "labour_dispute"}}, enterprise)
    permit = dispatch.submit_request(
        {"enterprise_id": county["enterprise"]["id"], "service_code": "permits",
         "description": "危化品购买许可账号遗失", "attributes": {"permit_type":
                                                          "hazardous_chemicals"}}, enterprise)

    dispatch.request_step(consultation["id"], {"step": "start", "note": "已联系"}, officer)
    dispatch.request_step(consultation["id"], {"step": "close", "note": "已视频答复"}, officer)
    rated = dispatch.request_step(consultation["id"], {"step": "rate", "rating": 5}, enterprise)
    with pytest.raises(ValidationFailed) as refusal:
        dispatch.request_step(permit["id"], {"step": "rate", "rating": 5}, enterprise)
    tap.collect(lambda seen: any(e["type"] == "request.rated" for e in seen))

    assert consultation["routed_to"] == {"kind": "officer", "target": county["a"]}
    assert permit["routed_to"]["kind"] == "department"
    assert rated["status"] == "closed" and rated["open311_status"] == "closed"
    assert rated["rating"] == 5
    assert "status" in refusal.value.errors  # an open request cannot be rated yet
    closed = [e for e in tap.seen if e["type"] == "request.closed"]
    assert [e["data"]["request_id"] for e in closed] == [consultation["id"]]


def test_a_request_retried_with_its_request_key_is_taken_in_once(services, county, tap):
    _, dispatch = services
    enterprise = {"role": "enterprise", "id": county["enterprise"]["id"],
                  "enterprise_id": county["enterprise"]["id"]}
    data = {"enterprise_id": county["enterprise"]["id"], "service_code": "legal_consultation",
            "description": "合同纠纷咨询", "attributes": {"topic": "contract_fraud"}}

    racing = [dispatch.submit_request.call_async(data, enterprise, "u1:req-1")
              for _ in range(3)]
    ids = {reply.result()["id"] for reply in racing}
    again = dispatch.submit_request(data, enterprise, "u1:req-1")
    tap.collect(lambda seen: any(e["type"] == "request.routed" for e in seen))

    assert ids == {again["id"]}
    assert dispatch.list_requests()["total"] == 1
    assert [e["type"] for e in tap.seen if e["type"].startswith("request.")] == [
        "request.submitted", "request.routed"]


def test_invalid_requests_name_the_field_and_create_nothing(services, county):
    _, dispatch = services
    actor = {"role": "supervisor", "id": "s"}
    good = {"enterprise_id": county["enterprise"]["id"], "service_code": "permits",
            "description": "许可申请", "attributes": {"permit_type": "explosives"}}
    for bad, field in (({"service_code": "pizza"}, "service_code"),
                       ({"description": ""}, "description"),
                       ({"attributes": {"permit_type": "nuclear"}}, "attributes.permit_type"),
                       ({"attributes": {}}, "attributes.permit_type"),
                       ({"enterprise_id": "nope"}, "enterprise_id"),
                       ({"colour": "red"}, "colour")):
        with pytest.raises(ValidationFailed) as refusal:
            dispatch.submit_request(dict(good, **bad), actor)
        assert field in refusal.value.errors, refusal.value.errors
    assert dispatch.list_requests()["total"] == 0


def test_visits_are_merged_nearby_and_refused_past_the_limit_even_when_racing(
        services, county, config):
    _, dispatch = services
    enterprise_id = county["enterprise"]["id"]

    def plan(officer, day, hour=2, proxy=dispatch):
        return proxy.plan_visit({"enterprise_id": enterprise_id, "purpose": f"走访 {day}",
                                 "start": f"2026-11-{day:02d}T{hour:02d}:00:00Z",
                                 "end": f"2026-11-{day:02d}T{hour + 1:02d}:00:00Z"}, officer)

    def race(day):
        with ServiceRpcProxy("dispatch", config, timeout=10) as own:  # one per green thread
            try:
                return plan(county["a"], day, proxy=own)["outcome"]
            except ValidationFailed as error:
                return type(error).__name__

    outcomes = [plan(county["a"], day)["outcome"] for day in (2, 5, 8)]
    merged = plan(county["b"], 5, hour=6)
    racing = [eventlet.spawn(race, day) for day in (11, 14, 17)]
    results = sorted(gt.wait() for gt in racing)

    assert outcomes == ["planned"] * 3
    assert merged["outcome"] == "merged" and county["b"] in merged["visit"]["participants"]
    assert results == ["VisitRefused", "VisitRefused", "planned"]  # one slot was left
    planned = [v for v in dispatch.visits(enterprise_id) if v["merged_into"] is None]
    assert len(planned) == 4

