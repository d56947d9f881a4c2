"""Field work on a platform of its own, over HTTP and AMQP: a patrol's findings become an
incident in dispatch and a hazard whose order, verification visit and overdue escalation other
consumers see on the broker; a verification merged with a visit already planned; the work
report reproducing a planted Hengkou period and staying right through a kill -9 of the process
that keeps it; bad input refused naming the field, with nothing created."""
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import requests

from contracts.events import EVENT_SCHEMAS
from gateway.auth import issue_token
from infra.launch import demo_platform, jwt_secret
from kit.testing import EventTap, eventually
from services.enterprise.domain import credit_code_check_char

pytestmark = pytest.mark.e2e

TIMEOUT = 30


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with demo_platform(tmp_path_factory.mktemp("fieldwork"), "e2e-fieldwork",
                       {"RPC_TIMEOUT": "5", "COUNTY": "520000-e2e"}) as platform:
        yield platform


@pytest.fixture(scope="module")
def token(platform):
    secret = jwt_secret(platform.data_dir)

    def make(role, sub=None, **ids):
        return issue_token(secret, role, sub or f"e2e-fieldwork-{role}", ids.get("enterprise_id"),
                           ids.get("officer_id"))
    return make


@pytest.fixture(scope="module")
def http(platform, token):
    """http(method, path, expect=200 or 201, as_=token, **kwargs) -> the JSON answer."""
    session = requests.Session()
    supervisor = token("supervisor")

    def call(method, path, expect=None, as_=None, headers=None, **kwargs):
        headers = dict(headers or {}, Authorization="Bearer " + (as_ or supervisor))
        response = session.request(method, platform.url + path, timeout=TIMEOUT,
                                   headers=headers, **kwargs)
        wanted = expect or ((200, 201) if method != "GET" else (200,))
        wanted = wanted if isinstance(wanted, tuple) else (wanted,)
        assert response.status_code in wanted, (method, path, response.status_code,
                                                 response.text)
        return response.json() if "json" in response.headers.get("Content-Type", "") else \
            response
    return call


def iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now():
    return datetime.now(timezone.utc)


@pytest.fixture(scope="module")
def seated(http):
    """An enterprise with its A officer and its station's leader in post."""
    for enterprise in http("GET", "/v1/enterprises?per_page=100")["items"]:
        answer = http("GET", f"/v1/enterprises/{enterprise['id']}/responders")
        seats = {s["seat"]: s["officer_id"] for s in answer["seats"]}
        if {"a_officer", "station_leader"} <= set(seats):
            return {"enterprise": enterprise, "seats": seats}
    pytest.fail("no enterprise with an A officer and a station leader")


def test_the_demo_county_s_year_reads_as_the_seeds_figures(http):
    """First in this module: nothing else has been recorded yet."""
    today = now().date()
    year = {"area_kind": "county", "start": str(today - timedelta(days=364)), "end": str(today)}
    wengan = {"street_patrols": 500, "video_patrols": 450, "person_times": 3_600,
              "suspicious_persons": 123, "suspicious_vehicles": 83, "people_helped": 27,
              "rectified_on_spot": 6, "trainings": 7}
    hengkou = {"hazards_found": 15, "legal_sessions": 6, "materials": 20_000}

    def loaded():
        figures = http("GET", "/v1/work-report", params=year)["figures"]
        return figures if figures["patrols"] == 950 and figures["materials"] else None
    figures = eventually(loaded, TIMEOUT)
    assert figures, "the demo year never reached the report"
    assert {k: figures[k] for k in {**wengan, **hengkou}} == {**wengan, **hengkou}
    assert figures["guard_trainings"] == 24  # every half month
    assert eventually(lambda: http("GET", "/v1/work-report", params=year)["figures"][
        "rectified"] == 13, TIMEOUT)  # 6 on the spot, 7 of the 9 orders; 2 still open
    county = http("GET", "/v1/work-report", params=dict(year, area_id="520000-e2e"))
    assert county["figures"] == http("GET", "/v1/work-report", params=year)["figures"]
    refused = http("GET", "/v1/work-report", expect=400,
                   params=dict(year, area_kind="station", area_id="no-such-station"))
    assert "area_id" in refused["fields"]


def test_a_patrol_s_findings_become_an_incident_and_a_hazard_that_escalates(
        platform, http, token, seated):
    enterprise, seats = seated["enterprise"], seated["seats"]
    officer = seats["a_officer"]
    with EventTap(platform.amqp_uri, "dispatch.events", schemas=EVENT_SCHEMAS) as dispatch, \
            EventTap(platform.amqp_uri, "fieldwork.events", schemas=EVENT_SCHEMAS) as fieldwork:
        guard = http("POST", "/v1/guards", json={"enterprise_id": enterprise["id"],
                                                 "name": "李护卫", "phone": "13912345678"})
        began = now() - timedelta(hours=50)  # the patrol ran two days ago: its order is late
        patrol = http("POST", "/v1/patrols", as_=token("officer", officer_id=officer), json={
            "kind": "foot", "area_kind": "enterprise", "area_id": enterprise["id"],
            "start": iso(began), "end": iso(began + timedelta(hours=2)),
            "members": [{"kind": "officer", "id": officer}, {"kind": "guard", "id": guard["id"]}],
            "findings": {
                "suspicious_persons": 2, "people_helped": 1,
                "hazards": [{"enterprise_id": enterprise["id"], "kind": "fire",
                             "severity": "critical", "description": "消防通道堵塞"}],
                "incidents": [{"enterprise_id": enterprise["id"], "category": "theft",
                               "priority": "high", "description": "工地电缆被盗",
                               "location": "二号门"}]}})
        assert patrol["person_times"] == 2 and patrol["officer_ids"] == [officer]
        [finding] = patrol["incidents"]
        [hazard_id] = patrol["hazard_ids"]

        # the incident: taken in by dispatch under the id the patrol names, paged as any other
        incident = eventually(lambda: _get(http, f"/v1/incidents/{finding['incident_id']}"),
                              TIMEOUT)
        assert incident and incident["category"] == "theft"
        assert incident["enterprise_id"] == enterprise["id"]
        assert incident["notifications"], "the incident paged nobody"

        # the hazard: ordered with a deadline by its severity, already passed, so overdue
        hazard = http("GET", f"/v1/hazards/{hazard_id}")
        assert (hazard["source"], hazard["source_ref"]) == ("patrol", patrol["id"])
        assert hazard["order"]["visit_id"]
        overdue = eventually(lambda: _with(http, f"/v1/hazards/{hazard_id}",
                                           lambda h: h["status"] == "overdue"), TIMEOUT)
        assert overdue, "the order never went overdue"

        # what separate consumers see: the order, its verification visit, the page to the
        # station's leader
        assert fieldwork.wait(lambda es: {e["type"] for e in es if
                                          e["data"].get("hazard_id") == hazard_id} >=
                              {"hazard.found", "hazard.order_issued", "hazard.order_overdue"},
                              TIMEOUT)
        visit_id = hazard["order"]["visit_id"]
        assert dispatch.wait(lambda es: any(e["data"].get("visit_id") == visit_id
                                            for e in es if e["type"].startswith("visit.")),
                             TIMEOUT), "dispatch planned no verification visit"

        def paged_leader(envelopes):
            for e in envelopes:
                data = e["data"]
                if (e["type"] == "notification.issued"
                        and hazard_id in data["description"]
                        and data["recipient"]["role"] == "station_leader"):
                    return data
            return None
        assert dispatch.wait(paged_leader, TIMEOUT), "the station's leader was not paged"
        page = paged_leader(dispatch.snapshot())
        assert page["recipient"]["id"] == seats["station_leader"]
        assert page["category"] == "safety_hazard" and page["priority"] == "emergency"
        assert "消防" not in page["description"]  # the hazard's words stay in field work
        escalations = [e for e in dispatch.of_type("incident.reported")
                       if hazard_id in e["data"]["description"]]
        assert len(escalations) == 1

        verified_planning = eventually(lambda: _with(
            http, f"/v1/hazards/{hazard_id}", lambda h: h["verification"] is not None), TIMEOUT)
        assert verified_planning["verification"]["visit_id"] == visit_id

        # the enterprise reports it rectified, an officer verifies: rectified, late
        own = token("enterprise", enterprise_id=enterprise["id"])
        http("POST", f"/v1/hazards/{hazard_id}/rectification", as_=own)
        done = http("POST", f"/v1/hazards/{hazard_id}/verification",
                    as_=token("officer", officer_id=officer), json={"passed": True})
        assert (done["status"], done["on_time"]) == ("rectified", False)
        assert fieldwork.wait(lambda es: any(e["type"] == "hazard.rectified" and
                                             e["data"]["hazard_id"] == hazard_id for e in es),
                              TIMEOUT)
        # no event carries the guard's name or phone
        assert not [e for e in fieldwork.snapshot()
                    if "李护卫" in str(e) or "13912345678" in str(e)]


def test_a_verification_check_joins_a_visit_already_planned(platform, http, token):
    enterprises = http("GET", "/v1/enterprises?per_page=100")["items"]
    for enterprise in reversed(enterprises):
        seats = {s["seat"]: s["officer_id"] for s in http(
            "GET", f"/v1/enterprises/{enterprise['id']}/responders")["seats"]}
        if "a_officer" in seats:
            break
    officer = token("officer", officer_id=seats["a_officer"])
    deadline = now() + timedelta(days=7)  # a high-severity hazard's order: seven days
    with EventTap(platform.amqp_uri, "dispatch.events", schemas=EVENT_SCHEMAS) as dispatch:
        planned = http("POST", "/v1/visits", as_=officer, json={
            "enterprise_id": enterprise["id"], "purpose": "季度走访",
            "start": iso(deadline + timedelta(hours=2)),
            "end": iso(deadline + timedelta(hours=3))})
        visit_id = planned["visit"]["id"]
        hazard = http("POST", "/v1/hazards", as_=officer, json={
            "enterprise_id": enterprise["id"], "kind": "site_security", "severity": "high",
            "description": "围挡破损", "source": "visit"})
        assert hazard["status"] == "ordered"
        merged = eventually(lambda: _with(http, f"/v1/hazards/{hazard['id']}",
                                          lambda h: h["verification"] is not None), TIMEOUT)
        assert merged["verification"]["merged_into"] == visit_id
        assert dispatch.wait(lambda es: any(
            e["type"] == "visit.merged" and e["data"]["visit_id"] == hazard["order"]["visit_id"]
            and e["data"]["merged_into"] == visit_id for e in es), TIMEOUT)
    visits = http("GET", f"/v1/enterprises/{enterprise['id']}/visits")
    host = next(v for v in visits if v["id"] == visit_id)
    assert f"hazard verification {hazard['id']}" in host["purpose"]
    assert not [v for v in visits if v["merged_into"] is None
                and v["id"] == hazard["order"]["visit_id"]], "a second visit was planned"


def _get(http, path):
    response = http("GET", path, expect=(200, 404))
    return response if isinstance(response, dict) and "id" in response else None


def _with(http, path, condition):
    found = http("GET", path)
    return found if condition(found) else None


@pytest.mark.parametrize("path, body, field", [
    ("/v1/patrols", {"kind": "foot", "area_kind": "park", "area_id": "no-such-park",
                     "start": "2026-01-05T08:00:00Z", "end": "2026-01-05T10:00:00Z",
                     "members": [{"kind": "officer", "id": "x"}]}, "area_id"),
    ("/v1/patrols", {"kind": "swim", "area_kind": "park", "area_id": "p",
                     "start": "2026-01-05T08:00:00Z", "end": "2026-01-05T10:00:00Z",
                     "members": [{"kind": "officer", "id": "x"}]}, "kind"),
    ("/v1/patrols", {"kind": "foot", "area_kind": "park", "area_id": "p",
                     "start": "2026-01-05T08:00:00Z", "end": "2026-01-05T07:00:00Z",
                     "members": [{"kind": "officer", "id": "x"}]}, "end"),
    ("/v1/hazards", {"enterprise_id": "nope", "kind": "fire", "severity": "low",
                     "description": "x"}, "enterprise_id"),
    ("/v1/hazards", {"enterprise_id": "nope", "kind": "fire", "severity": "dire",
                     "description": "x"}, "severity"),
    ("/v1/guards", {"enterprise_id": "nope", "name": "x"}, "enterprise_id"),
    ("/v1/outreach", {"kind": "legal_session", "area_kind": "park", "area_id": "p",
                      "at": "2026-01-05T08:00:00Z", "topic": "x", "materials": -1},
     "materials"),
])
def test_bad_input_is_refused_naming_the_field_and_creates_nothing(http, path, body, field):
    listing = {"/v1/patrols": "/v1/patrols", "/v1/hazards": "/v1/hazards",
               "/v1/guards": "/v1/guards", "/v1/outreach": "/v1/outreach"}[path]
    before = http("GET", listing)["total"]
    refused = http("POST", path, expect=400, json=body)
    assert refused["error"] == "VALIDATION_FAILED" and field in str(refused["fields"]), refused
    assert http("GET", listing)["total"] == before


def test_a_patrol_naming_an_unknown_guard_creates_no_hazard(http, seated):
    enterprise = seated["enterprise"]
    hazards = http("GET", "/v1/hazards")["total"]
    refused = http("POST", "/v1/patrols", expect=400, json={
        "kind": "foot", "area_kind": "enterprise", "area_id": enterprise["id"],
        "start": iso(now() - timedelta(hours=3)), "end": iso(now() - timedelta(hours=1)),
        "members": [{"kind": "officer", "id": seated["seats"]["a_officer"]},
                    {"kind": "guard", "id": "no-such-guard"}],
        "findings": {"hazards": [{"enterprise_id": enterprise["id"], "kind": "fire",
                                  "severity": "low", "description": "x"}]}})
    assert "members" in refused["fields"]
    assert http("GET", "/v1/hazards")["total"] == hazards


# --- the work report ---------------------------------------------------------------------------

# Hengkou's "as of today" figures, as the report names them.
HENGKOU = {"services_handled": 36, "hazards_found": 15, "rectified": 15, "screened": 42,
           "settled": 42, "obstruction": 6, "legal_sessions": 6, "materials": 20_000,
           "police_times": 1_200}
POOL = 8


def new_enterprise(http, like):
    """A district key project of its own, in the grid and park of `like`, with its seats."""
    first17 = "915227" + f"{int(time.time() * 1000) % 10**11:011d}"
    enterprise = http("POST", "/v1/enterprises", json={
        "name": "横口测试项目", "credit_code": first17 + credit_code_check_char(first17),
        "kind": "project", "level": "district_key_project", "stage": "construction",
        "grid_id": like["grid_id"], "park_id": like["park_id"], "address": "横口镇测试路1号"})
    seats = http("GET", f"/v1/enterprises/{like['id']}/assignments")["current"]
    http("POST", f"/v1/enterprises/{enterprise['id']}/assignments", json={
        k: seats[k] for k in ("a_officer_id", "b_officer_id", "bureau_leader_id",
                              "station_leader_id", "area_chief_id", "departments")})
    return enterprise


def plant_hengkou(http, enterprise_id, officers):
    """Hengkou's figures planted on `enterprise_id` through the API, many at once."""
    recent = now() - timedelta(hours=3)

    def request(n):
        made = http("POST", "/v1/requests", json={
            "enterprise_id": enterprise_id, "service_code": "other",
            "description": f"代办事项 {n}"})
        http("POST", f"/v1/requests/{made['id']}/steps", json={"step": "close",
                                                                "note": "已办结"})

    def dispute(n):
        taken = http("POST", "/v1/disputes", json={
            "enterprise_id": enterprise_id, "kind": "construction_obstruction",
            "amount_at_stake": 1000, "description": f"阻工纠纷 {n}",
            "parties": [{"kind": "individual", "side": "applicant", "name": f"村民{n}"},
                        {"kind": "company", "side": "respondent", "name": "施工方"}]})
        signed = iso(now())
        http("POST", f"/v1/disputes/{taken['id']}/agreement", json={
            "facts": "阻工", "issues": "补偿", "signatures": [{"party": 0, "at": signed},
                                                            {"party": 1, "at": signed}],
            "terms": [{"party": 1, "obligation": "支付补偿",
                       "due": iso(now() + timedelta(days=30))}]})

    def obstruction(n):
        http("POST", "/v1/incidents", json={
            "enterprise_id": enterprise_id, "category": "obstruction", "priority": "medium",
            "description": f"阻挠施工 {n}", "location": "工地"})

    def hazard(n):
        found = http("POST", "/v1/hazards", json={
            "enterprise_id": enterprise_id, "kind": "site_security", "severity": "medium",
            "description": f"隐患 {n}", "rectified_on_spot": n < 10})
        if n >= 10:
            http("POST", f"/v1/hazards/{found['id']}/rectification")
            http("POST", f"/v1/hazards/{found['id']}/verification", json={"passed": True})

    def session(n):
        http("POST", "/v1/outreach", json={
            "kind": "legal_session", "area_kind": "enterprise", "area_id": enterprise_id,
            "at": iso(recent), "topic": "法律进工地", "attendees": 50,
            "materials": 5_000 if n == 0 else 3_000})

    def patrol(n):
        http("POST", "/v1/patrols", json={
            "kind": "foot", "area_kind": "enterprise", "area_id": enterprise_id,
            "start": iso(recent), "end": iso(recent + timedelta(hours=1)),
            "members": [{"kind": "officer", "id": o} for o in officers[:12]]})

    work = ([(request, n) for n in range(36)] + [(dispute, n) for n in range(42)]
            + [(obstruction, n) for n in range(6)] + [(hazard, n) for n in range(15)]
            + [(session, n) for n in range(6)] + [(patrol, n) for n in range(100)])
    with ThreadPoolExecutor(POOL) as pool:
        for done in [pool.submit(step, n) for step, n in work]:
            done.result()


def period():
    today = now().date()
    return {"area_kind": "enterprise", "start": str(today - timedelta(days=2)),
            "end": str(today)}


def report_of(http, enterprise_id):
    return http("GET", "/v1/work-report", params=dict(period(), area_id=enterprise_id))


def figures_once_settled(http, enterprise_id, expected, timeout=60):
    """The report's figures once `expected` holds of them (then read once more, a moment
    later, so a late double count would show)."""
    def settled():
        answer = http("GET", "/v1/work-report", expect=(200, 503),
                      params=dict(period(), area_id=enterprise_id))
        if "figures" not in answer:  # 503 while field work starts again after a kill
            return None
        figures = answer["figures"]
        return figures if all(figures[k] == v for k, v in expected.items()) else None
    found = eventually(settled, timeout)
    assert found, (expected, report_of(http, enterprise_id)["figures"])
    time.sleep(2)
    return report_of(http, enterprise_id)["figures"]


def test_the_report_reproduces_a_planted_hengkou_period_and_survives_a_kill(
        platform, http, token, seated):
    enterprise = new_enterprise(http, seated["enterprise"])
    officers = [o["id"] for o in http("GET", "/v1/officers?per_page=100")["items"]]
    plant_hengkou(http, enterprise["id"], officers)

    figures = figures_once_settled(http, enterprise["id"], HENGKOU)
    assert {k: figures[k] for k in HENGKOU} == HENGKOU
    # and nothing else was counted for it: every figure follows from what was planted
    assert figures == dict(
        {name: 0 for name in figures}, **HENGKOU, patrols=100, street_patrols=100,
        foot_patrols=100, person_times=1_200, rectified_on_spot=10, orders_issued=5,
        rectified_on_time=15, attendees=300, incidents=6, key_incidents=6)
    report = report_of(http, enterprise["id"])
    assert report["key_incidents"]["value"] == 6
    assert report["coverage"]["enterprises"] == 1 and report["coverage"]["covered"] == 1

    # an agency reads the figures, not who covers the enterprise
    agency = http("GET", "/v1/work-report", as_=token("agency", sub="market_regulation"),
                  params=dict(period(), area_id=enterprise["id"]))
    assert agency["figures"] == figures and "rows" not in agency["coverage"]
    http("GET", "/v1/work-report/document", expect=403,
         as_=token("agency", sub="market_regulation"),
         params=dict(period(), area_id=enterprise["id"]))

    # kill -9 the process that keeps the report while requests keep closing
    def until_answered(*args, **kwargs):
        """The call, sent again while the gateway answers 503 (it waits for field work to
        be back): a request's Idempotency-Key makes a second try find the first."""
        for _ in range(300):
            answer = http(*args, expect=(200, 201, 409, 503), **kwargs)
            if answer.get("error") != "SERVICE_UNAVAILABLE":
                return answer
            time.sleep(0.1)
        pytest.fail(f"{args} never answered")

    def close_more(n):
        made = until_answered("POST", "/v1/requests", headers={"Idempotency-Key": f"kill-{n}"},
                              json={"enterprise_id": enterprise["id"], "service_code": "other",
                                    "description": f"杀进程期间 {n}"})
        closed = until_answered("POST", f"/v1/requests/{made['id']}/steps",
                                json={"step": "close", "note": "已办结"})
        assert closed.get("status") == "closed" or "closed" in str(closed), closed
    with ThreadPoolExecutor(4) as pool:
        pending = [pool.submit(close_more, n) for n in range(40)]
        time.sleep(0.3)
        platform.kill("fieldwork")  # SIGKILL mid-batch: what it took and did not ack returns
        time.sleep(0.5)
        platform.start("fieldwork")
        for done in pending:
            done.result()
    after = figures_once_settled(http, enterprise["id"],
                                 dict(HENGKOU, services_handled=36 + 40), timeout=90)
    assert after == dict(figures, services_handled=36 + 40)

    # the printable report says the same
    page = http("GET", "/v1/work-report/document",
                params=dict(period(), area_id=enterprise["id"], lang="zh")).text
    assert "20,000" in page and "76" in page and "横口测试项目" in page
