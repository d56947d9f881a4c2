"""Dispatch consuming field work's events, in a real nameko container on a real RabbitMQ
vhost, with the registry's proxy faked: each event is published on `fieldwork.events` as
field work publishes it, twice at once (a redelivery racing the first delivery), and what
dispatch made of it is read by the event tap on dispatch.events.

A duplicate is known to have been handled once an event published after it has been (a
"sentinel"), and a moment more has passed: only then are counts compared."""
import json
from datetime import datetime, timedelta

import eventlet
import kombu
import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import replace_dependencies

from contracts.envelope import CONTENT_TYPE, encode, make_envelope
from contracts.events import FIELDWORK_EVENTS, FIELDWORK_SOURCE
from contracts.identities import external_incident_id, verification_visit_id
from services.dispatch.service import DispatchService

ENTERPRISE = "e-1"
STATION = {"id": "s-1", "name": "城东派出所", "kind": "station", "address": "东大街1号",
           "phone": "110"}
SEATS = (("a_officer", "o-a"), ("b_officer", "o-b"), ("bureau_leader", "o-bl"),
         ("station_leader", "o-sl"), ("area_chief", "o-ac"))
DEADLINE = datetime(2026, 11, 5, 6)


class Registry:
    """The registry's proxy as dispatch uses it here: who responds for an enterprise."""

    def responders(self, enterprise_id):
        def seat(name, officer_id):
            return {"seat": name, "officer_id": officer_id, "badge_number": f"B-{officer_id}",
                    "name": f"警员{officer_id}", "role": "community_officer", "phone": "139",
                    "available": True, "absence": None}

        return {"enterprise_id": enterprise_id, "enterprise_name": "恒盛纺织",
                "station": STATION, "to_call": seat("a_officer", "o-a"),
                "seats": [seat(name, officer_id) for name, officer_id in SEATS],
                "duty_officer": seat("duty_officer", "o-duty"), "departments": [],
                "holds_until": None}


@pytest.fixture
def tap(event_tap):
    return event_tap("dispatch.events")


@pytest.fixture
def dispatch(container_factory, config, tap):
    container = container_factory(DispatchService, config)
    replace_dependencies(container, registry=Registry())
    container.start()
    with ServiceRpcProxy("dispatch", config, timeout=10) as proxy:
        yield proxy


def publish(config, kind, data, event_id, copies=2):
    """The event as field work publishes it, `copies` times over."""
    body = encode(make_envelope(kind, FIELDWORK_SOURCE, data.get("hazard_id", "x"), data,
                                FIELDWORK_EVENTS, event_id=event_id))
    exchange = kombu.Exchange("fieldwork.events", type="topic", durable=True)
    with kombu.Connection(config["AMQP_URI"]) as connection:
        producer = connection.Producer(exchange=exchange)
        for _ in range(copies):
            producer.publish(body, routing_key=kind, content_type=CONTENT_TYPE,
                             content_encoding="utf-8")


def patrol_incident(finding_id):
    return {"finding_id": finding_id, "patrol_id": "p-1",
            "incident_id": external_incident_id("fieldwork", finding_id),
            "enterprise_id": ENTERPRISE, "category": "safety_hazard", "priority": "high",
            "description": "消防通道堵塞", "location": "染整车间", "at": DEADLINE}


def hazard_order(hazard_id, deadline=DEADLINE, severity="high", enterprise_id=ENTERPRISE):
    return {"station_id": STATION["id"], "park_id": None, "grid_id": "g-1",
            "enterprise_id": enterprise_id, "hazard_id": hazard_id, "kind": "fire",
            "severity": severity, "deadline": deadline,
            "verification_visit_id": verification_visit_id(hazard_id), "at": DEADLINE}


def collect(tap, until, timeout=10.0):
    assert tap.wait(until, timeout), [(e["type"], e["subject"]) for e in tap.snapshot()]
    assert tap.broken == []
    return tap.snapshot()


def about(seen, event_type, subject):
    return [e for e in seen if e["type"] == event_type and e["subject"] == subject]


def settled(tap, config, kind, data, event_id, event_type, subject):
    """Publish a sentinel event of `kind` and wait for its `event_type` about `subject`,
    then a moment more: whatever was published before it has been handled by then."""
    publish(config, kind, data, event_id, copies=1)
    collect(tap, lambda seen: about(seen, event_type, subject))
    eventlet.sleep(0.3)
    return tap.snapshot()


def test_a_patrol_incident_delivered_twice_is_taken_in_once_under_its_named_id(
        dispatch, tap, config):
    incident_id = external_incident_id("fieldwork", "f-1")
    publish(config, "patrol.incident_raised", patrol_incident("f-1"), "ev-f-1")
    collect(tap, lambda seen: len(about(seen, "notification.issued", incident_id)) >= 3)

    seen = settled(tap, config, "patrol.incident_raised", patrol_incident("f-2"), "ev-f-2",
                   "incident.reported", external_incident_id("fieldwork", "f-2"))

    [reported] = about(seen, "incident.reported", incident_id)
    assert (reported["data"]["category"], reported["data"]["priority"]) == ("safety_hazard",
                                                                            "high")
    assert len(about(seen, "notification.issued", incident_id)) == 3
    incident = dispatch.get_incident(incident_id)
    assert (incident["reporter_role"], incident["reporter_id"]) == ("agency", "fieldwork")
    assert (incident["description"], incident["location"]) == ("消防通道堵塞", "染整车间")
    assert dispatch.list_incidents()["total"] == 2


def test_an_overdue_order_delivered_twice_pages_the_station_leader_once(
        dispatch, tap, config):
    incident_id = external_incident_id("fieldwork", "ev-overdue")
    publish(config, "hazard.order_overdue", hazard_order("h-1", severity="critical"),
            "ev-overdue")
    collect(tap, lambda seen: len(about(seen, "notification.issued", incident_id)) >= 3)

    seen = settled(tap, config, "hazard.order_overdue", hazard_order("h-2"), "ev-sentinel",
                   "incident.reported", external_incident_id("fieldwork", "ev-sentinel"))

    [reported] = about(seen, "incident.reported", incident_id)
    assert (reported["data"]["category"], reported["data"]["priority"]) == ("safety_hazard",
                                                                            "emergency")
    assert reported["data"]["description"] == (
        "hazard h-1 (fire, critical) not rectified by its deadline 2026-11-05 06:00 UTC")
    pages = {(p["data"]["recipient"]["id"], p["data"]["reason"])
             for p in about(seen, "notification.issued", incident_id)}
    assert pages == {("o-sl", "responsible"), ("o-duty", "duty"), ("s-1", "station")}
    assert len(about(seen, "notification.issued", incident_id)) == 3


def test_an_order_due_near_a_planned_visit_has_its_verification_merged_into_it_once(
        dispatch, tap, config):
    planned = dispatch.plan_visit({"enterprise_id": ENTERPRISE, "purpose": "走访",
                                   "start": "2026-11-05T02:00:00Z",
                                   "end": "2026-11-05T03:00:00Z"}, "o-b")
    host = planned["visit"]["id"]
    check = verification_visit_id("h-1")
    publish(config, "hazard.order_issued", hazard_order("h-1"), "ev-issued")
    collect(tap, lambda seen: about(seen, "visit.merged", check))

    alone = verification_visit_id("h-far")
    seen = settled(tap, config, "hazard.order_issued",
                   hazard_order("h-far", deadline=DEADLINE + timedelta(days=10)), "ev-far",
                   "visit.planned", alone)

    [merged] = about(seen, "visit.merged", check)
    assert (merged["data"]["merged_into"], merged["data"]["officer_id"]) == (host, "o-a")
    assert merged["data"]["purpose"] == "hazard verification h-1"
    [own] = about(seen, "visit.planned", alone)
    assert own["data"]["start"] == "2026-11-15T06:00:00Z"
    assert own["data"]["end"] == "2026-11-15T07:00:00Z"
    visits = {v["id"]: v for v in dispatch.visits(ENTERPRISE)}
    assert set(visits) == {host, check, alone}
    assert visits[host]["participants"] == ["o-a"]
    assert visits[host]["purpose"] == "走访; hazard verification h-1"


def test_an_order_naming_no_enterprise_goes_to_the_dead_letters_at_once(dispatch, config):
    publish(config, "hazard.order_issued", hazard_order("h-nowhere", enterprise_id=None),
            "ev-nowhere", copies=1)
    with kombu.Connection(config["AMQP_URI"]) as connection:
        dead = connection.SimpleQueue("dispatch.hazard_verifications.dead")
        letter = dead.get(timeout=10)
        letter.ack()
        dead.close()

    assert json.loads(letter.body)["id"] == "ev-nowhere"
    assert (letter.headers["x-error-type"], letter.headers["x-attempts"]) == (
        "ValidationFailed", 1)
    assert "enterprise_id" in letter.headers["x-error"]
    assert dispatch.visits(ENTERPRISE) == []
