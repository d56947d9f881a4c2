"""Mediation on a platform of its own, with the deadline to settle at a tier shortened to a
few seconds: the Weng'an table reproduced from a planted year loaded through the API, and
deadlines that survive a kill -9 of the service and fire once each."""
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
import requests

from contracts.events import EVENT_SCHEMAS
from gateway.auth import issue_token
from infra.launch import demo_platform, jwt_secret
from kit.testing import EventTap

pytestmark = pytest.mark.e2e

SETTLE = 4.0  # seconds a dispute has at each tier in this platform


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with demo_platform(tmp_path_factory.mktemp("mediation"), "e2e-mediation",
                       {"RPC_TIMEOUT": "5",
                        "MEDIATION_SETTLE_DAYS": repr(SETTLE / 86400)}) as platform:
        yield platform


@pytest.fixture(scope="module")
def http(platform):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + issue_token(
        jwt_secret(platform.data_dir), "mediator", "e2e-mediator")

    def call(method, path, **kwargs):
        response = session.request(method, platform.url + path, timeout=30, **kwargs)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return response.json()

    call.session = session
    return call


@pytest.fixture(scope="module")
def enterprise_ids(http):
    return [e["id"] for e in http("GET", "/v1/enterprises?per_page=100")["items"]]


def dispute(enterprise_id, n, signals=()):
    return {"enterprise_id": enterprise_id, "kind": "labour_contract", "amount_at_stake": 1000,
            "description": f"planted {n}", "signals": list(signals),
            "parties": [{"kind": "individual", "side": "applicant", "name": f"applicant {n}"},
                        {"kind": "company", "side": "respondent", "name": f"company {n}"}]}


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_the_wengan_table_from_a_planted_year(http, enterprise_ids):
    time.sleep(1.5)  # the demo county's disputes were taken in before the planted year
    began = datetime.now(timezone.utc)
    later = iso(datetime.now(timezone.utc) + timedelta(days=30))
    risky = {0, 30, 60, 90, 120}
    watched = 120  # its agreement is still being followed up
    meetings = 0
    for n in range(128):
        taken = http("POST", "/v1/disputes", json=dispute(
            enterprise_ids[n % len(enterprise_ids)], n, ["threats"] if n in risky else ()))
        path = f"/v1/disputes/{taken['id']}"
        for _ in range(2 if n % 4 == 0 and meetings < 40 else 0):  # 40 analysis meetings
            http("POST", f"{path}/sessions", json={
                "kind": "analysis_meeting", "at": iso(datetime.now(timezone.utc)),
                "place": "派出所会议室", "attendees": ["所长", "调解员"], "outcome": "adjourned"})
            meetings += 1
        now = iso(datetime.now(timezone.utc))
        http("POST", f"{path}/agreement", json={
            "facts": "劳动合同争议", "issues": "补偿金额",
            "terms": [{"party": 1, "obligation": "支付补偿", "due": later}],
            "signatures": [{"party": 0, "at": now}, {"party": 1, "at": now}]})
        if n != watched:
            http("POST", f"{path}/agreement/terms/0/performed")
    assert meetings == 40
    ended = datetime.now(timezone.utc) + timedelta(seconds=1)
    table = http("GET", f"/v1/dispute-statistics?start={iso(began)}&end={iso(ended)}")
    assert {k: table[k] for k in ("screened", "resolved", "risks_found", "risks_defused",
                                  "risks_watched", "analysis_meetings")} == \
        {"screened": 128, "resolved": 128, "risks_found": 5, "risks_defused": 4,
         "risks_watched": 1, "analysis_meetings": 40}
    assert table["resolution_rate"] == 1.0 and table["agreements_kept_on_time"] == 1.0


def test_deadlines_survive_a_kill_and_fire_once(platform, http, enterprise_ids):
    tap = EventTap(platform.amqp_uri, "mediation.events", "dispute.#", schemas=EVENT_SCHEMAS)
    try:
        ids = [http("POST", "/v1/disputes", json=dispute(enterprise_ids[n], 1000 + n))["id"]
               for n in range(6)]
        platform.kill("mediation")  # SIGKILL with every deadline pending
        platform.start("mediation")

        def settled_at_the_panel():
            try:
                found = [http("GET", f"/v1/disputes/{i}") for i in ids]
            except AssertionError:  # not answering yet
                return None
            done = all(d["tier"] == "panel" and "settle" not in d["deadlines"] for d in found)
            return found if done else None

        deadline = time.monotonic() + 3 * SETTLE + 60
        found = None
        while found is None and time.monotonic() < deadline:
            time.sleep(0.5)
            found = settled_at_the_panel()
        assert found, "the disputes did not climb the ladder by their deadlines"
        time.sleep(SETTLE)  # nothing more may fire
        for dispute_ in (http("GET", f"/v1/disputes/{i}") for i in ids):
            passed = [a for a in dispute_["audit"] if a["what"] == "deadline_passed"]
            climbed = [a for a in dispute_["audit"] if a["what"] == "escalated"]
            assert [a["detail"] for a in passed] == ["settle"] * 3, dispute_["audit"]
            assert [a["detail"].split(":")[0] for a in climbed] == \
                ["enterprise -> park", "park -> panel"]
        def escalations(seen):  # the demo county's open disputes climb too: not counted
            return {e["id"]: e for e in seen
                    if e["type"] == "dispute.escalated" and e["subject"] in ids}
        tap.wait(lambda seen: len(escalations(seen)) >= 12, timeout=10)
        distinct = escalations(tap.snapshot())
        assert Counter(e["subject"] for e in distinct.values()) == {i: 2 for i in ids}
        assert tap.broken == []
    finally:
        tap.close()
