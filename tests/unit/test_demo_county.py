"""The demo county generator: counts, uniqueness, references, seat rules and leave cases."""
import datetime
import json
from collections import Counter

import pytest

from infra.demo import build_demo_county
from services.enterprise.domain import (
    DEPARTMENTS,
    ENTERPRISE_KINDS,
    LEVELS,
    OFFICER_ROLES,
    RESPONDER_ROLES,
    STAGES,
    STATION_KINDS,
    AssignmentHistory,
    AssignmentVersion,
    Officer,
    credit_code_problem,
)
from services.enterprise.responders import coverage_gaps

TODAY = datetime.date(2025, 4, 15)
CASES = [(TODAY, 2025), (datetime.date(2024, 1, 1), 1), (datetime.date(2023, 8, 24), 7),
         (datetime.date(2025, 12, 31), 123456)]


@pytest.fixture(scope="module")
def county():
    return build_demo_county(TODAY)


def _on_leave(county, today):
    return {a["badge_number"] for a in county["absences"] if a["start"] <= today <= a["end"]}


def _assigned_pairs(county):
    return [(a["a_officer"], a["b_officer"]) for a in county["assignments"]
            if a["a_officer"] and a["b_officer"]]


# --- shape --------------------------------------------------------------------------------


def test_counts(county):
    assert 3 <= len(county["stations"]) <= 4
    assert 2 <= len(county["parks"]) <= 3
    assert len(county["grids"]) == 10
    assert len(county["enterprises"]) == 60
    assert len(county["officers"]) == 170
    assert 55 <= len(county["assignments"]) <= 58
    assert 5 <= len(county["absences"]) <= 10
    assert len({a["badge_number"] for a in county["absences"]}) == len(county["absences"])


def test_records_have_exactly_the_agreed_keys(county):
    keys = {
        "stations": {"name", "kind", "address", "phone"},
        "parks": {"name", "station", "address"},
        "grids": {"code", "name", "station"},
        "enterprises": {"name", "credit_code", "kind", "level", "stage", "grid", "park",
                        "address", "workforce", "migrant_workers", "contact"},
        "officers": {"badge_number", "name", "role", "station", "departments", "phone"},
        "assignments": {"credit_code", "a_officer", "b_officer", "bureau_leader",
                        "station_leader", "area_chief", "departments"},
        "absences": {"badge_number", "status", "start", "end", "note"},
    }
    assert set(county) == set(keys)
    for collection, expected in keys.items():
        for record in county[collection]:
            assert set(record) == expected, (collection, record)
    for enterprise in county["enterprises"]:
        assert set(enterprise["contact"]) == {"name", "phone"}
        assert enterprise["contact"]["name"] and enterprise["contact"]["phone"]


def test_json_serialisable_apart_from_dates(county):
    text = json.dumps(county, ensure_ascii=False, default=lambda d: d.isoformat())
    assert "云溪县" in text
    for absence in county["absences"]:
        assert type(absence["start"]) is datetime.date
        assert type(absence["end"]) is datetime.date
        assert absence["start"] <= absence["end"]
        assert absence["status"] == "on_leave" and absence["note"]


def test_enum_values(county):
    kinds = Counter(s["kind"] for s in county["stations"])
    assert set(kinds) == set(STATION_KINDS)
    for enterprise in county["enterprises"]:
        assert enterprise["kind"] in ENTERPRISE_KINDS
        assert enterprise["level"] in LEVELS
        assert enterprise["stage"] in STAGES
        assert 0 <= enterprise["migrant_workers"] <= enterprise["workforce"]
    for officer in county["officers"]:
        assert officer["role"] in OFFICER_ROLES
        assert set(officer["departments"]) <= set(DEPARTMENTS)
        if officer["role"] not in ("bureau_leader", "station_chief"):
            assert officer["departments"], officer
    for assignment in county["assignments"]:
        assert assignment["departments"]
        assert set(assignment["departments"]) <= set(DEPARTMENTS)


def test_realistic_mix(county):
    enterprises = county["enterprises"]
    assert set(Counter(e["kind"] for e in enterprises)) == set(ENTERPRISE_KINDS)
    levels = Counter(e["level"] for e in enterprises)
    assert 1 <= levels["city_key_project"] < levels["district_key_project"]
    assert levels["district_key_project"] < levels["above_scale"]
    assert levels["other"] >= 1
    project_stages = {e["stage"] for e in enterprises if e["kind"] == "project"}
    assert {"signing", "landing", "construction"} <= project_stages
    enterprise_stages = Counter(e["stage"] for e in enterprises if e["kind"] == "enterprise")
    assert enterprise_stages.most_common(1)[0][0] == "production"

    roles = Counter(o["role"] for o in county["officers"])
    assert 3 <= roles["bureau_leader"] <= 5
    assert roles["station_chief"] == len(county["stations"])
    assert roles["team_leader"] >= len(county["stations"])
    assert roles["area_chief"] >= 10
    assert roles["policy_specialist"] >= 10
    assert roles["community_officer"] >= 40 and roles["auxiliary_officer"] >= 40
    chiefs = Counter(o["station"] for o in county["officers"] if o["role"] == "station_chief")
    assert all(n == 1 for n in chiefs.values())


# --- identity and references --------------------------------------------------------------


def test_natural_keys_are_unique(county):
    for collection, key in (("stations", "name"), ("parks", "name"), ("grids", "code"),
                            ("grids", "name"), ("enterprises", "credit_code"),
                            ("enterprises", "name"), ("officers", "badge_number"),
                            ("assignments", "credit_code")):
        values = [record[key] for record in county[collection]]
        assert len(values) == len(set(values)), (collection, key)


def test_badge_numbers_are_six_digits(county):
    for officer in county["officers"]:
        assert len(officer["badge_number"]) == 6 and officer["badge_number"].isdigit()


def test_credit_codes_are_valid(county):
    for enterprise in county["enterprises"]:
        code = enterprise["credit_code"]
        assert credit_code_problem(code) is None, (code, credit_code_problem(code))
        assert code.startswith("91")


def test_references_resolve(county):
    stations = {s["name"] for s in county["stations"]}
    parks = {p["name"]: p["station"] for p in county["parks"]}
    grids = {g["code"]: g["station"] for g in county["grids"]}
    officers = {o["badge_number"] for o in county["officers"]}
    codes = {e["credit_code"] for e in county["enterprises"]}

    assert set(parks.values()) <= stations
    assert set(grids.values()) == stations  # every station has at least one grid
    for officer in county["officers"]:
        assert officer["station"] in stations
    for enterprise in county["enterprises"]:
        assert enterprise["grid"] in grids
        if enterprise["park"] is not None:
            assert parks[enterprise["park"]] == grids[enterprise["grid"]], enterprise
    for assignment in county["assignments"]:
        assert assignment["credit_code"] in codes
        for seat in ("a_officer", "b_officer", "bureau_leader", "station_leader", "area_chief"):
            assert assignment[seat] is None or assignment[seat] in officers
    for absence in county["absences"]:
        assert absence["badge_number"] in officers


def test_grids_are_spread_over_the_stations(county):
    per_station = Counter(g["station"] for g in county["grids"])
    assert max(per_station.values()) <= 4
    per_grid = Counter(e["grid"] for e in county["enterprises"])
    assert len(per_grid) == 10


# --- seats --------------------------------------------------------------------------------


@pytest.mark.parametrize("today,seed", CASES)
def test_assignments_obey_the_seat_rules(today, seed):
    county = build_demo_county(today, seed)
    officers = {o["badge_number"]: o for o in county["officers"]}
    station_of = {e["credit_code"]: e["grid"] for e in county["enterprises"]}
    grid_station = {g["code"]: g["station"] for g in county["grids"]}

    def role(badge):
        return officers[badge]["role"]

    for assignment in county["assignments"]:
        station = grid_station[station_of[assignment["credit_code"]]]
        a, b = assignment["a_officer"], assignment["b_officer"]
        assert a is not None
        assert a != b
        for badge in (a, b):
            if badge is not None:
                assert role(badge) in RESPONDER_ROLES
                assert officers[badge]["station"] == station
        if assignment["bureau_leader"]:
            assert role(assignment["bureau_leader"]) == "bureau_leader"
        if assignment["station_leader"]:
            assert role(assignment["station_leader"]) in ("station_chief", "team_leader")
            assert officers[assignment["station_leader"]]["station"] == station
        if assignment["area_chief"]:
            assert role(assignment["area_chief"]) == "area_chief"
            assert officers[assignment["area_chief"]]["station"] == station


def test_assignments_pass_the_domain_check(county):
    officers = {o["badge_number"]: Officer(o["badge_number"], o["badge_number"], o["name"],
                                           o["role"], o["station"]) for o in county["officers"]}
    moment = datetime.datetime.combine(TODAY, datetime.time(9))
    for assignment in county["assignments"]:
        version = _version(assignment, moment)
        AssignmentHistory(assignment["credit_code"]).check_new_version(version, officers)


def test_some_enterprises_are_left_with_gaps(county):
    assigned = {a["credit_code"] for a in county["assignments"]}
    unassigned = [e for e in county["enterprises"] if e["credit_code"] not in assigned]
    no_b = [a for a in county["assignments"] if a["b_officer"] is None]
    chiefs = [sum(1 for seat in ("bureau_leader", "station_leader", "area_chief") if a[seat])
              for a in county["assignments"]]
    partial = len(no_b) + sum(1 for n in chiefs if n < 3)
    assert unassigned and no_b and min(chiefs) == 2
    assert 2 <= len(unassigned) + partial <= 6


# --- leave --------------------------------------------------------------------------------


@pytest.mark.parametrize("today,seed", CASES)
def test_b_stands_in_for_an_absent_a_today(today, seed):
    county = build_demo_county(today, seed)
    away = _on_leave(county, today)
    covered_by_b = [(a, b) for a, b in _assigned_pairs(county) if a in away and b not in away]
    assert covered_by_b


@pytest.mark.parametrize("today,seed", CASES)
def test_exactly_one_enterprise_has_a_and_b_away_today(today, seed):
    county = build_demo_county(today, seed)
    away = _on_leave(county, today)
    both = [(a, b) for a, b in _assigned_pairs(county) if a in away and b in away]
    assert len(both) == 1


def test_leave_is_not_all_today(county):
    away = _on_leave(county, TODAY)
    assert len(away) < len(county["absences"])


def test_coverage_report_through_the_domain(county):
    """The domain's coverage_gaps sees what the generator meant to leave open."""
    officers = {}
    for o in county["officers"]:
        officers[o["badge_number"]] = Officer(o["badge_number"], o["badge_number"], o["name"],
                                              o["role"], o["station"])
    for absence in county["absences"]:
        officers[absence["badge_number"]].take_leave(absence["start"], absence["end"],
                                                     absence["note"])
    now = datetime.datetime.combine(TODAY, datetime.time(10, 30))
    versions = {a["credit_code"]: _version(a, now - datetime.timedelta(days=30))
                for a in county["assignments"]}
    gaps = Counter()
    for enterprise in county["enterprises"]:
        for gap in coverage_gaps(versions.get(enterprise["credit_code"]), officers, now):
            gaps[gap] += 1
    assert gaps["a_and_b_absent"] == 1
    assert gaps["no_b_officer"] >= 1
    assert gaps["fewer_than_three_chiefs"] >= 1
    assert sum(gaps.values()) > 0


# --- determinism --------------------------------------------------------------------------


def test_same_arguments_give_the_same_county():
    assert build_demo_county(TODAY, 2025) == build_demo_county(TODAY, 2025)
    assert build_demo_county(TODAY) == build_demo_county(TODAY, seed=2025)


def test_other_seed_gives_another_county():
    first, second = build_demo_county(TODAY, 1), build_demo_county(TODAY, 2)
    assert first["enterprises"] != second["enterprises"]
    assert first["officers"] != second["officers"]


def test_dates_follow_today():
    later = TODAY + datetime.timedelta(days=100)
    first, second = build_demo_county(TODAY), build_demo_county(later)
    shift = [(b["start"] - a["start"]).days for a, b in zip(first["absences"],
                                                           second["absences"])]
    assert shift == [100] * len(shift)
    assert first["enterprises"] == second["enterprises"]


def _version(assignment, valid_from):
    return AssignmentVersion(
        valid_from=valid_from,
        a_officer_id=assignment["a_officer"],
        b_officer_id=assignment["b_officer"],
        bureau_leader_id=assignment["bureau_leader"],
        station_leader_id=assignment["station_leader"],
        area_chief_id=assignment["area_chief"],
        departments=tuple(assignment["departments"]),
    )
