"""Appraisal with the registry and dispatch, each in a real nameko container on a real
RabbitMQ vhost: a closed incident and a closed request invite their enterprise to rate the
officers who handled them; a repeated, a late and a foreign rating are refused."""
import time

import pytest
from nameko.standalone.rpc import ServiceRpcProxy

from services.appraisal.exceptions import AlreadyRated, InvitationNotFound, NotOnCase
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
