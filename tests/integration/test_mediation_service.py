"""Mediation with the registry and dispatch, each in a real nameko container on a real
RabbitMQ vhost: intake graded against the registry's enterprise, a flagged dispute paging the
station's leader through dispatch (seen by a separate consumer of dispatch.events), the
warning letter, a case turned into a dispute once, and refusals that name the field."""
import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from kit.errors import ValidationFailed
from kit.testing import of_type
from services.dispatch.service import DispatchService
from services.enterprise.domain import credit_code_check_char
from services.enterprise.service import EnterpriseService
from services.mediation.exceptions import DisputeNotFound
from services.mediation.service import MediationService

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
    registry = services["registry"]
    station = registry.create_place("station", {"name": "城东派出所", "kind": "station"})
    grid = registry.create_place("grid", {"code": "WG-01", "name": "一格",
                                          "station_id": station["id"]})
    first17 = "91330482MA2B3C4D5"
    enterprise = registry.register_enterprise({
        "name": "恒盛纺织", "credit_code": first17 + credit_code_check_char(first17),
        "kind": "enterprise", "level": "above_scale", "stage": "production",
        "grid_id": grid["id"]})
    people = {}
    for badge, role, key in (("100001", "community_officer", "a"),
                             ("100002", "auxiliary_officer", "b"),
                             ("100003", "station_chief", "station_leader"),
                             ("100004", "bureau_leader", "bureau_leader"),
                             ("100005", "area_chief", "area_chief")):
        people[key] = registry.register_officer({
            "badge_number": badge, "name": f"警员{badge}", "role": role,
            "station_id": station["id"]})["id"]
    registry.assign(enterprise["id"], {
        "a_officer_id": people["a"], "b_officer_id": people["b"],
        "bureau_leader_id": people["bureau_leader"],
        "station_leader_id": people["station_leader"], "area_chief_id": people["area_chief"],
        "departments": ["criminal_investigation"]})
    return {"station": station, "grid": grid, "enterprise": enterprise, **people}


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
    assert mediation.list_disputes()["total"] == 1


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
