"""The registry service in a real nameko container on a real RabbitMQ (a vhost per test).

Events are read back by the event tap (tests/integration/conftest.py) as the raw messages
they travelled in, parsed with the `cloudevents` SDK, then checked against the generated
catalogue with jsonschema.
"""
import json
import time

import jsonschema
import kombu
import pytest
from cloudevents.core.bindings import rabbitmq
from nameko.standalone.rpc import ServiceRpcProxy

from contracts import catalogue
from contracts.envelope import CONTENT_TYPE
from kit.errors import ValidationFailed
from kit.storage import open_database
from kit.testing import published
from services.enterprise.domain import Station, credit_code_check_char
from services.enterprise.service import EnterpriseService
from services.enterprise.store import Repository


@pytest.fixture
def events(event_tap):
    """Every event on enterprise.events, tapped before the registry starts."""
    return event_tap("enterprise.events")


def types(tap):
    return [e["type"] for e in tap.snapshot()]


@pytest.fixture
def registry(container_factory, config, events):
    container = container_factory(EnterpriseService, config)
    container.start()
    with ServiceRpcProxy("enterprise", config, timeout=10) as proxy:
        yield proxy


@pytest.fixture
def grid(registry):
    station = registry.create_place("station", {"name": "城东派出所", "kind": "station"})
    return registry.create_place("grid", {"code": "WG-01", "name": "城东一格",
                                          "station_id": station["id"]})


def enterprise_data(grid, serial="MA2B3C4D5", **changes):
    first17 = "91330482" + serial
    data = {"name": "浙江恒盛纺织有限公司", "credit_code": first17 + credit_code_check_char(first17),
            "kind": "enterprise", "level": "above_scale", "stage": "production",
            "grid_id": grid["id"], "workforce": 320, "migrant_workers": 140,
            "contact": {"name": "王建国", "phone": "13800000000"}}
    data.update(changes)
    return data


def test_published_events_are_cloudevents_that_match_the_catalogue(registry, grid, events):
    enterprise = registry.register_enterprise(enterprise_data(grid))

    assert events.wait(lambda seen: len(seen) >= 3, timeout=10)

    assert [key for key, _, _ in events.messages] == [
        "station.created", "grid.created", "enterprise.registered"]
    for routing_key, content_type, body in events.messages:
        assert content_type == CONTENT_TYPE
        event = rabbitmq.from_rabbitmq_event(rabbitmq.RabbitMQMessage(
            headers={}, content_type=content_type, body=body))
        assert event.get_specversion() == "1.0"
        assert event.get_source() == "/services/enterprise"
        assert event.get_type() == routing_key
        jsonschema.validate(json.loads(body), catalogue.payload_schema(event.get_type()))
    registered = rabbitmq.from_rabbitmq_event(rabbitmq.RabbitMQMessage(
        headers={}, content_type=CONTENT_TYPE, body=events.messages[2][2]))
    assert registered.get_subject() == enterprise["id"]
    assert registered.get_data()["credit_code"] == enterprise["credit_code"]
    assert "contact" not in registered.get_data()  # personal data stays out of events
    assert events.broken == []


@pytest.mark.parametrize("bad, field", [
    ({"credit_code": "91330482MA2B3C4D50"}, "credit_code"),
    ({"name": None}, "name"),
    ({"colour": "red"}, "colour"),
    ({"level": "provincial"}, "level"),
    ({"migrant_workers": 400}, "migrant_workers"),
])
def test_refused_input_names_the_field_stores_nothing_and_publishes_nothing(
        registry, grid, events, bad, field):
    assert events.wait(lambda seen: len(seen) >= 2, timeout=10)  # the station and grid events
    events.forget()
    data = enterprise_data(grid, **bad)
    if bad.get("name", "") is None:
        del data["name"]

    with pytest.raises(ValidationFailed) as refusal:
        registry.register_enterprise(data)

    assert field in refusal.value.errors
    assert registry.list_enterprises()["total"] == 0
    registry.create_place("station", {"name": "marker", "kind": "station"})
    # Events go out in the order they were stored: once the marker's is in, a refused
    # registration's would have been too.
    assert events.wait(lambda seen: "station.created" in types(events), timeout=10)
    assert types(events) == ["station.created"]


def test_assignment_history_answers_for_the_past_and_b_covers_a_on_leave(registry, grid):
    enterprise = registry.register_enterprise(enterprise_data(grid))
    station_id = grid["station_id"]

    def officer(badge, role):
        return registry.register_officer({"badge_number": badge, "name": f"警员{badge}",
                                          "role": role, "station_id": station_id})["id"]

    first_a, a, b = (officer(n, "community_officer") for n in ("100001", "100002", "100003"))
    registry.assign(enterprise["id"], {"a_officer_id": first_a, "b_officer_id": b,
                                       "effective_from": "2026-01-01T00:00:00Z"}, "supervisor")
    registry.assign(enterprise["id"], {"a_officer_id": a, "b_officer_id": b,
                                       "effective_from": "2026-06-01T00:00:00Z"}, "supervisor")
    registry.change_availability(a, {"status": "on_leave", "first_day": "2026-07-01",
                                     "last_day": "2026-07-10"})

    in_march = registry.responders(enterprise["id"], "2026-03-15T08:00:00Z")
    on_leave = registry.responders(enterprise["id"], "2026-07-05T08:00:00Z")
    back = registry.responders(enterprise["id"], "2026-07-11T08:00:00Z")
    before_any = registry.responders(enterprise["id"], "2025-12-31T23:00:00Z")

    assert in_march["to_call"]["officer_id"] == first_a
    assert on_leave["to_call"]["officer_id"] == b
    assert on_leave["to_call"]["seat"] == "b_officer"
    assert [s["available"] for s in on_leave["seats"]] == [False, True]
    assert back["to_call"]["officer_id"] == a
    assert before_any["to_call"] is None and before_any["seats"] == []
    assert on_leave["station"]["id"] == station_id


def test_the_enterprise_file_records_the_registry_events_once(registry, grid):
    enterprise = registry.register_enterprise(enterprise_data(grid))
    registry.update_enterprise(enterprise["id"], {"stage": "production", "workforce": 400})

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        timeline = registry.enterprise_file(enterprise["id"])["timeline"]
        if len(timeline) == 2:
            break
        time.sleep(0.1)

    assert [entry["type"] for entry in timeline] == ["enterprise.updated",
                                                     "enterprise.registered"]
    assert timeline[0]["data"]["workforce"] == 400


def test_an_event_that_cannot_be_filed_goes_to_the_dead_letter_queue(registry, grid, config):
    """The file is kept by a reliable consumer: a bad event is set aside with its error, never
    dropped, and the events after it are still filed."""
    connection = kombu.Connection(config["AMQP_URI"])
    exchange = kombu.Exchange("enterprise.events", type="topic", durable=True)
    with connection.Producer() as producer:
        producer.publish(json.dumps({"id": "bad-1", "type": "enterprise.updated"}),
                         exchange=exchange, routing_key="enterprise.updated",
                         content_type=CONTENT_TYPE, content_encoding="utf-8")
    enterprise = registry.register_enterprise(enterprise_data(grid))

    dead = kombu.Queue("enterprise.file.dead", durable=True)(connection.channel())
    dead.declare()  # as the consumer declares it when it first sets a message aside
    deadline, letter = time.monotonic() + 10, None
    while letter is None and time.monotonic() < deadline:
        letter = dead.get(no_ack=True, accept=[CONTENT_TYPE])
        time.sleep(0.05)
    timeline = []
    while not timeline and time.monotonic() < deadline:
        timeline = registry.enterprise_file(enterprise["id"])["timeline"]
        time.sleep(0.05)
    connection.release()

    assert letter is not None and json.loads(letter.body)["id"] == "bad-1"
    assert letter.headers["x-error-type"] == "ValidationFailed"
    assert "event" in letter.headers["x-error"]
    assert [entry["type"] for entry in timeline] == ["enterprise.registered"]


def test_events_left_in_the_outbox_by_a_dead_process_are_published_at_start(
        container_factory, config, data_dir, events):
    # A process wrote a station with its event, then died before publishing it.
    repo = Repository(open_database("enterprise", None, data_dir))
    repo.stations.add(Station.create(id=repo.new_id(), name="银盏派出所"))
    [event] = published(repo.unit)

    container = container_factory(EnterpriseService, config)
    container.start()

    assert events.wait(lambda seen: seen, timeout=15)
    time.sleep(5)  # a sweep's worth: published once, then removed from the outbox
    assert [e["id"] for e in events.snapshot()] == [event["id"]]
