"""The access policy's decisions, with fakes of the registry and dispatch (no broker)."""
import pytest

from gateway import views
from gateway.auth import ROLES, Forbidden, Principal
from gateway.policy import RULES, SCOPES, Gate


class FakeRegistry:
    def __init__(self, reach):
        self.reach = reach
        self.asked = 0

    def officer_reach(self, officer_id):
        self.asked += 1
        return self.reach.get(officer_id, {"seats": {}, "departments": [], "colleagues": []})


class FakeDispatch:
    def __init__(self, incidents=(), requests=()):
        self.incidents = {i["id"]: i for i in incidents}
        self.requests = {r["id"]: r for r in requests}

    def get_incident(self, incident_id):
        return self.incidents[incident_id]

    def get_request(self, request_id):
        return self.requests[request_id]


def page(officer_id, kind="officer"):
    return {"id": "i1-n1", "recipient": {"kind": kind, "id": officer_id,
                                                   "name": f"Officer {officer_id}",
                                                   "role": "a_officer"},
            "reason": "responsible", "sent_at": "2026-01-01T00:00:00Z", "step": 0,
            "deadline": None}


INCIDENT = {"id": "i1", "enterprise_id": "e1", "enterprise_name": "一厂", "station_id": "s1",
            "category": "theft", "priority": "low", "description": "王五 13912345678",
            "location": "东门", "reporter_role": "enterprise", "reporter_id": "e1",
            "reported_at": "2026-01-01T00:00:00Z", "state": "notified",
            "ladder": [{"kind": "officer", "id": "o-a", "name": "Officer A",
                        "role": "a_officer", "available": True}],
            "step": 0, "deadline": None, "repeats": 0, "unacknowledged": False,
            "acknowledged_by": None, "acknowledged_at": None, "closed_at": None,
            "notifications": [page("o-a")], "departments": [], "audit": [], "version": 1}
REQUEST = {"id": "r1", "enterprise_id": "e1", "routed_to": {"kind": "officer", "target": "o-a"},
           "description": "王五 13912345678", "status": "routed"}
REACH = {
    "o-a": {"seats": {"e1": ["a_officer"]}, "departments": ["traffic"], "colleagues": ["o-b"]},
    "o-b": {"seats": {"e1": ["b_officer"]}, "departments": [], "colleagues": ["o-a"]},
    "o-chief": {"seats": {"e1": ["area_chief"]}, "departments": [], "colleagues": ["o-a"]},
    "o-far": {"seats": {"e9": ["a_officer"]}, "departments": [], "colleagues": []},
}


def decide(operation, principal, registry=None, **values):
    gate = Gate(registry or FakeRegistry(REACH), FakeDispatch([INCIDENT], [REQUEST]))
    return gate.authorize(operation, principal, values)


def officer(officer_id):
    return Principal(f"person-{officer_id}", "officer", officer_id=officer_id)


ENTERPRISE = Principal("desk-1", "enterprise", enterprise_id="e1")
AGENCY = Principal("emergency-bureau", "agency")


def test_every_rule_names_known_roles_and_scopes():
    for name, rule in RULES.items():
        assert set(rule.scopes) <= set(ROLES), name
        assert set(rule.scopes.values()) <= set(SCOPES), name
        assert set(rule.views) <= set(rule.scopes), name


@pytest.mark.parametrize("operation", ["update_enterprise", "list_officers", "enterprise_file",
                                       "plan_visit", "coverage"])
def test_a_role_without_a_rule_entry_is_refused(operation):
    with pytest.raises(Forbidden):
        decide(operation, AGENCY, enterprise_id="e1")


def test_an_enterprise_acts_for_itself_only():
    body = {"category": "theft"}
    decide("report_incident", ENTERPRISE, body=body)
    assert body["enterprise_id"] == "e1"
    with pytest.raises(Forbidden):
        decide("report_incident", ENTERPRISE, body={"enterprise_id": "e2"})
    with pytest.raises(Forbidden):
        decide("get_enterprise", ENTERPRISE, enterprise_id="e2")
    assert decide("list_incidents", ENTERPRISE).filters == {"enterprise_id": "e1"}
    assert decide("list_enterprises", ENTERPRISE).filters == {"ids": ["e1"]}


def test_an_officer_reaches_the_enterprises_it_holds_a_seat_on():
    assert decide("list_enterprises", officer("o-a")).filters == {"ids": ["e1"]}
    decide("responders", officer("o-a"), enterprise_id="e1")
    with pytest.raises(Forbidden):
        decide("responders", officer("o-far"), enterprise_id="e1")
    with pytest.raises(Forbidden):
        decide("plan_visit", officer("o-far"), body={"enterprise_id": "e1"})
    decide("plan_visit", officer("o-a"), body={"enterprise_id": "e1"})


def test_an_officer_reads_cases_of_its_enterprises_or_that_name_it():
    assert decide("get_incident", officer("o-b"), incident_id="i1").record == INCIDENT
    with pytest.raises(Forbidden):
        decide("get_incident", officer("o-far"), incident_id="i1")
    listing = decide("list_incidents", officer("o-far")).filters
    assert listing == {"reach": {"enterprise_ids": ["e9"], "officer_id": "o-far"}}


def test_acting_on_an_incident_takes_a_page_or_a_chief_seat():
    assert decide("call_departments", officer("o-a"), incident_id="i1").capacity is None
    chief = decide("call_departments", officer("o-chief"), incident_id="i1")
    assert chief.capacity == "chief" and chief.actor["capacity"] == "chief"
    with pytest.raises(Forbidden):
        decide("call_departments", officer("o-b"), incident_id="i1")  # B was not paged
    with pytest.raises(Forbidden):
        decide("acknowledge_incident", officer("o-chief"), incident_id="i1")


def test_a_department_reports_in_by_its_own_officers():
    decide("department_acknowledges", officer("o-a"), incident_id="i1", department="traffic")
    with pytest.raises(Forbidden):
        decide("department_acknowledges", officer("o-a"), incident_id="i1",
               department="narcotics_control")


def test_a_request_step_is_for_the_officer_routed_to_or_the_enterprises_a_and_b():
    decide("request_step", officer("o-a"), request_id="r1")
    decide("request_step", officer("o-b"), request_id="r1")  # B of the enterprise
    with pytest.raises(Forbidden):
        decide("request_step", officer("o-chief"), request_id="r1")
    with pytest.raises(Forbidden):
        decide("request_step", officer("o-far"), request_id="r1")
    decide("get_request", officer("o-chief"), request_id="r1")  # a seat reads it


def test_an_officer_changes_only_its_own_availability():
    decide("change_availability", officer("o-a"), officer_id="o-a")
    with pytest.raises(Forbidden):
        decide("change_availability", officer("o-a"), officer_id="o-b")


def test_an_officer_asks_the_registry_once_per_call():
    registry = FakeRegistry(REACH)
    decide("department_acknowledges", officer("o-a"), registry, incident_id="i1",
           department="traffic")
    decide("call_departments", officer("o-chief"), registry, incident_id="i1")
    assert registry.asked == 2


def test_an_agency_sees_an_incident_without_personal_data():
    seen = decide("get_incident", AGENCY, incident_id="i1").project(INCIDENT)
    text = repr(seen)
    for secret in ("13912345678", "王五", "Officer A", "o-a", "东门"):
        assert secret not in text
    assert seen["notifications"][0]["recipient"] == {"kind": "officer", "role": "a_officer"}
    assert seen["state"] == "notified" and seen["enterprise_id"] == "e1"


def test_an_agency_sees_pages_of_records_through_the_same_view():
    grant = decide("list_requests", AGENCY)
    answer = grant.project({"items": [REQUEST], "page": 1, "per_page": 50, "total": 1})
    assert answer["total"] == 1
    assert answer["items"] == [{"id": "r1", "enterprise_id": "e1", "status": "routed",
                                "routed_to": {"kind": "officer"}}]


def test_an_officer_sees_the_phones_of_colleagues_only():
    grant = decide("list_officers", officer("o-a"))
    people = [{"id": i, "badge_number": i, "name": i, "role": "community_officer",
               "station_id": "s1", "departments": [], "phone": f"139{n:08d}",
               "absences": [{"kind": "on_leave", "start": "2026-01-01T00:00:00Z", "end": None,
                             "note": "家中有事 13800000000"}]}
              for n, i in enumerate(("o-a", "o-b", "o-far"))]
    seen = {p["id"]: p for p in grant.project(people)}
    assert {i: p["phone"] for i, p in seen.items()} == {
        "o-a": "13900000000", "o-b": "13900000001", "o-far": None}
    assert seen["o-far"]["absences"][0]["note"] == "" and seen["o-b"]["absences"][0]["note"]
    assert seen["o-far"]["absences"][0]["kind"] == "on_leave"


def test_views_are_allowlists():
    kept = views.allow(views.AgencyEnterprise, {"id": "e1", "name": "一厂",
                                                "contact": {"name": "王五"}, "new_field": 1})
    assert kept == {"id": "e1", "name": "一厂"}


def test_the_readme_holds_the_policy_table_as_it_is():
    from pathlib import Path

    from gateway.policy import table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert table() in readme, "README's policy table is stale: python -m gateway.policy"
