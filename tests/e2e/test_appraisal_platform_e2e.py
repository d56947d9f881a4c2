"""Appraisal killed (-9) while closed cases stream in: every case gets its invitation, none
gets two, and the ratings taken before the kill are all there after it."""
import time

import pytest
import requests

from gateway.auth import issue_token
from infra.launch import demo_platform, jwt_secret

pytestmark = pytest.mark.e2e

CASES = 40


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with demo_platform(tmp_path_factory.mktemp("appraisal"), "e2e-appraisal",
                       {"RPC_TIMEOUT": "5"}) as platform:
        yield platform


def test_nothing_lost_and_nothing_counted_twice_across_a_kill(platform):
    secret = jwt_secret(platform.data_dir)
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + issue_token(secret, "supervisor", "e2e-ap")

    def call(method, path, token=None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = session.request(method, platform.url + path, headers=headers, timeout=30,
                                   **kwargs)
        assert response.status_code in (200, 201), (path, response.status_code, response.text)
        return response.json()

    enterprises = [e["id"] for e in call("GET", "/v1/enterprises?per_page=100")["items"]]
    closed = []
    for n in range(CASES):
        incident = call("POST", "/v1/incidents", json={
            "enterprise_id": enterprises[n % len(enterprises)], "category": "other",
            "priority": "low", "description": f"appraisal stream {n}"})
        page = next((p for p in incident["notifications"] if p["reason"] == "responsible"),
                    None)
        if page is None:
            continue
        officer = issue_token(secret, "officer", f"e2e-ap-{n}",
                              officer_id=page["recipient"]["id"])
        call("POST", f"/v1/incidents/{incident['id']}/acknowledgements", officer,
             json={"notification_id": page["id"]})
        call("POST", f"/v1/incidents/{incident['id']}/transitions",
             json={"state": "resolved"})
        closed.append((incident, page["recipient"]["id"]))
        if n == CASES // 2:
            platform.kill("appraisal")  # SIGKILL while closing events stream in
            platform.start("appraisal")
    assert len(closed) >= CASES // 2

    wanted = {f"incident:{incident['id']}" for incident, _ in closed}
    deadline = time.monotonic() + 60
    found = {}
    while time.monotonic() < deadline:
        try:
            listed = session.get(platform.url + "/v1/appraisal/invitations?per_page=500",
                                 timeout=30)
        except requests.RequestException:
            listed = None
        if listed is not None and listed.status_code == 200:
            found = {i["id"]: i for i in listed.json()["items"]}
            if wanted <= set(found):
                break
        time.sleep(0.25)
    assert wanted <= set(found), f"{len(wanted - set(found))} closed cases got no invitation"
    listed = call("GET", "/v1/appraisal/invitations?per_page=500")
    assert len(listed["items"]) == listed["total"] == len(found)  # none twice

    # each acknowledgement counted once in its officer's KPIs, across the kill
    year = int(closed[0][0]["reported_at"][:4])
    officers = sorted({officer_id for _, officer_id in closed})
    deadline = time.monotonic() + 60
    def acknowledged(officer_id):  # 404 until a first fact about the officer is kept
        answer = session.get(f"{platform.url}/v1/appraisal/officers/{officer_id}/score"
                             f"?year={year}", timeout=30)
        return answer.json()["kpis"]["acknowledged"] if answer.status_code == 200 else 0

    while time.monotonic() < deadline:
        counted = sum(acknowledged(o) for o in officers)
        if counted >= len(closed):
            break
        time.sleep(0.5)
    assert counted == len(closed)

    incident, officer_id = closed[0]
    enterprise = issue_token(secret, "enterprise", "e2e-ap-rater",
                             enterprise_id=incident["enterprise_id"])
    path = f"/v1/appraisal/invitations/incident:{incident['id']}/ratings"
    call("POST", path, enterprise, json={"officer_id": officer_id, "score": 4,
                                         "satisfied": True})
    platform.kill("appraisal")
    platform.start("appraisal")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        answer = session.get(f"{platform.url}/v1/appraisal/invitations/"
                             f"incident:{incident['id']}", timeout=30)
        if answer.status_code == 200:
            break
        time.sleep(0.25)
    assert [r["score"] for r in answer.json()["ratings"]] == [4]
    again = session.post(platform.url + path, headers={"Authorization": f"Bearer {enterprise}"},
                         json={"officer_id": officer_id, "score": 1, "satisfied": False},
                         timeout=30)
    assert again.status_code == 409 and again.json()["error"] == "ALREADY_RATED"

    # what an operator scrapes from the appraisal process: the ranking it just did, the
    # events it consumed since its restart, ratings and expired invitations
    year = int(answer.json()["ratings"][0]["rated_at"][:4])
    assert session.get(f"{platform.url}/v1/appraisal/scores?year={year}",
                       timeout=30).status_code == 200
    scraped = requests.get(platform.metrics_url("appraisal"), timeout=10).text
    for name, kind in (("liaison_ratings_received_total", "counter"),
                       ("liaison_invitations_expired", "gauge"),
                       ("liaison_appraisal_events_consumed_total", "counter"),
                       ("liaison_appraisal_ranking_seconds", "histogram")):
        assert f"# TYPE {name} {kind}" in scraped, name
    [ranked] = [line for line in scraped.splitlines()
                if line.startswith("liaison_appraisal_ranking_seconds_count")]
    assert float(ranked.rsplit(" ", 1)[1]) >= 1
