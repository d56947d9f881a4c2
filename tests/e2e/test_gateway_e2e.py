"""The gateway end to end: real processes, real broker, HTTP only (plus a tap on the events).

Tests run in file order on one platform; the kill-and-restart test is last on purpose.
"""
import io
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import requests
from pypdf import PdfReader

from services.enterprise.domain import CREDIT_CODE_CHARSET, credit_code_check_char

from .conftest import RPC_TIMEOUT, utc_today

pytestmark = pytest.mark.e2e

_rng = random.Random()


# --- helpers -------------------------------------------------------------------------------------


def new_credit_code():
    """A valid unified social credit code nobody has used yet (random body, right check)."""
    first17 = "91520115" + "".join(_rng.choice(CREDIT_CODE_CHARSET) for _ in range(9))
    return first17 + credit_code_check_char(first17)


def new_badge():
    return "E2E" + uuid.uuid4().hex[:7].upper()


def iso(moment):
    return moment.isoformat().replace("+00:00", "Z")


def now_utc():
    return datetime.now(timezone.utc)


def ok(response, status=200):
    assert response.status_code == status, (response.status_code, response.text)
    return response.json()


def refused(response, status, code):
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert body["error"] == code, body
    assert body["message"]
    return body


def all_items(api, token, path):
    page = ok(api("GET", f"{path}?per_page=500", token))
    assert len(page["items"]) == page["total"], "more than one page; raise per_page"
    return page["items"]


def total(api, token, path):
    return ok(api("GET", f"{path}?per_page=1", token))["total"]


def enterprise_body(api, token, **overrides):
    grid = ok(api("GET", "/v1/grids?per_page=1", token))["items"][0]
    body = {"name": f"端到端测试企业{uuid.uuid4().hex[:6]}", "credit_code": new_credit_code(),
            "kind": "enterprise", "level": "other", "stage": "production",
            "grid_id": grid["id"], "address": "云溪县测试路1号", "workforce": 10,
            "migrant_workers": 2, "contact": {"name": "测试联系人", "phone": "13500000000"}}
    body.update(overrides)
    return body


def create_enterprise(api, token, ledger):
    created = ok(api("POST", "/v1/enterprises", token, json=enterprise_body(api, token)), 201)
    ledger["enterprises"].append(created)
    return created


def create_officer(api, token, ledger, role="community_officer"):
    station = ok(api("GET", "/v1/stations?per_page=1", token))["items"][0]
    created = ok(api("POST", "/v1/officers", token, json={
        "badge_number": new_badge(), "name": "测试警员", "role": role,
        "station_id": station["id"], "departments": ["public_order"]}), 201)
    ledger["officers"].append(created)
    return created


def seat(responders, name):
    return next((s for s in responders["seats"] if s["seat"] == name), None)


# --- a. validation refuses the whole request and publishes nothing ----------------------------


def test_invalid_enterprise_is_refused_and_nothing_is_stored_or_published(
        api, supervisor, event_tap, ledger):
    good = enterprise_body(api, supervisor)
    code = good["credit_code"]
    wrong_check = next(c for c in CREDIT_CODE_CHARSET if c != code[-1])
    without_name = {k: v for k, v in good.items() if k != "name"}
    cases = [
        (dict(good, credit_code=code[:17] + wrong_check), "credit_code"),
        (without_name, "name"),
        (dict(good, fax="0854-1234567"), "fax"),
        (dict(good, level="galactic_key_project"), "level"),
    ]
    before = all_items(api, supervisor, "/v1/enterprises")
    # Events already on their way (the demo loader publishes after answering) are not ours.
    time.sleep(0.5)
    event_tap.forget()

    for body, field in cases:
        refusal = refused(api("POST", "/v1/enterprises", supervisor, json=body), 400,
                          "VALIDATION_FAILED")
        assert set(refusal["fields"]) == {field}, refusal
        assert refusal["fields"][field], refusal

    after = all_items(api, supervisor, "/v1/enterprises")
    assert len(after) == len(before)
    stored_codes = {e["credit_code"] for e in after}
    assert code not in stored_codes
    assert code[:17] + wrong_check not in stored_codes

    created = ok(api("POST", "/v1/enterprises", supervisor, json=good), 201)
    ledger["enterprises"].append(created)
    assert created["credit_code"] == code
    assert total(api, supervisor, "/v1/enterprises") == len(before) + 1

    assert event_tap.wait(lambda got: any(e["subject"] == created["id"] for e in got),
                          timeout=10)
    # Anything a refused request had stored would be swept out within ~2 s; wait past that.
    time.sleep(3)
    # Delivery is at least once (outbox + sweeper): the same envelope id twice is one event.
    events = list({e["id"]: e for e in event_tap.snapshot()}.values())
    assert [(e["type"], e["subject"]) for e in events] == [
        ("enterprise.registered", created["id"])], events
    assert events[0]["data"]["credit_code"] == code
    assert "contact" not in events[0]["data"]  # personal data never travels in events
    assert event_tap.broken == []


# --- b. the error table over HTTP ------------------------------------------------------------


def test_duplicate_unknown_unauthenticated_and_forbidden(api, supervisor, token, secret):
    existing = ok(api("GET", "/v1/enterprises?per_page=1", supervisor))["items"][0]
    before = total(api, supervisor, "/v1/enterprises")

    refused(api("POST", "/v1/enterprises", supervisor,
                json=enterprise_body(api, supervisor, credit_code=existing["credit_code"])),
            409, "DUPLICATE_CREDIT_CODE")

    refused(api("GET", "/v1/enterprises/" + "0" * 24, supervisor), 404, "ENTERPRISE_NOT_FOUND")
    refused(api("GET", "/v1/enterprises/no-such-enterprise", supervisor), 404,
            "ENTERPRISE_NOT_FOUND")

    refused(api("GET", "/v1/enterprises"), 401, "UNAUTHENTICATED")
    forged = token("supervisor", secret="not-" + secret)
    refused(api("GET", "/v1/enterprises", forged), 401, "UNAUTHENTICATED")
    expired = token("supervisor", ttl=timedelta(seconds=-10))
    refused(api("GET", "/v1/enterprises", expired), 401, "UNAUTHENTICATED")
    refused(api("GET", "/v1/enterprises", headers={"Authorization": "Basic Z3Vlc3Q6Z3Vlc3Q="}),
            401, "UNAUTHENTICATED")

    own = token("enterprise", enterprise_id=existing["id"])
    refused(api("POST", "/v1/enterprises", own, json=enterprise_body(api, supervisor)), 403,
            "FORBIDDEN")
    assert total(api, supervisor, "/v1/enterprises") == before


# --- c. who sees what ----------------------------------------------------------------------------


def test_enterprise_sees_only_itself(api, supervisor, token):
    first, second = ok(api("GET", "/v1/enterprises?per_page=2", supervisor))["items"]
    e1, e2 = first["id"], second["id"]
    own = token("enterprise", sub="e2e-enterprise-1", enterprise_id=e1)

    for path in (f"/v1/enterprises/{e2}", f"/v1/enterprises/{e2}/file",
                 f"/v1/enterprises/{e2}/assignments", f"/v1/enterprises/{e2}/responders"):
        refused(api("GET", path, own), 403, "FORBIDDEN")
    refused(api("PATCH", f"/v1/enterprises/{e2}", own, json={"name": "被改名"}), 403,
            "FORBIDDEN")
    refused(api("POST", f"/v1/enterprises/{e2}/assignments", own, json={}), 403, "FORBIDDEN")
    assert ok(api("GET", f"/v1/enterprises/{e2}", supervisor))["name"] == second["name"]

    assert ok(api("GET", f"/v1/enterprises/{e1}", own)) == first
    assert ok(api("GET", f"/v1/enterprises/{e1}/file", own))["profile"]["id"] == e1
    assert ok(api("GET", f"/v1/enterprises/{e1}/assignments", own))["enterprise_id"] == e1
    assert ok(api("GET", f"/v1/enterprises/{e1}/responders", own))["enterprise_id"] == e1
    listed = ok(api("GET", "/v1/enterprises", own))
    assert listed["total"] == 1
    assert [e["id"] for e in listed["items"]] == [e1]
    # Even an explicit filter cannot widen the view.
    listed = ok(api("GET", f"/v1/enterprises?station_id={second['station_id']}", own))
    assert {e["id"] for e in listed["items"]} <= {e1}


def test_officer_sees_the_enterprises_assigned_to_them(api, supervisor, token):
    enterprises = all_items(api, supervisor, "/v1/enterprises")
    current = {}
    for enterprise in enterprises:
        assignment = ok(api("GET", f"/v1/enterprises/{enterprise['id']}/assignments",
                            supervisor))["current"]
        current[enterprise["id"]] = assignment
    officer_id = next(a["a_officer_id"] for a in current.values() if a and a["a_officer_id"])
    seats = ("a_officer_id", "b_officer_id", "bureau_leader_id", "station_leader_id",
             "area_chief_id")
    expected = {eid for eid, a in current.items()
                if a and officer_id in {a[s] for s in seats}}
    assert expected

    officer = token("officer", sub="e2e-officer", officer_id=officer_id)
    listed = ok(api("GET", "/v1/enterprises?per_page=500", officer))
    assert {e["id"] for e in listed["items"]} == expected
    assert listed["total"] == len(expected)
    mine = sorted(expected)[0]
    assert ok(api("GET", f"/v1/enterprises/{mine}", officer))["id"] == mine
    assert ok(api("GET", f"/v1/enterprises/{mine}/responders", officer))["enterprise_id"] == mine
    other = next(e["id"] for e in enterprises if e["id"] not in expected)
    refused(api("GET", f"/v1/enterprises/{other}", officer), 403, "FORBIDDEN")
    refused(api("GET", f"/v1/enterprises/{other}/file", officer), 403, "FORBIDDEN")
    refused(api("PATCH", f"/v1/enterprises/{mine}", officer, json={"name": "x"}), 403,
            "FORBIDDEN")


def test_officer_access_follows_the_assignment_in_force_now(api, supervisor, token, ledger):
    """An assignment that starts next month gives its officers no access yet, and does not
    take it away from the officers who hold the seats today."""
    enterprise = create_enterprise(api, supervisor, ledger)
    today_a, today_b, next_a, next_b = (create_officer(api, supervisor, ledger)["id"]
                                        for _ in range(4))
    path = f"/v1/enterprises/{enterprise['id']}"
    ok(api("POST", f"{path}/assignments", supervisor,
           json={"a_officer_id": today_a, "b_officer_id": today_b}), 201)
    later = ok(api("POST", f"{path}/assignments", supervisor, json={
        "a_officer_id": next_a, "b_officer_id": next_b,
        "effective_from": iso(now_utc() + timedelta(days=30))}), 201)
    assert later["revision"] == 2

    # The registry itself knows who holds the seats now.
    assert seat(ok(api("GET", f"{path}/responders", supervisor)), "a_officer")[
        "officer_id"] == today_a

    holder = token("officer", sub="e2e-officer-today", officer_id=today_a)
    successor = token("officer", sub="e2e-officer-next", officer_id=next_a)
    observed = {
        "today's A lists": [e["id"] for e in
                            ok(api("GET", "/v1/enterprises", holder))["items"]],
        "today's A reads": api("GET", path, holder).status_code,
        "next month's A lists": [e["id"] for e in
                                 ok(api("GET", "/v1/enterprises", successor))["items"]],
        "next month's A reads": api("GET", path, successor).status_code,
    }
    assert observed == {
        "today's A lists": [enterprise["id"]], "today's A reads": 200,
        "next month's A lists": [], "next month's A reads": 403,
    }


def test_agency_never_sees_the_contact_person(api, supervisor, token):
    agency = token("agency", sub="e2e-agency")
    listed = ok(api("GET", "/v1/enterprises?per_page=5", agency))["items"]
    assert listed and all("contact" not in e for e in listed)
    enterprise_id = listed[0]["id"]
    assert "contact" in ok(api("GET", f"/v1/enterprises/{enterprise_id}", supervisor))
    profile = ok(api("GET", f"/v1/enterprises/{enterprise_id}", agency))
    assert profile["id"] == enterprise_id and "contact" not in profile
    refused(api("GET", f"/v1/enterprises/{enterprise_id}/file", agency), 403, "FORBIDDEN")
    refused(api("GET", "/v1/officers", agency), 403, "FORBIDDEN")
    refused(api("PATCH", f"/v1/enterprises/{enterprise_id}", agency, json={"name": "x"}), 403,
            "FORBIDDEN")


# --- d. who responds -----------------------------------------------------------------------------


def test_b_is_called_while_a_is_on_leave(api, supervisor):
    candidate = None
    for enterprise in all_items(api, supervisor, "/v1/enterprises"):
        responders = ok(api("GET", f"/v1/enterprises/{enterprise['id']}/responders",
                            supervisor))
        b = seat(responders, "b_officer")
        if (responders["to_call"] and responders["to_call"]["seat"] == "a_officer"
                and b and b["available"]):
            candidate = enterprise["id"], responders
            break
    assert candidate, "no enterprise with both A and B available in the demo county"
    enterprise_id, before = candidate
    a_id = seat(before, "a_officer")["officer_id"]
    b_id = seat(before, "b_officer")["officer_id"]

    today = utc_today().isoformat()
    officer = ok(api("POST", f"/v1/officers/{a_id}/availability", supervisor, json={
        "status": "on_leave", "first_day": today, "last_day": today, "note": "e2e"}))
    assert any(a["kind"] == "on_leave" for a in officer["absences"])

    after = ok(api("GET", f"/v1/enterprises/{enterprise_id}/responders", supervisor))
    assert after["to_call"]["seat"] == "b_officer"
    assert after["to_call"]["officer_id"] == b_id
    a_seat = seat(after, "a_officer")
    assert a_seat["officer_id"] == a_id and a_seat["available"] is False
    assert a_seat["absence"]["kind"] == "on_leave"


def test_responders_at_a_past_moment_follow_the_history(api, supervisor, ledger):
    # The demo county: every fifth assigned enterprise had A and B swapped 180 days ago.
    for enterprise in all_items(api, supervisor, "/v1/enterprises"):
        assignments = ok(api("GET", f"/v1/enterprises/{enterprise['id']}/assignments",
                             supervisor))
        if assignments["revision"] >= 2:
            break
    else:
        pytest.fail("the demo county has no enterprise with an assignment history")
    current = assignments["current"]
    earlier_a = next(h["officer_id"] for h in assignments["holdings"]
                     if h["seat"] == "a_officer" and h["end"] == current["valid_from"])
    assert earlier_a != current["a_officer_id"]
    valid_from = datetime.fromisoformat(current["valid_from"].replace("Z", "+00:00"))
    then = ok(api("GET", f"/v1/enterprises/{enterprise['id']}/responders", supervisor,
                  params={"at": iso(valid_from - timedelta(days=10))}))
    assert seat(then, "a_officer")["officer_id"] == earlier_a
    now = ok(api("GET", f"/v1/enterprises/{enterprise['id']}/responders", supervisor))
    assert seat(now, "a_officer")["officer_id"] == current["a_officer_id"]

    # A history of our own: A and B swap 10 days ago.
    own = create_enterprise(api, supervisor, ledger)
    first, second = (create_officer(api, supervisor, ledger)["id"] for _ in range(2))
    path = f"/v1/enterprises/{own['id']}"
    start = now_utc()
    ok(api("POST", f"{path}/assignments", supervisor, json={
        "a_officer_id": first, "b_officer_id": second,
        "effective_from": iso(start - timedelta(days=100))}), 201)
    ok(api("POST", f"{path}/assignments", supervisor, json={
        "a_officer_id": second, "b_officer_id": first,
        "effective_from": iso(start - timedelta(days=10))}), 201)
    expected = {200: None, 50: first, 1: second}
    for days_ago, a_officer in expected.items():
        responders = ok(api("GET", f"{path}/responders", supervisor,
                            params={"at": iso(start - timedelta(days=days_ago))}))
        if a_officer is None:
            assert responders["seats"] == [] and responders["to_call"] is None, responders
        else:
            assert responders["to_call"]["seat"] == "a_officer"
            assert responders["to_call"]["officer_id"] == a_officer
    assert ok(api("GET", f"{path}/responders", supervisor))["to_call"]["officer_id"] == second


# --- e. Idempotency-Key ------------------------------------------------------------------------


def test_idempotency_key_runs_a_post_once(api, supervisor, ledger):
    before = total(api, supervisor, "/v1/stations")
    key = str(uuid.uuid4())
    body = {"name": f"端到端警务站{key[:6]}", "kind": "park_post", "phone": "0854-1234567"}
    first = api("POST", "/v1/stations", supervisor, json=body, headers={"Idempotency-Key": key})
    created = ok(first, 201)
    assert "Idempotent-Replayed" not in first.headers
    again = api("POST", "/v1/stations", supervisor, json=body, headers={"Idempotency-Key": key})
    assert ok(again, 201) == created
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert total(api, supervisor, "/v1/stations") == before + 1
    ledger["stations"].append(created)

    refused(api("POST", "/v1/stations", supervisor, json=dict(body, name=body["name"] + "二"),
                headers={"Idempotency-Key": key}), 422, "IDEMPOTENCY_KEY_REUSED")
    assert total(api, supervisor, "/v1/stations") == before + 1
    named = [s for s in all_items(api, supervisor, "/v1/stations")
             if s["name"].startswith(body["name"])]
    assert named == [created]


# --- f. CSV import -----------------------------------------------------------------------------


def test_csv_import_all_or_nothing_then_good_rows(api, supervisor, ledger):
    station = ok(api("GET", "/v1/stations?per_page=1", supervisor))["items"][0]["name"]
    good1, bad, good2 = new_badge(), new_badge(), new_badge()
    text = ("badge_number,name,role,station_name,departments,phone\n"
            f"{good1},张测试,community_officer,{station},traffic,13500000001\n"
            f"{bad},李测试,chief_of_everything,{station},,\n"
            f"{good2},王测试,auxiliary_officer,{station},public_order;traffic,\n")
    headers = {"Content-Type": "text/csv"}
    before = total(api, supervisor, "/v1/officers")

    report = ok(api("POST", "/v1/imports/officers?mode=all_or_nothing", supervisor,
                    data=text.encode(), headers=headers))
    assert report["mode"] == "all_or_nothing"
    assert report["rows"] == 3 and report["imported"] == 0
    assert len(report["rejected"]) == 1
    rejection = report["rejected"][0]
    assert rejection["line"] == 3 and rejection["field"] == "role" and rejection["reason"]
    badges = {o["badge_number"] for o in all_items(api, supervisor, "/v1/officers")}
    assert not {good1, bad, good2} & badges
    assert total(api, supervisor, "/v1/officers") == before

    report = ok(api("POST", "/v1/imports/officers?mode=good_rows", supervisor,
                    data=text.encode(), headers=headers))
    assert report["mode"] == "good_rows"
    assert report["rows"] == 3 and report["imported"] == 2
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(3, "role")]
    officers = {o["badge_number"]: o for o in all_items(api, supervisor, "/v1/officers")}
    assert good1 in officers and good2 in officers and bad not in officers
    assert officers[good2]["departments"] == ["public_order", "traffic"]
    assert total(api, supervisor, "/v1/officers") == before + 2
    ledger["officers"] += [officers[good1], officers[good2]]


# --- h. API document, health, metrics ---------------------------------------------------------


def _metrics(url):
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    return response.text


def _samples(text, name):
    return [line for line in text.splitlines()
            if line.startswith(name + "{") or line.startswith(name + " ")]


def test_openapi_health_and_metrics(api, platform):
    document = ok(api("GET", "/v1/openapi.json"))
    assert document["openapi"].startswith("3.")
    assert "/v1/enterprises" in document["paths"]
    assert "/v1/enterprises/{enterprise_id}/file" in document["paths"]
    assert {"get", "post"} <= set(document["paths"]["/v1/enterprises"])
    assert "EnterpriseInput" in document["components"]["schemas"]
    assert ok(api("GET", "/healthz")) == {"status": "ok"}
    assert ok(api("GET", "/readyz"))["status"] == "ready"

    gateway = _metrics(platform.metrics_url("gateway"))
    assert any('service="gateway"' in s and 'entrypoint="list_enterprises"' in s
               for s in _samples(gateway, "liaison_entrypoint_requests_total"))
    enterprise = _metrics(platform.metrics_url("enterprise"))
    assert any('service="enterprise"' in s
               for s in _samples(enterprise, "liaison_entrypoint_requests_total"))
    assert "# TYPE liaison_enterprises gauge" in enterprise
    # The domain gauges are refreshed every 15 s; wait (bounded) for the first refresh.
    deadline = time.monotonic() + 25
    while not _samples(enterprise, "liaison_enterprises") and time.monotonic() < deadline:
        time.sleep(1)
        enterprise = _metrics(platform.metrics_url("enterprise"))
    counts = [float(s.rsplit(" ", 1)[1]) for s in _samples(enterprise, "liaison_enterprises")]
    assert counts and sum(counts) >= 60


def test_the_appraisal_report_is_served_as_html_and_as_pdf_to_managers_only(api, supervisor,
                                                                              token):
    """A rating of a closed case shows in the year's report, in either format; a bad format
    is refused naming the field; an officer may read neither."""
    enterprise = all_items(api, supervisor, "/v1/enterprises")[0]
    incident = ok(api("POST", "/v1/incidents", supervisor, json={
        "enterprise_id": enterprise["id"], "category": "other", "priority": "low",
        "description": "report check"}), 201)
    page = next(n for n in incident["notifications"] if n["reason"] == "responsible")
    officer_id = page["recipient"]["id"]
    officer = token("officer", sub="e2e-report-officer", officer_id=officer_id)
    ok(api("POST", f"/v1/incidents/{incident['id']}/acknowledgements", officer,
           json={"notification_id": page["id"]}))
    ok(api("POST", f"/v1/incidents/{incident['id']}/transitions", supervisor,
           json={"state": "resolved"}))
    invitation = f"/v1/appraisal/invitations/incident:{incident['id']}"
    deadline = time.monotonic() + 30
    while api("GET", invitation, supervisor).status_code != 200:
        assert time.monotonic() < deadline, "the closed case got no invitation"
        time.sleep(0.1)
    rater = token("enterprise", sub="e2e-report-rater", enterprise_id=enterprise["id"])
    ok(api("POST", invitation + "/ratings", rater,
           json={"officer_id": officer_id, "score": 4, "satisfied": True}))
    report = f"/v1/appraisal/report?year={utc_today().year}"

    html = api("GET", report, supervisor, timeout=60)
    assert html.status_code == 200, html.text
    assert html.headers["Content-Type"].startswith("text/html")
    assert officer_id in html.text  # among the officers with too little evidence
    pdf = api("GET", report + "&format=pdf", supervisor, timeout=60)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert officer_id in text and f"Appraisal report {utc_today().year}" in text

    wrong = refused(api("GET", report + "&format=docx", supervisor), 400, "VALIDATION_FAILED")
    assert "format" in wrong["fields"]
    for form in ("html", "pdf"):
        refused(api("GET", f"{report}&format={form}", officer), 403, "FORBIDDEN")


# --- g. the registry dies and comes back (last: it restarts a process) --------------------------


def test_registry_killed_then_restarted_loses_nothing(api, platform, supervisor, ledger):
    create_enterprise(api, supervisor, ledger)
    totals = {kind: total(api, supervisor, f"/v1/{kind}")
              for kind in ("enterprises", "officers", "stations")}
    probe = ledger["enterprises"][0]

    platform.kill("enterprise")
    started = time.monotonic()
    response = api("GET", f"/v1/enterprises/{probe['id']}", supervisor)
    elapsed = time.monotonic() - started
    refused(response, 503, "SERVICE_UNAVAILABLE")
    assert elapsed < RPC_TIMEOUT + 2, elapsed
    started = time.monotonic()
    ready = api("GET", "/readyz")
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "unavailable"
    assert time.monotonic() - started < RPC_TIMEOUT + 2
    assert ok(api("GET", "/healthz")) == {"status": "ok"}  # the gateway itself is alive
    # A change sent meanwhile is refused, and never applied later: the request expires in
    # the broker with the caller's deadline (kit.rpc), so the restarted registry never sees it.
    lost = {"name": f"停机期间警务站{uuid.uuid4().hex[:6]}", "kind": "station"}
    refused(api("POST", "/v1/stations", supervisor, json=lost), 503, "SERVICE_UNAVAILABLE")

    platform.start("enterprise")
    deadline = time.monotonic() + 60
    while True:
        response = api("GET", f"/v1/enterprises/{probe['id']}", supervisor)
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        assert platform.procs["enterprise"].poll() is None, "the registry exited on start"
        time.sleep(0.3)
    assert ok(response) == probe
    assert ok(api("GET", "/readyz"))["status"] == "ready"

    for kind, count in totals.items():
        assert total(api, supervisor, f"/v1/{kind}") == count, kind
    assert lost["name"] not in {s["name"] for s in all_items(api, supervisor, "/v1/stations")}
    for enterprise in ledger["enterprises"]:
        assert ok(api("GET", f"/v1/enterprises/{enterprise['id']}", supervisor)) == enterprise
    for station in ledger["stations"]:
        assert ok(api("GET", f"/v1/stations/{station['id']}", supervisor)) == station
    for officer in ledger["officers"]:
        got = ok(api("GET", f"/v1/officers/{officer['id']}", supervisor))
        assert got["badge_number"] == officer["badge_number"]
    # And the restarted registry takes writes again.
    create_enterprise(api, supervisor, ledger)
    assert total(api, supervisor, "/v1/enterprises") == totals["enterprises"] + 1
