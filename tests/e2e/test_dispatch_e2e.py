"""Dispatch end to end: every service its own process, incidents reported over HTTP, pages
read by a separate consumer. Short acknowledgement windows instead of long sleeps.

- kill -9 of dispatch with 100 deadlines pending: after a restart every failover happens,
  each exactly once;
- two dispatch processes side by side over 1,000 incidents: no notification twice, no
  failover twice, and both processes did part of the work.
"""
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
import requests

from gateway.auth import issue_token
from infra.launch import demo_platform, jwt_secret
from kit.testing import EventTap

pytestmark = pytest.mark.e2e

WINDOW = 4  # seconds, the `high` acknowledgement window in this platform
FAST_WINDOW = 1  # seconds, the `low` one
RETRIES = 5  # a report answered 503 is sent again with its key, as a client would


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with demo_platform(tmp_path_factory.mktemp("dispatch"), "e2e-dispatch",
                       {"RPC_TIMEOUT": "5", "TOP_REPEATS": "0", "ACK_WINDOW_HIGH": str(WINDOW),
                        "ACK_WINDOW_LOW": str(FAST_WINDOW)}) as platform:
        yield platform


@pytest.fixture(scope="module")
def http(platform):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + issue_token(
        jwt_secret(platform.data_dir), "supervisor", "e2e-dispatch")

    def call(method, path, **kwargs):
        response = session.request(method, platform.url + path, timeout=30, **kwargs)
        return response

    return call


@pytest.fixture(scope="module")
def full_ladders(http):
    """Enterprises whose A, B, station leader and bureau leader are all there today."""
    found = []
    for enterprise in http("GET", "/v1/enterprises?per_page=100").json()["items"]:
        responders = http("GET", f"/v1/enterprises/{enterprise['id']}/responders").json()
        seats = {s["seat"]: s for s in responders["seats"]}
        ladder = [seats.get(k) for k in ("a_officer", "b_officer", "station_leader",
                                         "bureau_leader")]
        if all(s is not None and s["available"] for s in ladder) and responders["duty_officer"]:
            found.append((enterprise["id"], [s["officer_id"] for s in ladder]))
    assert len(found) >= 20
    return found


def pages_by_incident(events, reason=None):
    found = {}
    for event in events:
        if event["type"] == "notification.issued" and reason in (None, event["data"]["reason"]):
            found.setdefault(event["data"]["incident_id"], []).append(event["data"])
    return found


def report_many(http, enterprises, count, priority):
    """Report `count` incidents as a careful client does: each with an Idempotency-Key, sent
    again with it after a 503 (the outcome was unknown), so each ends as one incident."""
    run = uuid.uuid4().hex[:8]

    def report(i):
        enterprise_id, _ = enterprises[i % len(enterprises)]
        for _ in range(RETRIES):
            response = http("POST", "/v1/incidents", headers={"Idempotency-Key": f"{run}-{i}"},
                            json={"enterprise_id": enterprise_id, "category": "safety_hazard",
                                  "priority": priority, "description": f"e2e incident {i}",
                                  "location": "厂区"})
            if response.status_code != 503:
                break
        assert response.status_code == 201, response.text
        return response.json()

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(report, range(count)))


def test_kill_9_with_100_deadlines_pending_then_every_failover_happens_once(
        platform, http, full_ladders):
    pages = EventTap(platform.amqp_uri, "dispatch.events")
    try:
        incidents = report_many(http, full_ladders[:10], 100, "high")
        last_deadline = max(datetime.fromisoformat(i["deadline"].rstrip("Z"))
                            for i in incidents)
        platform.kill("dispatch")  # SIGKILL, all 100 deadlines still pending
        assert all(i["state"] == "notified" and i["deadline"] for i in incidents)

        wait = (last_deadline - datetime.utcnow()).total_seconds() + 0.5
        time.sleep(max(0.0, wait))  # every deadline is now overdue, nobody running
        platform.start("dispatch")
        restarted = time.monotonic()
        ids = {i["id"] for i in incidents}
        assert pages.wait(lambda events: ids <= set(pages_by_incident(events, "failover")),
                          timeout=60), "not every overdue failover happened after the restart"
        print(f"\nall 100 failovers done {time.monotonic() - restarted:.2f}s after restart")
        time.sleep(1)
        events = pages.snapshot()
    finally:
        pages.close()

    failovers = pages_by_incident(events, "failover")
    expected_b = {i["id"]: i["ladder"][1]["id"] for i in incidents}
    for incident_id in ids:
        [failover] = {p["notification_id"]: p for p in failovers[incident_id]}.values()
        assert failover["recipient"]["id"] == expected_b[incident_id]
        stored = http("GET", f"/v1/incidents/{incident_id}").json()
        kinds = Counter(a["kind"] for a in stored["audit"])
        assert kinds["failover"] == 1
        assert [a["who"] for a in stored["audit"] if a["kind"] == "missed"][0] == \
            stored["ladder"][0]["id"]


def test_two_dispatch_processes_share_1000_incidents_without_duplicates(
        platform, http, full_ladders):
    platform.start("dispatch", instance=2)
    platform.wait_ready(timeout=60)
    pages = EventTap(platform.amqp_uri, "dispatch.events")
    try:
        incidents = report_many(http, full_ladders, 1000, "low")
        ids = {i["id"] for i in incidents}

        def all_flagged(events):
            flagged = {e["data"]["incident_id"] for e in events
                       if e["type"] == "incident.flagged_unacknowledged"}
            return ids <= flagged

        assert pages.wait(all_flagged, timeout=180), "not every incident reached the top"
        time.sleep(FAST_WINDOW * 2)
        events = pages.snapshot()
        metrics = [requests.get(platform.metrics_url(key), timeout=10).text
                   for key in ("dispatch", "dispatch#2")]
    finally:
        pages.close()

    # Delivery is at least once (an outbox entry may be sent again, under its envelope id,
    # which consumers deduplicate on, as here): a page written twice has two envelope ids.
    events = list({e["id"]: e for e in events}.values())
    notification_ids = Counter(e["data"]["notification_id"] for e in events
                               if e["type"] == "notification.issued"
                               and e["data"]["incident_id"] in ids)
    duplicates = {n: c for n, c in notification_ids.items() if c > 1}
    assert duplicates == {}, ("the same page written twice", duplicates)
    per_incident = pages_by_incident(events)
    ladder_of = dict(full_ladders)
    for incident in incidents:
        # Two processes publish: arrival order across them is not an order; sent_at is.
        pages_seen = sorted(per_incident[incident["id"]], key=lambda p: p["sent_at"])
        officers = [(p["recipient"]["id"], p["reason"]) for p in pages_seen
                    if p["reason"] not in ("duty", "station")]
        a, b, station_leader, bureau_leader = ladder_of[incident["enterprise_id"]]
        assert officers == [(a, "responsible"), (b, "failover"),
                            (station_leader, "escalation"), (bureau_leader, "escalation")], (
            incident["ladder"], [(p["recipient"]["role"], p["sent_at"]) for p in pages_seen])
        assert sorted(p["reason"] for p in pages_seen if p["reason"] in ("duty", "station")) \
            == ["duty", "station"]
    for text in metrics:  # both processes took part
        sent = sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("liaison_notifications_sent_total{"))
        assert sent > 0


def test_cases_over_http_are_role_checked_and_bad_input_is_refused(platform, http,
                                                                   full_ladders):
    secret = jwt_secret(platform.data_dir)
    (mine, (a, b, _, _)), (other, _) = full_ladders[0], full_ladders[1]

    def as_(role, **ids):
        token = issue_token(secret, role, f"e2e-{role}", **ids)
        return {"Authorization": f"Bearer {token}"}

    enterprise = as_("enterprise", enterprise_id=mine)
    own = http("POST", "/v1/incidents", headers=enterprise, json={
        "category": "obstruction", "priority": "medium", "description": "阻工"})
    others = http("POST", "/v1/incidents", json={
        "enterprise_id": other, "category": "theft", "priority": "medium",
        "description": "被盗"}).json()
    assert own.status_code == 201 and own.json()["enterprise_id"] == mine
    assert http("POST", "/v1/incidents", headers=enterprise, json={
        "enterprise_id": other, "category": "theft", "priority": "low",
        "description": "x"}).status_code == 403
    assert http("GET", f"/v1/incidents/{others['id']}", headers=enterprise).status_code == 403
    listed = http("GET", "/v1/incidents?per_page=500", headers=enterprise).json()["items"]
    assert {i["enterprise_id"] for i in listed} == {mine}

    page = next(n for n in own.json()["notifications"] if n["reason"] == "responsible")
    not_paged = http("POST", f"/v1/incidents/{own.json()['id']}/acknowledgements",
                     headers=as_("officer", officer_id=b), json={"notification_id": page["id"]})
    paged = http("POST", f"/v1/incidents/{own.json()['id']}/acknowledgements",
                 headers=as_("officer", officer_id=a), json={"notification_id": page["id"]})
    assert not_paged.status_code == 403 and not_paged.json()["error"] == "FORBIDDEN"
    assert paged.status_code == 200 and paged.json()["state"] == "acknowledged"

    before = (http("GET", "/v1/incidents").json()["total"],
              http("GET", "/v1/requests").json()["total"])
    bad_incident = http("POST", "/v1/incidents", json={
        "enterprise_id": mine, "category": "arson", "priority": "high", "description": "x"})
    bad_request = http("POST", "/v1/requests", json={
        "enterprise_id": mine, "service_code": "permits", "description": "许可",
        "attributes": {"permit_type": "nuclear"}})
    assert bad_incident.status_code == 400 and "category" in bad_incident.json()["fields"]
    assert bad_request.status_code == 400
    assert "attributes.permit_type" in bad_request.json()["fields"]
    assert (http("GET", "/v1/incidents").json()["total"],
            http("GET", "/v1/requests").json()["total"]) == before
