"""Field work's use cases on the in-memory fake of the kit's storage: guards, patrols and
their findings, hazards from order to verification or overdue, outreach, and refused input
that creates nothing."""
from datetime import datetime, timedelta

import pytest

from contracts.identities import external_incident_id, verification_visit_id
from kit.tables import MemoryDatabase
from kit.testing import published
from services.fieldwork import handlers
from services.fieldwork.domain import Place
from services.fieldwork.exceptions import HazardStepRefused, InvalidFieldWork
from services.fieldwork.store import Repository

NOW = datetime(2026, 4, 1, 9, 0)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)
OFFICER = "officer-1"
AS_OFFICER = {"role": "officer", "id": OFFICER}
AS_ENTERPRISE = {"role": "enterprise", "id": "e1"}


class FakePlaces:
    """The registry as field work asks it: two enterprises in park p1, grid g1 of station s1."""

    areas = {("enterprise", "e1"): Place("s1", "p1", "g1", "e1"),
             ("enterprise", "e2"): Place("s1", "p1", "g2", "e2"),
             ("park", "p1"): Place("s1", "p1", None, None),
             ("grid", "g1"): Place("s1", None, "g1", None),
             ("station", "s1"): Place("s1", None, None, None)}
    officers = {"officer-1", "officer-2"}

    def of_enterprise(self, enterprise_id, field):
        return self.of_area("enterprise", enterprise_id, field)

    def of_area(self, kind, area_id, field):
        if (kind, area_id) not in self.areas:
            raise InvalidFieldWork({field: [f"no {kind} with id {area_id}"]})
        return self.areas[(kind, area_id)]

    def unknown_officers(self, officer_ids):
        return [o for o in officer_ids if o not in self.officers]


@pytest.fixture
def repo():
    return Repository(MemoryDatabase())


PLACES = FakePlaces()


def types(repo):
    return [e["type"] for e in published(repo.unit)]


def guard(repo, enterprise_id="e1", name="Wang Qiang"):
    return handlers.register_guard(repo, PLACES, {"enterprise_id": enterprise_id, "name": name,
                                                  "phone": "13800000000"}, "u-1", NOW)


def patrol_data(members, **findings):
    base = {"suspicious_persons": 0, "suspicious_vehicles": 0, "people_helped": 0,
            "hazards": [], "incidents": []}
    return {"kind": "foot", "area_kind": "park", "area_id": "p1", "start": NOW - 3 * HOUR,
            "end": NOW - HOUR, "members": members, "findings": dict(base, **findings)}


def hazard_data(**changes):
    return dict({"enterprise_id": "e1", "kind": "fire", "severity": "high",
                 "description": "fire exit blocked by pallets", "rectified_on_spot": False},
                **changes)


def test_a_patrol_with_findings_raises_its_incident_and_its_hazard(repo):
    g = guard(repo)
    members = [{"kind": "officer", "id": OFFICER}, {"kind": "guard", "id": g.id},
               {"kind": "officer", "id": OFFICER}]
    patrol = handlers.record_patrol(repo, PLACES, patrol_data(
        members, suspicious_persons=3, suspicious_vehicles=2, people_helped=1,
        hazards=[hazard_data()],
        incidents=[{"enterprise_id": "e2", "category": "theft", "priority": "high",
                    "description": "cable stolen from the site", "location": "gate 2"}]),
        OFFICER, NOW)
    assert [m.id for m in patrol.members] == [OFFICER, g.id]  # each once: 2 person-times
    assert patrol.place == Place("s1", "p1", None, None)
    [finding] = patrol.incidents
    assert finding.incident_id == external_incident_id("fieldwork", finding.id)
    [hazard_id] = patrol.hazard_ids
    hazard = repo.hazards.get(hazard_id)
    assert (hazard.source, hazard.source_ref, hazard.status) == ("patrol", patrol.id, "ordered")
    assert hazard.order.deadline == hazard.found_at + 7 * DAY  # high: seven days
    assert hazard.order.visit_id == verification_visit_id(hazard_id)
    events = {e["type"]: e["data"] for e in published(repo.unit)}
    assert set(events) >= {"guard.registered", "hazard.found", "hazard.order_issued",
                           "patrol.recorded", "patrol.incident_raised"}
    recorded = events["patrol.recorded"]
    assert (recorded["person_times"], recorded["guards"], recorded["officer_ids"],
            recorded["hazards_found"], recorded["incidents_raised"],
            recorded["suspicious_persons"]) == (2, 1, [OFFICER], 1, 1, 3)
    raised = events["patrol.incident_raised"]
    assert (raised["incident_id"], raised["enterprise_id"], raised["description"]) == (
        finding.incident_id, "e2", "cable stolen from the site")
    assert "Wang Qiang" not in str(published(repo.unit))  # a guard's name stays here


def test_a_retried_patrol_makes_nothing_twice(repo):
    data = patrol_data([{"kind": "officer", "id": OFFICER}], hazards=[hazard_data()])
    first = handlers.record_patrol(repo, PLACES, data, OFFICER, NOW, request_key="k1")
    again = handlers.record_patrol(repo, PLACES, data, OFFICER, NOW, request_key="k1")
    assert first.id == again.id and first.hazard_ids == again.hazard_ids
    assert repo.hazards.count() == 1 and repo.patrols.count() == 1


@pytest.mark.parametrize("change, field", [
    (lambda d: d.update(area_id="nowhere"), "area_id"),
    (lambda d: d.update(members=[{"kind": "officer", "id": "ghost"}]), "members"),
    (lambda d: d.update(members=[{"kind": "guard", "id": "ghost"}]), "members"),
    (lambda d: d["findings"]["hazards"].append(hazard_data(enterprise_id="nope")),
     "findings.hazards.1.enterprise_id"),
    (lambda d: d["findings"]["incidents"].append({
        "enterprise_id": "nope", "category": "theft", "priority": "low", "description": "x",
        "location": ""}), "findings.incidents.0.enterprise_id"),
    (lambda d: d.update(end=d["start"] - HOUR), "end"),
    (lambda d: d.update(start=NOW + DAY, end=NOW + DAY + HOUR), "start"),
])
def test_a_refused_patrol_names_the_field_and_creates_nothing(repo, change, field):
    data = patrol_data([{"kind": "officer", "id": OFFICER}], hazards=[hazard_data()])
    change(data)
    with pytest.raises(InvalidFieldWork) as refused:
        handlers.record_patrol(repo, PLACES, data, OFFICER, NOW)
    assert field in refused.value.errors
    assert repo.hazards.count() == 0 and repo.patrols.count() == 0 and types(repo) == []


def test_a_patrol_needs_an_officer(repo):
    g = guard(repo)
    with pytest.raises(InvalidFieldWork) as refused:
        handlers.record_patrol(repo, PLACES, patrol_data([{"kind": "guard", "id": g.id}]),
                               OFFICER, NOW)
    assert "members" in refused.value.errors


def test_a_hazard_rectified_on_the_spot_needs_no_order(repo):
    hazard = handlers.report_hazard(repo, PLACES, hazard_data(
        rectified_on_spot=True, source="visit", source_ref=None), AS_OFFICER, NOW)
    assert (hazard.status, hazard.on_time, hazard.order, hazard.next_due) == (
        "rectified", True, None, None)
    assert types(repo) == ["hazard.found", "hazard.rectified"]


def test_an_order_reported_rectified_and_verified_in_time_is_rectified_on_time(repo):
    # an enterprise's report is its own, whatever the body says
    hazard = handlers.report_hazard(repo, PLACES, hazard_data(severity="medium", source="visit"),
                                    AS_ENTERPRISE, NOW)
    assert (hazard.source, hazard.found_by) == ("enterprise", "e1")
    assert hazard.next_due == NOW + 15 * DAY
    handlers.report_rectified(repo, hazard.id, "e1", NOW + 10 * DAY)
    # reported in time, verified after the deadline: on time all the same
    verified = handlers.verify_hazard(repo, hazard.id, True, OFFICER, NOW + 16 * DAY)
    assert (verified.status, verified.on_time, verified.next_due) == ("rectified", True, None)
    with pytest.raises(HazardStepRefused):
        handlers.verify_hazard(repo, hazard.id, True, OFFICER, NOW + 17 * DAY)
    assert types(repo)[-2:] == ["hazard.rectification_reported", "hazard.rectified"]


def test_a_failed_verification_sends_the_order_back(repo):
    hazard = handlers.report_hazard(repo, PLACES, hazard_data(source="visit"), AS_OFFICER, NOW)
    handlers.report_rectified(repo, hazard.id, "e1", NOW + DAY)
    failed = handlers.verify_hazard(repo, hazard.id, False, OFFICER, NOW + 2 * DAY)
    assert (failed.status, failed.reported_at, failed.next_due) == (
        "ordered", None, hazard.order.deadline)
    assert types(repo)[-1] == "hazard.verification_failed"


def test_an_order_past_its_deadline_is_overdue_once(repo):
    hazard = handlers.report_hazard(repo, PLACES, hazard_data(severity="critical",
                                                              source="visit"),
                                    AS_OFFICER, NOW)
    early, fired = handlers.fire_deadline(repo, hazard.id, NOW + HOUR)
    assert not fired and early.status == "ordered"
    overdue, fired = handlers.fire_deadline(repo, hazard.id, NOW + DAY)
    assert fired and overdue.status == "overdue" and overdue.next_due is None
    _, again = handlers.fire_deadline(repo, hazard.id, NOW + 2 * DAY)
    assert not again
    assert types(repo).count("hazard.order_overdue") == 1
    assert repo.due(NOW + 3 * DAY) == [] and repo.pending() == []
    late = handlers.verify_hazard(repo, hazard.id, True, OFFICER, NOW + 3 * DAY)
    assert (late.status, late.on_time) == ("rectified", False)


def test_a_reported_rectification_is_not_overdue_while_it_awaits_verification(repo):
    hazard = handlers.report_hazard(repo, PLACES, hazard_data(source="visit"), AS_OFFICER, NOW)
    handlers.report_rectified(repo, hazard.id, "e1", NOW + DAY)
    _, fired = handlers.fire_deadline(repo, hazard.id, NOW + 8 * DAY)
    assert not fired


def test_the_verification_visit_is_kept_as_dispatch_planned_it(repo):
    hazard = handlers.report_hazard(repo, PLACES, hazard_data(source="visit"), AS_OFFICER, NOW)
    visit = {"visit_id": hazard.order.visit_id, "start": hazard.order.deadline,
             "merged_into": "visit-planned-before"}
    assert handlers.verification_planned(repo, dict(visit, visit_id="another")) is None
    kept = handlers.verification_planned(repo, visit)
    assert kept.verification.merged_into == "visit-planned-before"
    version = kept.version
    assert handlers.verification_planned(repo, visit).version == version  # redelivered


def test_outreach_trains_the_guards_it_names_once(repo):
    g = guard(repo)
    data = {"kind": "guard_training", "area_kind": "park", "area_id": "p1", "at": NOW - DAY,
            "topic": "first response", "attendees": 0, "guard_ids": [g.id, g.id],
            "materials": 200}
    outreach = handlers.record_outreach(repo, PLACES, data, OFFICER, NOW, request_key="o1")
    handlers.record_outreach(repo, PLACES, data, OFFICER, NOW, request_key="o1")
    assert outreach.attendees == 1 and outreach.guard_ids == [g.id]
    assert [t.outreach_id for t in repo.guards.get(g.id).trainings] == [outreach.id]
    held = [e["data"] for e in published(repo.unit) if e["type"] == "outreach.held"]
    assert len(held) == 1 and (held[0]["guards_trained"], held[0]["materials"]) == (1, 200)


def test_outreach_naming_an_unknown_guard_is_refused(repo):
    data = {"kind": "guard_training", "area_kind": "station", "area_id": "s1", "at": NOW,
            "topic": "drill", "attendees": 5, "guard_ids": ["ghost"], "materials": 0}
    with pytest.raises(InvalidFieldWork) as refused:
        handlers.record_outreach(repo, PLACES, data, OFFICER, NOW)
    assert "guard_ids" in refused.value.errors and repo.outreach.count() == 0


def test_listings_filter_by_enterprise_and_status(repo):
    handlers.report_hazard(repo, PLACES, hazard_data(source="visit"), AS_OFFICER, NOW)
    handlers.report_hazard(repo, PLACES, hazard_data(enterprise_id="e2", source="visit",
                                                     rectified_on_spot=True), AS_OFFICER, NOW)
    mine, total = repo.list_hazards(0, 10, enterprise_ids=["e1"])
    assert total == 1 and mine[0].enterprise_id == "e1"
    assert repo.list_hazards(0, 10, enterprise_id="e2", enterprise_ids=["e1"])[1] == 0
    assert repo.list_hazards(0, 10, status="rectified")[0][0].enterprise_id == "e2"
    assert repo.hazard_counts() == {"ordered": 1, "rectified": 1}


def test_the_report_names_this_county_by_default_and_refuses_an_unknown_area(repo):
    period = {"start": NOW.date(), "end": NOW.date()}
    county = handlers.work_report(repo, PLACES, dict(period, area_kind="county"), "c1")
    assert county["area"] == {"kind": "county", "id": "c1"}
    with pytest.raises(InvalidFieldWork) as refused:
        handlers.work_report(repo, PLACES, dict(period, area_kind="station",
                                                area_id="nowhere"), "c1")
    assert "area_id" in refused.value.errors
    document = handlers.work_report_document(
        repo, PLACES, dict(period, area_kind="park", area_id="p1", lang="en", format="pdf"),
        "c1")
    assert document["media_type"] == "application/pdf"
    assert document["content"].startswith(b"%PDF")
