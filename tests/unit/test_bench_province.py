"""The benchmarks' province-year (bench/province.py): registry records that pass the
registry's own checks, and a year of incidents as dispatch's domain leaves them."""
import importlib.util
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

from services.dispatch.domain import CLOSED_STATES
from services.enterprise.domain import credit_code_problem

_spec = importlib.util.spec_from_file_location(
    "bench_province", Path(__file__).resolve().parent.parent.parent / "bench" / "province.py")
province = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(province)

NOW = datetime(2026, 3, 1, 12, 0)


def test_counties_have_their_enterprises_each_assigned_a_b_and_three_chiefs():
    region = province.build_province(3, 40, NOW - timedelta(days=30))

    assert len(region.enterprises) == 120 and len(region.assignments) == 120
    assert len({e.id for e in region.enterprises}) == 120
    assert len({e.credit_code for e in region.enterprises}) == 120
    assert all(credit_code_problem(e.credit_code) is None for e in region.enterprises)
    assert len({o.badge_number for o in region.officers}) == len(region.officers)
    officers = {o.id: o for o in region.officers}
    grids = {g.id: g for g in region.grids}
    for enterprise_id, version in region.assignments:
        assert version.chief_count() == 3 and version.a_officer_id != version.b_officer_id
        assert officers[version.bureau_leader_id].role == "bureau_leader"
        assert officers[version.a_officer_id].role == "community_officer"
    assert all(grids[e.grid_id].station_id == e.station_id for e in region.enterprises)
    assert province.build_province(3, 40, NOW) == province.build_province(3, 40, NOW)


def test_the_covers_name_who_responds_for_every_enterprise():
    region = province.build_province(1, 10, NOW)
    covers = region.covers()

    assert [c["enterprise_id"] for c in covers] == [e.id for e in region.enterprises]
    assert all([s["seat"] for s in c["seats"]] ==
               ["a_officer", "b_officer", "station_leader", "bureau_leader"] for c in covers)
    assert all(c["duty_officer"] and c["station"] for c in covers)


def test_a_year_of_incidents_is_closed_spread_over_the_year_and_the_enterprises():
    covers = province.build_province(2, 30, NOW).covers()
    incidents = list(province.closed_incidents(covers, 600, NOW))

    assert len(incidents) == 600 and len({i.id for i in incidents}) == 600
    assert all(i.state in CLOSED_STATES and i.deadline is None for i in incidents)
    assert all(NOW - timedelta(days=365) <= i.reported_at <= NOW - timedelta(hours=1)
               for i in incidents)
    assert [i.reported_at for i in incidents] == sorted(i.reported_at for i in incidents)
    assert len({i.enterprise_id for i in incidents}) > 40
    assert Counter(i.state for i in incidents).most_common(1)[0][0] == "resolved"
    assert any(n.reason == "failover" for i in incidents for n in i.notifications)
