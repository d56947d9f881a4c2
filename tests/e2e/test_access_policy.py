"""The access policy, proven over HTTP for every operation and every role.

The matrix is generated from the API document: every operation is called by every role, once
on a record inside the role's scope and once on one outside it, and the outcome is compared
with gateway.policy.RULES. A route without a rule, or a rule without a route, fails here.
Policy refusals are 403 FORBIDDEN; any other answer means the policy let the call through (the
probe bodies are invalid on purpose, so an allowed write is refused by validation and changes
nothing).
"""
import re
import time

import pytest

from gateway.auth import ROLES
from gateway.policy import ALL, RULES
from contracts.vocabulary import DEPARTMENTS

pytestmark = pytest.mark.e2e

PROBE = {"probe_field_nobody_accepts": True}  # unknown field: an allowed write changes nothing
AGENCY = "labour"  # the agency's token names it: a dispute referred to it is in its scope


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def denied(response):
    return response.status_code == 403 and response.json().get("error") == "FORBIDDEN"


@pytest.fixture(scope="module")
def county(api, supervisor, token):
    """An officer (O) who is A, and available, on enterprise E1 and holds no seat on E2;
    E1's own enterprise token; an incident and a request on each; O's department and one it
    is not in; a chief of E1 who is not on its ladder's first steps."""
    officers = ok(api("GET", "/v1/officers?per_page=500", supervisor))["items"]
    by_id = {o["id"]: o for o in officers}
    enterprises = ok(api("GET", "/v1/enterprises?per_page=500", supervisor))["items"]
    responders = {e["id"]: ok(api("GET", f"/v1/enterprises/{e['id']}/responders", supervisor))
                  for e in enterprises}
    seats_of = {}
    for enterprise_id, answer in responders.items():
        for held in answer["seats"]:
            seats_of.setdefault(held["officer_id"], set()).add(enterprise_id)
    pick = None
    for enterprise_id, answer in responders.items():
        to_call = answer["to_call"]
        if (to_call and to_call["seat"] == "a_officer"
                and by_id[to_call["officer_id"]]["departments"]
                and any(s["seat"] == "area_chief" and s["officer_id"] != to_call["officer_id"]
                        for s in answer["seats"])):
            pick = enterprise_id, to_call["officer_id"]
            break
    assert pick, "no enterprise with an available A who belongs to a department"
    e1, officer = pick
    chief = next(s["officer_id"] for s in responders[e1]["seats"] if s["seat"] == "area_chief")
    others = [e["id"] for e in enterprises if e["id"] not in seats_of.get(officer, set())]
    incident = {"category": "theft", "priority": "low", "description": "matrix probe",
                "location": "gate"}
    i1 = ok(api("POST", "/v1/incidents", supervisor, json=dict(incident, enterprise_id=e1)), 201)
    for e2 in others:
        i2 = ok(api("POST", "/v1/incidents", supervisor, json=dict(incident, enterprise_id=e2)),
                201)
        if officer not in {n["recipient"]["id"] for n in i2["notifications"]}:
            break
    else:
        pytest.fail("every other enterprise's incident pages the officer")
    request = {"service_code": "other", "description": "matrix probe"}
    r1 = ok(api("POST", "/v1/requests", supervisor, json=dict(request, enterprise_id=e1)), 201)
    r2 = ok(api("POST", "/v1/requests", supervisor, json=dict(request, enterprise_id=e2)), 201)
    assert r1["routed_to"] == {"kind": "officer", "target": officer}
    dispute = {"kind": "wage_arrears", "description": "matrix probe",
               "amount_at_stake": 6_000_000,  # critical: at the panel, so it can be referred
               "parties": [{"kind": "workers", "side": "applicant", "name": "workers",
                            "headcount": 5},
                           {"kind": "enterprise", "side": "respondent", "name": "the firm"}]}
    d1 = ok(api("POST", "/v1/disputes", supervisor, json=dict(dispute, enterprise_id=e1)), 201)
    d2 = ok(api("POST", "/v1/disputes", supervisor, json=dict(dispute, enterprise_id=e2)), 201)
    referred = ok(api("POST", f"/v1/disputes/{d1['id']}/referrals", supervisor,
                      json={"agency": AGENCY}))
    ok(api("POST", f"/v1/disputes/{d2['id']}/referrals", supervisor,
           json={"agency": "justice"}))
    referral = referred["referrals"][0]["id"]
    invitations = [invitation_of(api, supervisor, token, ok(api(
        "POST", "/v1/incidents", supervisor, json=dict(incident, enterprise_id=e)), 201))
        for e in (e1, e2)]
    mine = by_id[officer]["departments"][0]
    not_mine = next(d for d in DEPARTMENTS if d not in by_id[officer]["departments"])
    other_officer = next(o["id"] for o in officers if o["id"] != officer)
    places = {kind: ok(api("GET", f"/v1/{kind}?per_page=1", supervisor))["items"][0]["id"]
              for kind in ("stations", "parks", "grids")}
    feeds = [ok(api("POST", "/v1/subscriptions", token("admin", sub="matrix-admin"),
                    json={"agency": agency, "filters": [{"prefix": {"type": "incident."}}]}),
                201)["id"] for agency in (AGENCY, "environment")]
    guards = [ok(api("POST", "/v1/guards", supervisor,
                     json={"enterprise_id": e, "name": "matrix guard"}), 201)["id"]
              for e in (e1, e2)]
    hazards = [ok(api("POST", "/v1/hazards", supervisor, json={
        "enterprise_id": e, "kind": "fire", "severity": "low", "description": "matrix probe"}),
        201)["id"] for e in (e1, e2)]
    patrol = ok(api("POST", "/v1/patrols", supervisor, json={
        "kind": "foot", "area_kind": "enterprise", "area_id": e1,
        "start": "2026-01-05T08:00:00Z", "end": "2026-01-05T10:00:00Z",
        "members": [{"kind": "officer", "id": officer}]}), 201)["id"]
    tokens = {
        "admin": token("admin", sub="matrix-admin"),
        "supervisor": supervisor,
        "officer": token("officer", sub="matrix-officer", officer_id=officer),
        "enterprise": token("enterprise", sub="matrix-enterprise", enterprise_id=e1),
        "mediator": token("mediator", sub="matrix-mediator"),
        "agency": token("agency", sub=AGENCY),
    }
    inside = {"enterprise_id": e1, "incident_id": i1["id"], "request_id": r1["id"],
              "dispute_id": d1["id"], "officer_id": officer, "department": mine, "places": places,
              "kind": "stations", "letter_id": "no-such-letter", "term": 0,
              "referral_id": referral, "invitation_id": invitations[0],
              "year": utc_year(), "check_id": f"{utc_year()}-Q1",
              "subscription_id": feeds[0], "guard_id": guards[0], "hazard_id": hazards[0],
              "patrol_id": patrol}
    outside = dict(inside, enterprise_id=e2, incident_id=i2["id"], request_id=r2["id"],
                   dispute_id=d2["id"], officer_id=other_officer, department=not_mine,
                   invitation_id=invitations[1], subscription_id=feeds[1],
                   guard_id=guards[1], hazard_id=hazards[1])
    return {"tokens": tokens, "inside": inside, "outside": outside, "officer": officer,
            "chief": chief, "e1": e1, "e2": e2, "i1": i1, "i2": i2, "r1": r1, "r2": r2}


def utc_year():
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).year


def invitation_of(api, supervisor, token, incident):
    """Close `incident` after its responsible officer acknowledged it; the id of the rating
    invitation appraisal then makes for its enterprise."""
    page = next(n for n in incident["notifications"] if n["reason"] == "responsible")
    officer = token("officer", sub="matrix-closer", officer_id=page["recipient"]["id"])
    ok(api("POST", f"/v1/incidents/{incident['id']}/acknowledgements", officer,
           json={"notification_id": page["id"]}))
    ok(api("POST", f"/v1/incidents/{incident['id']}/transitions", supervisor,
           json={"state": "resolved"}))
    invitation_id = f"incident:{incident['id']}"
    for _ in range(200):
        if api("GET", f"/v1/appraisal/invitations/{invitation_id}", supervisor).status_code \
                == 200:
            return invitation_id
        time.sleep(0.05)
    pytest.fail(f"no invitation for {incident['id']}")


@pytest.fixture(scope="module")
def document(api):
    return ok(api("GET", "/v1/openapi.json"))


def operations(document):
    """(path, method, operation, the route's name: its rule in the policy)."""
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation, operation.get("x-route",
                                                                 operation["operationId"])


def fill(path, values):
    """`path` with its parameters filled in from `values` (a place id of the path's kind)."""
    kind = path.split("/")[2] if path.count("/") > 1 else ""
    values = dict(values, kind=kind if kind in values["places"] else values["kind"])
    values["place_id"] = values["places"].get(values["kind"])
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def _call(api, county, role, path, method, operation, rule, where):
    values = county[where]
    url = fill(path, values)
    kwargs = {}
    content = (operation.get("requestBody") or {}).get("content", {})
    if "text/csv" in content:
        kwargs = {"data": "not,a\nknown,file\n", "headers": {"Content-Type": "text/csv"}}
    elif method in ("POST", "PATCH", "PUT"):
        body = dict(PROBE)
        if rule.target == "body_enterprise":  # the scope is checked on the body's enterprise
            body["enterprise_id"] = values["enterprise_id"]
        kwargs = {"json": body}
    return api(method, url, county["tokens"][role], **kwargs)


def test_every_route_has_a_rule_and_every_rule_a_route(document):
    documented = {route for _, _, _, route in operations(document)}
    assert documented == set(RULES)


def test_every_operation_for_every_role_follows_the_policy(api, county, document):
    mismatches = []
    checked = 0
    for path, method, operation, route in operations(document):
        rule = RULES[route]
        if rule.public:
            continue
        for role in ROLES:
            scope = rule.scopes.get(role)
            for where in ("inside", "outside"):
                expect_denied = scope is None or (
                    where == "outside" and scope != ALL and rule.listing is None
                    and rule.target is not None)
                response = _call(api, county, role, path, method, operation, rule, where)
                checked += 1
                if response.status_code >= 500 or denied(response) != expect_denied:
                    mismatches.append((method, path, role, where, scope, response.status_code,
                                       response.text[:160]))
    assert checked > 300
    assert not mismatches, "\n".join(map(str, mismatches))


# --- the findings the policy answers ------------------------------------------------------------


def test_listings_hold_only_what_the_scope_reaches(api, county):
    tokens = county["tokens"]
    enterprise = ok(api("GET", "/v1/incidents?per_page=500", tokens["enterprise"]))["items"]
    assert enterprise and {i["enterprise_id"] for i in enterprise} == {county["e1"]}
    requests_ = ok(api("GET", "/v1/requests?per_page=500", tokens["enterprise"]))["items"]
    assert {r["enterprise_id"] for r in requests_} == {county["e1"]}
    officer_requests = ok(api("GET", "/v1/requests?per_page=500", tokens["officer"]))["items"]
    ids = {r["id"] for r in officer_requests}
    assert county["r1"]["id"] in ids and county["r2"]["id"] not in ids
    officer_incidents = ok(api("GET", "/v1/incidents?per_page=500", tokens["officer"]))["items"]
    ids = {i["id"] for i in officer_incidents}
    assert county["i1"]["id"] in ids and county["i2"]["id"] not in ids
    asked_for_other = ok(api("GET", f"/v1/requests?enterprise_id={county['e2']}",
                             tokens["officer"]))
    assert asked_for_other["items"] == [] and asked_for_other["total"] == 0


def test_an_officer_sees_phones_of_colleagues_only(api, county, supervisor):
    officers = ok(api("GET", "/v1/officers?per_page=500", county["tokens"]["officer"]))["items"]
    responders = ok(api("GET", f"/v1/enterprises/{county['e1']}/responders", supervisor))
    colleagues = {s["officer_id"] for s in responders["seats"]}
    with_phone = {o["id"] for o in officers if o["phone"]}
    assert with_phone and with_phone <= colleagues | {county["officer"]}
    assert len(with_phone) < len(officers)
    assert county["chief"] in with_phone


def test_a_chief_calls_departments_at_once_and_others_may_not(api, county, token):
    chief = token("officer", sub="matrix-chief", officer_id=county["chief"])
    incident = county["i1"]
    assert county["chief"] not in {n["recipient"]["id"] for n in incident["notifications"]}
    called = ok(api("POST", f"/v1/incidents/{incident['id']}/departments", chief,
                    json={"departments": ["traffic"]}))
    assert [c["department"] for c in called["departments"]] == ["traffic"]
    other = county["i2"]
    refused = api("POST", f"/v1/incidents/{other['id']}/departments", chief,
                  json={"departments": ["traffic"]})
    assert denied(refused), refused.text


def test_a_department_reports_in_only_by_its_own_officers(api, county, supervisor, token):
    incident = county["i1"]
    mine = county["inside"]["department"]
    ok(api("POST", f"/v1/incidents/{incident['id']}/departments", supervisor,
           json={"departments": [mine, county["outside"]["department"]]}))
    officer = county["tokens"]["officer"]
    refused = api("POST", f"/v1/incidents/{incident['id']}/departments/"
                          f"{county['outside']['department']}/acknowledgements", officer)
    assert denied(refused), refused.text
    reported = ok(api("POST", f"/v1/incidents/{incident['id']}/departments/{mine}/"
                              "acknowledgements", officer))
    call = next(c for c in reported["departments"] if c["department"] == mine)
    assert call["acknowledged_by"] == county["officer"]


def test_an_officer_takes_steps_only_on_requests_that_are_its_own(api, county):
    officer = county["tokens"]["officer"]
    theirs = api("POST", f"/v1/requests/{county['r2']['id']}/steps", officer,
                 json={"step": "start"})
    assert denied(theirs), theirs.text
    started = ok(api("POST", f"/v1/requests/{county['r1']['id']}/steps", officer,
                     json={"step": "start"}))
    assert started["status"] == "in_progress"


def test_an_officer_plans_visits_only_to_its_own_enterprises(api, county):
    officer = county["tokens"]["officer"]
    visit = {"purpose": "policy talk", "start": "2030-01-07T02:00:00Z",
             "end": "2030-01-07T03:00:00Z"}
    refused = api("POST", "/v1/visits", officer, json=dict(visit, enterprise_id=county["e2"]))
    assert denied(refused), refused.text
    admin = county["tokens"]["admin"]
    planned_for_e2 = ok(api("GET", f"/v1/enterprises/{county['e2']}/visits", admin))
    assert not [v for v in planned_for_e2 if "policy talk" in v["purpose"]]
    planned = ok(api("POST", "/v1/visits", officer, json=dict(visit, enterprise_id=county["e1"])),
                 201)
    assert planned["visit"]["enterprise_id"] == county["e1"]


def test_two_enterprises_with_one_key_and_body_get_their_own_incidents(api, county, token):
    first = token("enterprise", sub="matrix-desk", enterprise_id=county["e1"])
    second = token("enterprise", sub="matrix-desk", enterprise_id=county["e2"])
    body = {"category": "theft", "priority": "low", "description": "same words"}
    headers = {"Idempotency-Key": "shared-key-1"}
    one = ok(api("POST", "/v1/incidents", first, json=body, headers=headers), 201)
    two = ok(api("POST", "/v1/incidents", second, json=body, headers=headers), 201)
    assert one["id"] != two["id"]
    assert (one["enterprise_id"], two["enterprise_id"]) == (county["e1"], county["e2"])
    again = ok(api("POST", "/v1/incidents", first, json=body, headers=headers), 201)
    assert again["id"] == one["id"]


# --- an agency sees no personal data ------------------------------------------------------------

PERSONAL = "联系人王小明 13912345678 身份证 110101199003077777 住址幸福路8号"
MOBILE = re.compile(r"(?<![0-9A-Za-z])1[3-9]\d{9}(?!\d)")
LANDLINE = re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)")
ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def test_no_agency_answer_holds_personal_data(api, county, supervisor, document):
    """Every agency-readable operation, over a county whose officers, stations and contact
    people all have phone numbers and whose cases' free text holds a phone and an ID number."""
    e1 = county["e1"]
    enterprise_token = county["tokens"]["enterprise"]
    case = ok(api("POST", "/v1/incidents", enterprise_token, json={
        "category": "dispute", "priority": "low", "description": PERSONAL,
        "location": PERSONAL}), 201)
    request = ok(api("POST", "/v1/requests", enterprise_token, json={
        "service_code": "other", "description": PERSONAL}), 201)
    ok(api("POST", f"/v1/requests/{request['id']}/steps", supervisor,
           json={"step": "start", "note": PERSONAL}))
    officers = ok(api("GET", "/v1/officers?per_page=500", supervisor))["items"]
    enterprises = ok(api("GET", "/v1/enterprises?per_page=500", supervisor))["items"]
    stations = ok(api("GET", "/v1/stations?per_page=500", supervisor))["items"]
    assert all(o["phone"] for o in officers) and all(s["phone"] for s in stations)
    secrets = {PERSONAL}
    for officer in officers:
        secrets |= {officer["name"], officer["phone"], officer["badge_number"], officer["id"]}
    for enterprise in enterprises:
        secrets |= {enterprise["contact"]["name"], enterprise["contact"]["phone"]} - {""}
    secrets |= {s["phone"] for s in stations}
    organisational = {e["credit_code"] for e in enterprises}
    values = dict(county["inside"], incident_id=case["id"], request_id=request["id"],
                  enterprise_id=e1)
    agency = county["tokens"]["agency"]
    read = 0
    for path, method, operation, route in operations(document):
        if method != "GET" or "agency" not in RULES[route].scopes:
            continue
        url = fill(path, values)
        if "page" in {p.get("name") for p in operation.get("parameters", ())}:
            url += "?per_page=500"
        if route == "work_report":  # the whole platform over the last year
            url += f"?area_kind=province&start={utc_year() - 1}-01-01&end={utc_year()}-12-31"
        text = api("GET", url, agency).text
        assert ok(api("GET", url, agency)) is not None
        read += 1
        leaked = sorted(s for s in secrets if s and s in text)
        assert not leaked, (url, leaked[:5])
        for code in organisational:
            text = text.replace(code, "")
        for pattern in (MOBILE, LANDLINE, ID_NUMBER):
            assert not pattern.search(text), (url, pattern.pattern, pattern.search(text))
    assert read >= 9
    seen = ok(api("GET", f"/v1/incidents/{case['id']}", agency))
    assert seen["id"] == case["id"] and seen["state"] and "description" not in seen
