"""Mediation with the registry and dispatch, each in a real nameko container on a real
RabbitMQ vhost: intake graded against the registry's enterprise, a flagged dispute paging the
station's leader through dispatch (seen by a separate consumer of dispatch.events), the
warning letter, a case turned into a dispute once, and refusals that name the field."""
import json
import time

import kombu
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from kit.errors import ValidationFailed
from kit.testing import of_type
from services.dispatch.service import DispatchService
from services.enterprise.service import EnterpriseService
from services.mediation.exceptions import DisputeNotFound
from services.mediation.service import MediationService
from tests.integration.conftest import seed_county

MEDIATOR = {"role": "mediator", "id": "m-zhang"}


@pytest.fixture
def config(config):
    return dict(config, RPC_TIMEOUT=5)


@pytest.fixture
def services(container_factory, config, event_tap):
    taps = {f"{name}_events": event_tap(f"{name}.events") for name in ("mediation", "dispatch")}
    for service_cls in (EnterpriseService, DispatchService, MediationService):
        container_factory(service_cls, config).start()
    with ServiceRpcProxy("enterprise", config, timeout=10) as registry, \
            ServiceRpcProxy("dispatch", config, timeout=10) as dispatch, \
            ServiceRpcProxy("mediation", config, timeout=10) as mediation:
        yield {"registry": registry, "dispatch": dispatch, "mediation": mediation, **taps}


@pytest.fixture
def county(services):
    return seed_county(services["registry"])


def dispute(county, **changes):
    return dict({"enterprise_id": county["enterprise"]["id"], "kind": "wage_arrears",
                 "parties": [{"kind": "workers", "side": "applicant", "name": "三车间工人",
                              "contact": "13800000000", "headcount": 12},
                             {"kind": "enterprise", "side": "respondent", "name": "恒盛纺织"}],
                 "amount_at_stake": 52000, "description": "拖欠三个月工资",
                 "source": "enterprise"}, **changes)


def test_a_dispute_is_placed_by_the_registry_graded_and_announced(services, county):
    mediation = services["mediation"]
    assert mediation.ping() == "pong"
    taken = mediation.register_dispute(dispute(county), MEDIATOR, "m-zhang:key-1")
    assert (taken["station_id"], taken["grid_id"]) == (county["station"]["id"],
                                                       county["grid"]["id"])
    assert (taken["grade"]["grade"], taken["tier"], taken["status"]) == \
        ("medium", "enterprise", "mediating")
    assert mediation.get_dispute(taken["id"]) == taken
    assert mediation.register_dispute(dispute(county), MEDIATOR, "m-zhang:key-1") == taken
    tap = services["mediation_events"]
    assert tap.wait(lambda seen: of_type(seen, "dispute.graded"), timeout=10)
    assert [e["type"] for e in tap.snapshot()] == ["dispute.registered", "dispute.graded"]
    assert "13800000000" not in str(tap.snapshot()) and tap.broken == []
    page = mediation.list_disputes({"per_page": 5}, {"enterprise_id": county["enterprise"]["id"]})
    assert (page["total"], page["items"]) == (1, [taken])


def test_a_flagged_dispute_pages_the_station_leader_through_dispatch(services, county):
    mediation, pages = services["mediation"], services["dispatch_events"]
    flagged = mediation.register_dispute(dispute(county, signals=["threats"]), MEDIATOR)
    assert flagged["grade"]["flags"] == ["civil_may_turn_criminal"]

    def leader_paged(seen):
        return [e for e in of_type(seen, "notification.issued")
                if e["data"]["recipient"]["role"] == "station_leader"]
    assert pages.wait(leader_paged, timeout=15)
    [page] = leader_paged(pages.snapshot())
    assert page["data"]["recipient"]["id"] == county["station_leader"]
    assert page["data"]["reason"] == "responsible"
    [reported] = of_type(pages.snapshot(), "incident.reported")
    assert reported["data"]["category"] == "dispute"
    assert flagged["id"] in reported["data"]["description"]
    assert "13800000000" not in reported["data"]["description"]

    tap = services["mediation_events"]
    assert tap.wait(lambda seen: of_type(seen, "dispute.warning_letter_issued"), timeout=10)
    [letter] = flagged["letters"]
    html = mediation.letter(flagged["id"], letter["id"])
    assert "矛盾纠纷风险预警函" in html and letter["id"] in html
    sent = mediation.letter_sent(flagged["id"], letter["id"], MEDIATOR)
    assert sent["letters"][0]["sent_by"] == "m-zhang"


def linked(get, case_id, timeout=10.0):
    """The case once dispatch has linked it to its dispute."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        case = get(case_id)
        if case["dispute_id"]:
            return case
        time.sleep(0.05)
    raise AssertionError(f"{case_id} was not linked to its dispute")


def test_an_incident_becomes_one_dispute_however_often_asked(services, county):
    dispatch, mediation = services["dispatch"], services["mediation"]
    incident = dispatch.report_incident(
        {"enterprise_id": county["enterprise"]["id"], "category": "dispute",
         "priority": "medium", "description": "工人聚集讨薪", "location": "厂门口"},
        {"role": "officer", "id": county["a"]})
    details = {"kind": "wage_arrears", "parties": dispute(county)["parties"],
               "amount_at_stake": 80000}
    first = mediation.dispute_from_case("incident", incident["id"], details, MEDIATOR)
    again = mediation.dispute_from_case("incident", incident["id"], details, MEDIATOR)
    assert first == again
    assert (first["source"], first["source_ref"]) == ("incident", incident["id"])
    assert first["description"] == "工人聚集讨薪"
    assert linked(dispatch.get_incident, incident["id"])["dispute_id"] == first["id"]

    request = dispatch.submit_request(
        {"enterprise_id": county["enterprise"]["id"], "service_code": "other",
         "description": "协调与施工方的付款纠纷"}, {"role": "officer", "id": county["a"]})
    details = dict(details, kind="business_contract")
    from_request = mediation.dispute_from_case("request", request["id"], details, MEDIATOR)
    assert mediation.dispute_from_case("request", request["id"], details, MEDIATOR) == \
        from_request
    assert (from_request["source_ref"], from_request["tier"]) == (request["id"], "park")
    assert linked(dispatch.get_request, request["id"])["dispute_id"] == from_request["id"]
    assert mediation.list_disputes()["total"] == 2


def test_a_report_on_the_queue_makes_one_dispute_and_a_bad_one_is_set_aside(
        services, county, config):
    mediation = services["mediation"]
    good = dict(dispute(county), system="grid-platform", reference="WG-2026-0042")
    with kombu.Connection(config["AMQP_URI"]) as connection:
        producer = connection.Producer()
        for body in (good, dict(good, kind="feud", reference="WG-2026-0043"), good):
            producer.publish(body, routing_key="mediation.dispute_reports", serializer="json")
        dead = connection.SimpleQueue("mediation.dispute_reports.dead")
        letter = dead.get(timeout=10)
        letter.ack()
        dead.close()
    assert (letter.headers["x-error-type"], json.loads(letter.body)["reference"]) == \
        ("ValidationFailed", "WG-2026-0043")
    assert "kind" in letter.headers["x-error"]
    deadline = time.monotonic() + 10
    while mediation.list_disputes()["total"] < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    [taken] = mediation.list_disputes()["items"]
    assert (taken["source"], taken["source_ref"]) == ("agency", "grid-platform:WG-2026-0042")


def test_bad_input_names_the_field_and_changes_nothing(services, county):
    mediation = services["mediation"]
    with pytest.raises(ValidationFailed) as refused:
        mediation.register_dispute(dispute(county, kind="feud", amount_at_stake=-1), MEDIATOR)
    assert set(refused.value.errors) == {"kind", "amount_at_stake"}
    with pytest.raises(ValidationFailed) as refused:
        mediation.register_dispute(dispute(county, enterprise_id="no-such"), MEDIATOR)
    assert "enterprise_id" in refused.value.errors
    assert mediation.list_disputes()["total"] == 0
    with pytest.raises(DisputeNotFound):
        mediation.get_dispute("no-such-dispute")
