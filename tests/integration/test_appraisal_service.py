"""Appraisal with the registry and dispatch, each in a real nameko container on a real
RabbitMQ vhost: a closed incident and a closed request invite their enterprise to rate the
officers who handled them; a repeated, a late and a foreign rating are refused."""
import time
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from kit.errors import ValidationFailed
from services.appraisal.exceptions import (AlreadyRated, ChiefRatingRefused, InvitationNotFound,
                                           NotOnCase)
from services.appraisal.service import AppraisalService
from services.dispatch.service import DispatchService
from services.enterprise.service import EnterpriseService
from tests.integration.conftest import seed_county


@pytest.fixture
def services(container_factory, config):
    for service_cls in (EnterpriseService, DispatchService, AppraisalService):
        container_factory(service_cls, dict(config, RPC_TIMEOUT=5)).start()
    with ServiceRpcProxy("enterprise", config, timeout=10) as registry, \
            ServiceRpcProxy("dispatch", config, timeout=10) as dispatch, \
            ServiceRpcProxy("appraisal", config, timeout=10) as appraisal:
        yield registry, dispatch, appraisal


def invited(appraisal, invitation_id, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return appraisal.get_invitation(invitation_id)
        except InvitationNotFound:
            time.sleep(0.05)
    raise AssertionError(f"no invitation {invitation_id}")


def test_closed_cases_invite_ratings_taken_once(services):
    registry, dispatch, appraisal = services
    county = seed_county(registry)
    enterprise = {"role": "enterprise", "id": county["enterprise"]["id"],
                  "enterprise_id": county["enterprise"]["id"]}
    incident = dispatch.report_incident(
        {"enterprise_id": county["enterprise"]["id"], "category": "theft", "priority": "high",
         "description": "仓库被盗", "location": "3号仓库"}, enterprise)
    page = next(n for n in incident["notifications"] if n["reason"] == "responsible")
    dispatch.acknowledge(incident["id"], {"notification_id": page["id"]}, county["a"])
    dispatch.move_incident(incident["id"], {"state": "resolved", "note": ""},
                           {"role": "officer", "id": county["a"]})
    invitation = invited(appraisal, f"incident:{incident['id']}")
    assert invitation["officer_ids"] == [county["a"]]

    rating = {"officer_id": county["a"], "score": 5, "satisfied": True, "comment": "很及时"}
    rated = appraisal.rate(invitation["id"], rating, enterprise)
    assert [r["score"] for r in rated["ratings"]] == [5]
    with pytest.raises(AlreadyRated):
        appraisal.rate(invitation["id"], dict(rating, score=1), enterprise)
    with pytest.raises(NotOnCase):
        appraisal.rate(invitation["id"], dict(rating, officer_id=county["b"]), enterprise)

    request = dispatch.submit_request(
        {"enterprise_id": county["enterprise"]["id"], "service_code": "other",
         "description": "协调用工纠纷"}, enterprise)
    assert request["routed_to"] == {"kind": "officer", "target": county["a"]}
    for step in ({"step": "start"}, {"step": "close", "note": "已协调"}):
        dispatch.request_step(request["id"], step, {"role": "officer", "id": county["a"]})
    assert invited(appraisal, f"request:{request['id']}")["officer_ids"] == [county["a"]]
    year = int(rated["ratings"][0]["rated_at"][:4])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        mine = appraisal.officer_score(county["a"], {"year": year})
        if mine["kpis"]["acknowledged"] and mine["kpis"]["requests_closed"]:
            break
        time.sleep(0.05)
    assert mine["kpis"]["acknowledged"] == 1 and mine["kpis"]["requests_on_time"] == 1
    assert mine["score"]["ratings"] == 1
    scores = appraisal.appraisal({"year": year})
    [officer] = scores["officers"]
    assert (officer["officer_id"], officer["ratings"], officer["status"]) == \
        (county["a"], 1, "insufficient_data")
    assert scores["lagging"] == [] and scores["model"] == []


def _publish(config, events):
    """Each (exchange, type, data) as its service would publish it, twice: a redelivery."""
    import uuid

    import kombu

    from contracts.envelope import encode, make_envelope
    from contracts.events import CATALOGUE

    with kombu.Connection(config["AMQP_URI"]) as connection:
        for exchange, kind, data in events:
            service = exchange.split(".")[0]
            body = encode(make_envelope(kind, f"/services/{service}", "x", data,
                                        CATALOGUE[service], event_id=str(uuid.uuid4())))
            producer = connection.Producer(exchange=kombu.Exchange(exchange, type="topic",
                                                                   durable=True))
            for _ in range(2):
                producer.publish(body, routing_key=kind,
                                 content_type="application/cloudevents+json",
                                 content_encoding="utf-8")


def _assignment(enterprise_id, officer_id, valid_from):
    return ("enterprise.events", "assignment.changed", {
        "enterprise_id": enterprise_id, "revision": 1, "previous": None,
        "valid_from": valid_from, "a_officer_id": officer_id, "b_officer_id": None,
        "bureau_leader_id": None, "station_leader_id": None, "area_chief_id": None,
        "departments": [], "changed_by": "admin"})


def _visit(visit_id, enterprise_id, officer_id, start):
    return ("dispatch.events", "visit.planned", {
        "visit_id": visit_id, "enterprise_id": enterprise_id, "officer_id": officer_id,
        "purpose": "走访", "start": start, "end": start + timedelta(hours=1),
        "participants": [], "merged_into": None})


def _dispute(kind, dispute_id, enterprise_id, at):
    return ("mediation.events", kind, {
        "dispute_id": dispute_id, "enterprise_id": enterprise_id, "station_id": "s-1",
        "tier": "enterprise", "status": "agreed" if kind == "dispute.agreed" else "mediating",
        "detail": "", "extra": "", "actor": "m-1", "at": at})


@pytest.fixture
def appraisal_alone(container_factory, config):
    container_factory(AppraisalService, dict(config, RPC_TIMEOUT=5)).start()
    with ServiceRpcProxy("appraisal", config, timeout=10) as appraisal:
        yield appraisal


def test_visit_cadence_lowest_tier_and_the_three_chiefs_count_in_the_score(
        appraisal_alone, config):
    appraisal = appraisal_alone
    week = timedelta(days=7)
    monday = datetime(2025, 1, 6, 9)
    _publish(config, [_assignment("e-1", "o-1", monday),
                      _assignment("e-2", "o-2", datetime(2025, 7, 7))])
    time.sleep(0.5)  # the assignments first, as the registry made them long before
    events = [_visit(f"v{n}", "e-1", "o-1", monday + n * week) for n in range(10)]
    events.append(_visit("v-extra", "e-1", "o-1", monday + timedelta(days=2)))  # beyond cap
    events += [_visit(f"w{n}", "e-2", "o-2", datetime(2025, 7, 8) + n * week)
               for n in range(3)]
    events += [_dispute("dispute.agreed", "d-1", "e-1", datetime(2025, 3, 1)),
               _dispute("dispute.escalated", "d-2", "e-1", datetime(2025, 3, 2)),
               _dispute("dispute.agreed", "d-2", "e-1", datetime(2025, 4, 1))]
    _publish(config, events)

    leader = {"role": "supervisor", "id": "leader-1"}
    rating = {"officer_id": "o-1", "year": 2025, "quarter": 1, "seat": "bureau_leader",
              "criteria": {"responsiveness": 5, "problem_solving": 4, "conduct": 3}}
    given = appraisal.rate_as_chief(rating, leader)
    assert (given["id"], given["score"]) == ("2025-Q1:o-1:bureau_leader", 4.0)
    with pytest.raises(ChiefRatingRefused):
        appraisal.rate_as_chief(dict(rating, criteria=dict(rating["criteria"], conduct=5)),
                                leader)
    with pytest.raises(ChiefRatingRefused) as refused:
        appraisal.rate_as_chief(dict(rating, year=2100, quarter=4), leader)
    assert "quarter" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        appraisal.rate_as_chief(dict(rating, criteria={"responsiveness": 9}), leader)
    assert set(refused.value.errors["criteria"]) == {"responsiveness", "problem_solving",
                                                     "conduct"}
    appraisal.rate_as_chief(dict(rating, officer_id="o-2", seat="station_leader"), leader)
    assert appraisal.list_chief_ratings({}, {"year": 2025})["total"] == 2

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        scores = appraisal.appraisal({"year": 2025})
        found = {o["officer_id"]: o["components"] for o in scores["officers"]}
        if "mediation" in found.get("o-1", {}) and "visits" in found.get("o-2", {}) and \
                found["o-1"]["visits"]["successes"] >= 9 and \
                found["o-2"]["visits"]["successes"] == 3 and \
                found["o-1"]["mediation"]["evidence"] == 2:
            break
        time.sleep(0.1)
    time.sleep(0.5)  # the redeliveries too: they must change nothing
    scores = appraisal.appraisal({"year": 2025})
    found = {o["officer_id"]: o for o in scores["officers"]}
    o1 = found["o-1"]["components"]
    # weeks due: 2025-01-06 to the year's end, 360 days, 51 weeks; 10 weeks with a visit, one
    # visit beyond one a week counted against: 9
    assert (o1["visits"]["successes"], o1["visits"]["evidence"]) == (9, 51)
    # 2025-07-07 to the year's end: 178 days, 25 weeks
    assert (found["o-2"]["components"]["visits"]["successes"],
            found["o-2"]["components"]["visits"]["evidence"]) == (3, 25)
    # d-1 agreed where it was taken in, d-2 only after an escalation
    assert (o1["mediation"]["successes"], o1["mediation"]["evidence"]) == (1, 2)
    assert (o1["chiefs"]["evidence"], o1["chiefs"]["observed"]) == (1, 4.0)
    assert set(scores["weights"]) == {"chiefs", "visits", "mediation"}
    assert {"ratings", "spot_checks", "acknowledgement", "requests"} <= set(scores["absent"])
    assert scores["rules"]["version"] == 2
    for officer in scores["officers"]:
        assert sum(Decimal(v) for v in officer["breakdown"].values()) == \
            Decimal(officer["score"])


def test_the_configured_rules_are_the_ones_a_score_records(container_factory, config):
    rules = {"version": 4, "level": 0.9, "weights": {"ratings": 0.7, "chiefs": 0.3}}
    container_factory(AppraisalService, dict(config, APPRAISAL_RULES=rules)).start()
    with ServiceRpcProxy("appraisal", config, timeout=10) as appraisal:
        appraisal.rate_as_chief({"officer_id": "o-1", "year": 2025, "quarter": 2,
                                 "seat": "area_chief", "criteria": {
                                     "responsiveness": 4, "problem_solving": 4, "conduct": 4}},
                                {"role": "supervisor", "id": "chief-1"})
        scores = appraisal.appraisal({"year": 2025})
    assert (scores["rules"]["version"], scores["rules"]["level"]) == (4, 0.9)
    assert scores["rules"]["weights"] == {"ratings": 0.7, "chiefs": 0.3}
    assert scores["weights"] == {"chiefs": 1.0} and scores["absent"] == ["ratings"]


def test_rules_changed_without_a_version_of_their_own_stop_the_service(container_factory,
                                                                       config):
    container = container_factory(AppraisalService, dict(config, APPRAISAL_RULES={"gap": 0.5}))
    with pytest.raises(ValidationFailed) as refused:
        container.start()
    assert "version" in refused.value.errors
