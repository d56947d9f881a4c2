"""Mediation over HTTP on the whole platform (one process per service), as its users meet it:
an enterprise, its officer, a mediator, agencies holding referrals and agencies that do not,
a supervisor reading the statistics."""
import pytest

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def place(api, supervisor):
    """A demo enterprise with its A officer, and another enterprise."""
    enterprises = api("GET", "/v1/enterprises?per_page=100", supervisor).json()["items"]
    for enterprise in enterprises:
        seats = api("GET", f"/v1/enterprises/{enterprise['id']}/assignments",
                    supervisor).json()
        current = seats.get("current") or {}
        if current.get("a_officer_id"):
            other = next(e for e in enterprises if e["id"] != enterprise["id"])
            return {"enterprise": enterprise, "a": current["a_officer_id"], "other": other}
    raise AssertionError("no demo enterprise has an A officer")


def body(enterprise_id, **changes):
    return dict({"enterprise_id": enterprise_id, "kind": "wage_arrears",
                 "parties": [{"kind": "workers", "side": "applicant", "name": "三车间工人",
                              "contact": "13800000000", "headcount": 12},
                             {"kind": "enterprise", "side": "respondent", "name": "某公司",
                              "id_number": "913304820000000001"}],
                 "amount_at_stake": 52000, "description": "拖欠三个月工资，联系人电话13800000000"},
                **changes)


def test_each_role_takes_in_and_reads_the_disputes_it_may(api, token, place):
    enterprise, other = place["enterprise"]["id"], place["other"]["id"]
    own = token("enterprise", sub="e2e-liaison", enterprise_id=enterprise)
    officer = token("officer", sub="e2e-a", officer_id=place["a"])
    mediator = token("mediator", sub="e2e-mediator")

    taken = api("POST", "/v1/disputes", own, json=body(enterprise))
    assert taken.status_code == 201, taken.text
    dispute = taken.json()
    assert dispute["grade"]["grade"] == "medium" and dispute["parties"][0]["headcount"] == 12
    assert api("POST", "/v1/disputes", own, json=body(other)).status_code == 403
    assert api("GET", f"/v1/disputes/{dispute['id']}", officer).status_code == 200
    assert api("GET", f"/v1/disputes/{dispute['id']}", mediator).status_code == 200
    elsewhere = api("POST", "/v1/disputes", mediator, json=body(other)).json()
    assert api("GET", f"/v1/disputes/{elsewhere['id']}", own).status_code == 403
    listed = api("GET", "/v1/disputes?per_page=100", own).json()
    assert {d["enterprise_id"] for d in listed["items"]} == {enterprise}
    assert api("GET", f"/v1/disputes/{dispute['id']}",
               token("agency", sub="environment")).status_code == 403
    assert api("GET", "/v1/disputes", token("agency", sub="environment")).json()["total"] == 0
    # the officer of the enterprise handles it; a mediator too; an enterprise does not
    escalated = api("POST", f"/v1/disputes/{dispute['id']}/escalations", officer,
                    json={"reason": "企业调委会无法调解"})
    assert escalated.status_code == 200 and escalated.json()["tier"] == "park"
    assert api("POST", f"/v1/disputes/{dispute['id']}/escalations", own,
               json={"reason": "x"}).status_code == 403


def test_bad_input_is_refused_naming_the_field_and_creates_nothing(api, token, place):
    mediator = token("mediator", sub="e2e-mediator-2")
    before = api("GET", "/v1/disputes?per_page=1", mediator).json()["total"]
    for bad, field in ((body(place["enterprise"]["id"], kind="feud"), "kind"),
                       (body(place["enterprise"]["id"], amount_at_stake=-5), "amount_at_stake"),
                       (body(place["enterprise"]["id"], parties=[]), "parties"),
                       (body("no-such-enterprise"), "enterprise_id"),
                       (body(place["enterprise"]["id"], signals=["rumours"]), "signals")):
        refused = api("POST", "/v1/disputes", mediator, json=bad)
        assert refused.status_code == 400, refused.text
        assert field in refused.text
    assert api("GET", "/v1/disputes?per_page=1", mediator).json()["total"] == before


def test_an_agency_sees_parties_only_while_it_holds_an_accepted_referral(api, token, place):
    mediator = token("mediator", sub="e2e-mediator-3")
    agency = token("agency", sub="market_regulation")  # the agency referred to
    stranger = token("agency", sub="emergency_management")  # one that is not
    critical = api("POST", "/v1/disputes", mediator,
                   json=body(place["enterprise"]["id"], amount_at_stake=6_000_000)).json()
    assert critical["tier"] == "panel"
    path = f"/v1/disputes/{critical['id']}"
    referred = api("POST", f"{path}/referrals", mediator,
                   json={"agency": "market_regulation"}).json()
    [referral] = referred["referrals"]

    pending = api("GET", path, agency)
    assert pending.status_code == 200
    assert "parties" not in pending.json() and "description" not in pending.json()
    assert "13800000000" not in pending.text
    assert api("GET", path, stranger).status_code == 403
    assert api("POST", f"{path}/referrals/{referral['id']}", stranger,
               json={"action": "accept"}).status_code == 403

    accepted = api("POST", f"{path}/referrals/{referral['id']}", agency,
                   json={"action": "accept"})
    assert accepted.status_code == 200, accepted.text
    seen = api("GET", path, agency).json()
    assert [p["name"] for p in seen["parties"]] == ["三车间工人", "某公司"]
    assert all("id_number" not in p for p in seen["parties"]) and "audit" not in seen
    listed = api("GET", "/v1/disputes", agency).json()
    assert [d["id"] for d in listed["items"]] == [critical["id"]]

    done = api("POST", f"{path}/referrals/{referral['id']}", agency,
               json={"action": "done", "result": "successful", "reason": "settled"})
    assert done.status_code == 200, done.text
    assert "parties" not in api("GET", path, agency).json()  # the purpose is over
    refused = api("POST", f"{path}/referrals/{referral['id']}", agency,
                  json={"action": "accept"})
    assert refused.status_code == 409 and "action" in refused.text

    second = api("POST", f"{path}/referrals", mediator, json={"agency": "environment"}).json()
    environment = token("agency", sub="environment")
    declined = api("POST", f"{path}/referrals/{second['referrals'][1]['id']}", environment,
                   json={"action": "decline", "reason": "no environmental matter"})
    assert declined.status_code == 200, declined.text
    assert [r["state"] for r in declined.json()["referrals"]] == ["done", "declined"]
    assert "parties" not in declined.json()


def test_an_extension_needs_every_partys_consent(api, token, place):
    mediator = token("mediator", sub="e2e-mediator-5")
    taken = api("POST", "/v1/disputes", mediator, json=body(place["enterprise"]["id"])).json()
    path = f"/v1/disputes/{taken['id']}/extensions"
    refused = api("POST", path, mediator, json={"days": 15, "consents": [0]})
    assert refused.status_code == 409 and "consents" in refused.text
    unchanged = api("GET", f"/v1/disputes/{taken['id']}", mediator).json()
    assert unchanged["deadlines"] == taken["deadlines"]
    extended = api("POST", path, mediator, json={"days": 15, "consents": [0, 1]})
    assert extended.status_code == 200
    assert extended.json()["deadlines"]["settle"] > taken["deadlines"]["settle"]


def test_a_warning_letter_is_printable_and_the_statistics_count_it(api, token, place):
    mediator = token("mediator", sub="e2e-mediator-4")
    supervisor = token("supervisor", sub="e2e-supervisor-4")
    flagged = api("POST", "/v1/disputes", mediator,
                  json=body(place["enterprise"]["id"], signals=["threats"])).json()
    [letter] = flagged["letters"]
    printed = api("GET", f"/v1/disputes/{flagged['id']}/letters/{letter['id']}", mediator)
    assert printed.status_code == 200
    assert printed.headers["Content-Type"].startswith("text/html")
    assert "矛盾纠纷风险预警函" in printed.text and "13800000000" not in printed.text
    stats = api("GET", "/v1/dispute-statistics?start=2000-01-01T00:00:00Z"
                       "&end=2100-01-01T00:00:00Z", supervisor)
    assert stats.status_code == 200, stats.text
    assert stats.json()["risks_found"] >= 1 and stats.json()["screened"] >= 1
    assert api("GET", "/v1/dispute-statistics?start=2000-01-01T00:00:00Z",
               supervisor).status_code == 400
    assert api("GET", "/v1/dispute-statistics?start=2000-01-01T00:00:00Z"
                      "&end=2100-01-01T00:00:00Z", token("agency", sub="environment")
               ).status_code == 403
