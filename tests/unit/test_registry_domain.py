"""The registry's rules: officers' absences, assignment history, who responds and cover gaps."""
from datetime import date, datetime, timedelta

import pytest

from services.enterprise.domain import (Absence, AssignmentHistory, AssignmentVersion,
                                        Enterprise, Officer, Station)
from services.enterprise.responders import (COVERAGE_GAPS, coverage_gaps, duty_officer,
                                            next_change, resolve_responders)
from services.enterprise.exceptions import InvalidAssignment, InvalidAvailability

NOON = datetime(2025, 4, 15, 12, 0)


def officer(officer_id, role="community_officer", absences=()):
    return Officer(id=officer_id, badge_number=f"B{officer_id.upper()}", name=officer_id,
                   role=role, station_id="s1", absences=list(absences))


def team():
    """Two first responders and three chiefs, all on duty."""
    return {o.id: o for o in (
        officer("a"), officer("b", role="auxiliary_officer"),
        officer("lead", role="bureau_leader"), officer("chief", role="station_chief"),
        officer("area", role="area_chief"),
    )}


def full_version(valid_from, **seats):
    values = dict(a_officer_id="a", b_officer_id="b", bureau_leader_id="lead",
                  station_leader_id="chief", area_chief_id="area")
    values.update(seats)
    return AssignmentVersion(valid_from=valid_from, **values)


ENTERPRISE = Enterprise(id="e1", name="Minjiang Tools", credit_code="91350100M000100Y43",
                        kind="enterprise", level="above_scale", stage="production",
                        grid_id="g1", station_id="s1")
STATION = Station(id="s1", name="Gulou Station")


# --- absences --------------------------------------------------------------------------------


class TestLeave:
    def test_leave_covers_whole_days_including_the_last(self):
        o = officer("a")
        o.take_leave(date(2025, 4, 14), date(2025, 4, 16), note="family")
        assert o.absences == [Absence("on_leave", datetime(2025, 4, 14), datetime(2025, 4, 17),
                                      "family")]
        assert o.absent_at(datetime(2025, 4, 14, 0, 0)) is o.absences[0]
        assert o.absent_at(datetime(2025, 4, 15, 12, 0)) is o.absences[0]
        assert o.absent_at(datetime(2025, 4, 16, 23, 59, 59)) is o.absences[0]

    def test_leave_ends_at_midnight_after_the_last_day_and_starts_at_midnight(self):
        o = officer("a")
        o.take_leave(date(2025, 4, 14), date(2025, 4, 16))
        assert o.absent_at(datetime(2025, 4, 17, 0, 0)) is None
        assert o.absent_at(datetime(2025, 4, 13, 23, 59, 59)) is None

    def test_a_single_day_of_leave(self):
        o = officer("a")
        o.take_leave(date(2025, 4, 15), date(2025, 4, 15))
        assert o.absent_at(datetime(2025, 4, 15, 0, 0)) is not None
        assert o.absent_at(datetime(2025, 4, 15, 23, 59)) is not None
        assert o.absent_at(datetime(2025, 4, 16, 0, 0)) is None

    def test_leave_ending_before_it_starts_is_refused_naming_end(self):
        o = officer("a")
        with pytest.raises(InvalidAvailability) as refused:
            o.take_leave(date(2025, 4, 16), date(2025, 4, 15))
        assert refused.value.errors == {"end": ["last day of leave is before the first"]}
        assert o.absences == []

    def test_the_whole_history_is_kept(self):
        o = officer("a")
        o.take_leave(date(2025, 3, 1), date(2025, 3, 2))
        o.take_leave(date(2025, 4, 1), date(2025, 4, 2))
        assert len(o.absences) == 2
        assert o.absent_at(datetime(2025, 3, 1, 9)) is o.absences[0]
        assert o.absent_at(datetime(2025, 4, 2, 9)) is o.absences[1]
        assert o.absent_at(datetime(2025, 3, 15, 9)) is None


class TestOffDuty:
    def test_off_duty_is_open_ended_until_return(self):
        o = officer("a")
        o.go_off_duty(NOON, None, note="sick")
        assert o.absent_at(NOON - timedelta(seconds=1)) is None
        assert o.absent_at(NOON).kind == "off_duty"
        assert o.absent_at(NOON + timedelta(days=365)).kind == "off_duty"

    def test_return_to_duty_closes_the_open_period(self):
        o = officer("a")
        o.go_off_duty(NOON, None)
        back = NOON + timedelta(hours=5)
        o.return_to_duty(back)
        assert o.absences == [Absence("off_duty", NOON, back, "")]
        assert o.absent_at(back - timedelta(seconds=1)) is not None
        assert o.absent_at(back) is None
        # The past stays as it was: the officer was absent during those five hours.
        assert o.absent_at(NOON + timedelta(hours=1)) is not None

    def test_off_duty_with_an_end(self):
        o = officer("a")
        end = NOON + timedelta(hours=2)
        o.go_off_duty(NOON, end)
        assert o.absent_at(end - timedelta(microseconds=1)) is not None
        assert o.absent_at(end) is None

    def test_end_not_after_start_is_refused_naming_end(self):
        o = officer("a")
        for end in (NOON, NOON - timedelta(minutes=1)):
            with pytest.raises(InvalidAvailability) as refused:
                o.go_off_duty(NOON, end)
            assert refused.value.errors == {"end": ["must be after start"]}
        assert o.absences == []

    def test_going_off_duty_twice_is_refused_naming_status(self):
        o = officer("a")
        o.go_off_duty(NOON, None)
        with pytest.raises(InvalidAvailability) as refused:
            o.go_off_duty(NOON + timedelta(hours=1), None)
        assert refused.value.errors == {"status": ["officer is already off duty"]}
        assert len(o.absences) == 1

    def test_return_when_on_duty_is_refused_naming_status(self):
        o = officer("a")
        with pytest.raises(InvalidAvailability) as refused:
            o.return_to_duty(NOON)
        assert refused.value.errors == {"status": ["officer is already on duty"]}

    def test_return_to_duty_cuts_leave_short(self):
        o = officer("a")
        o.take_leave(date(2025, 4, 14), date(2025, 4, 20))
        o.return_to_duty(NOON)
        assert o.absences[0].end == NOON
        assert o.absent_at(NOON) is None
        assert o.absent_at(datetime(2025, 4, 14, 9)) is not None

    def test_after_return_the_officer_may_go_off_duty_again(self):
        o = officer("a")
        o.go_off_duty(NOON, None)
        o.return_to_duty(NOON + timedelta(hours=1))
        o.go_off_duty(NOON + timedelta(hours=2), None)
        assert [a.end for a in o.absences] == [NOON + timedelta(hours=1), None]


# --- assignment history ----------------------------------------------------------------------

T1 = datetime(2025, 1, 1, 8, 0)
T2 = datetime(2025, 3, 1, 8, 0)
T3 = datetime(2025, 4, 1, 8, 0)


def history_of(*versions):
    return AssignmentHistory("e1", list(versions))


class TestHistoryAt:
    def test_before_the_first_version_there_is_none(self):
        history = history_of(full_version(T1), full_version(T2, a_officer_id="x"))
        assert history.at(T1 - timedelta(seconds=1)) is None

    def test_empty_history(self):
        history = history_of()
        assert history.at(NOON) is None
        assert history.current() is None
        assert history.revision == 0

    def test_each_version_is_in_force_from_its_start_until_the_next(self):
        v1, v2, v3 = full_version(T1), full_version(T2, a_officer_id="x"), full_version(
            T3, a_officer_id="y")
        history = history_of(v1, v2, v3)
        assert history.at(T1) is v1
        assert history.at(T2 - timedelta(microseconds=1)) is v1
        assert history.at(T2) is v2
        assert history.at(T3 - timedelta(seconds=1)) is v2
        assert history.at(T3) is v3
        assert history.at(T3 + timedelta(days=1000)) is v3
        assert history.current() is v3
        assert history.revision == 3


class TestCheckNewVersion:
    def test_a_complete_version_is_accepted(self):
        history_of(full_version(T1)).check_new_version(full_version(T2), team())

    def test_a_version_at_the_same_time_as_the_current_one_is_accepted(self):
        history_of(full_version(T1)).check_new_version(full_version(T1), team())

    def test_empty_seats_are_accepted(self):
        history_of().check_new_version(AssignmentVersion(valid_from=T1, a_officer_id="a"), team())

    def test_a_and_b_the_same_officer_is_refused_naming_b(self):
        with pytest.raises(InvalidAssignment) as refused:
            history_of().check_new_version(full_version(T1, b_officer_id="a"), team())
        assert refused.value.errors == {"b_officer_id": ["A and B must be two different officers"]}

    @pytest.mark.parametrize("seat, officer_id", [
        ("bureau_leader_id", "area"),
        ("station_leader_id", "a"),
        ("area_chief_id", "chief"),
        ("a_officer_id", "lead"),
        ("b_officer_id", "lead"),
    ])
    def test_an_officer_of_the_wrong_role_is_refused_naming_the_seat(self, seat, officer_id):
        officers = team()
        with pytest.raises(InvalidAssignment) as refused:
            history_of().check_new_version(full_version(T1, **{seat: officer_id}), officers)
        assert list(refused.value.errors) == [seat]
        [reason] = refused.value.errors[seat]
        held = officers[officer_id]
        assert reason.startswith(f"officer {held.badge_number} is a {held.role}; "
                                 "this seat needs one of ")

    def test_a_team_leader_may_hold_the_station_leader_seat(self):
        officers = team()
        officers["tl"] = officer("tl", role="team_leader")
        history_of().check_new_version(full_version(T1, station_leader_id="tl"), officers)

    def test_an_unknown_officer_is_refused_naming_the_seat(self):
        with pytest.raises(InvalidAssignment) as refused:
            history_of().check_new_version(full_version(T1, area_chief_id="ghost"), team())
        assert refused.value.errors == {"area_chief_id": ["no officer ghost"]}

    def test_backdating_before_the_current_version_is_refused_naming_effective_from(self):
        history = history_of(full_version(T2))
        with pytest.raises(InvalidAssignment) as refused:
            history.check_new_version(full_version(T1), team())
        assert refused.value.errors == {"effective_from": [
            f"must not be before the current assignment ({T2.isoformat()})"]}

    def test_every_problem_is_reported_at_once(self):
        history = history_of(full_version(T2))
        with pytest.raises(InvalidAssignment) as refused:
            history.check_new_version(full_version(T1, b_officer_id="a", area_chief_id="ghost"),
                                      team())
        assert set(refused.value.errors) == {"effective_from", "b_officer_id", "area_chief_id"}


class TestHoldings:
    def test_each_seat_has_from_and_to_across_versions(self):
        history = history_of(
            full_version(T1),
            full_version(T2, a_officer_id="x"),            # A changes
            full_version(T3, a_officer_id="x", b_officer_id=None),  # B leaves, A stays
        )
        rows = history.holdings()
        by_seat = {}
        for row in rows:
            by_seat.setdefault(row["seat"], []).append(
                (row["officer_id"], row["start"], row["end"]))
        assert by_seat == {
            "a_officer": [("a", T1, T2), ("x", T2, None)],
            "b_officer": [("b", T1, T3)],
            "bureau_leader": [("lead", T1, None)],
            "station_leader": [("chief", T1, None)],
            "area_chief": [("area", T1, None)],
        }

    def test_a_seat_filled_later_starts_then(self):
        history = history_of(AssignmentVersion(valid_from=T1, a_officer_id="a"),
                             AssignmentVersion(valid_from=T2, a_officer_id="a",
                                               b_officer_id="b"))
        assert sorted((r["seat"], r["officer_id"], r["start"], r["end"])
                      for r in history.holdings()) == [
            ("a_officer", "a", T1, None), ("b_officer", "b", T2, None)]

    def test_no_versions_no_holdings(self):
        assert history_of().holdings() == []


# --- who responds ----------------------------------------------------------------------------


class TestResolveResponders:
    def test_a_is_called_when_available(self):
        responders = resolve_responders(ENTERPRISE, full_version(T1), team(), STATION, NOON)
        assert responders.to_call.seat == "a_officer"
        assert responders.to_call.officer.id == "a"
        assert responders.to_call.available
        assert [s.seat for s in responders.seats] == [
            "a_officer", "b_officer", "bureau_leader", "station_leader", "area_chief"]
        assert responders.station is STATION
        assert responders.at == NOON

    def test_b_is_called_when_a_is_on_leave_at_that_time(self):
        officers = team()
        officers["a"].take_leave(NOON.date(), NOON.date())
        responders = resolve_responders(ENTERPRISE, full_version(T1), officers, STATION, NOON)
        assert responders.to_call.seat == "b_officer"
        assert responders.to_call.officer.id == "b"
        a = responders.seat("a_officer")
        assert not a.available
        assert a.absence.kind == "on_leave"

    def test_a_is_called_again_once_the_leave_is_over(self):
        officers = team()
        officers["a"].take_leave(NOON.date(), NOON.date())
        tomorrow = NOON + timedelta(days=1)
        responders = resolve_responders(ENTERPRISE, full_version(T1), officers, STATION, tomorrow)
        assert responders.to_call.officer.id == "a"

    def test_nobody_to_call_when_a_and_b_are_both_absent(self):
        officers = team()
        officers["a"].take_leave(NOON.date(), NOON.date())
        officers["b"].go_off_duty(NOON - timedelta(hours=1), None)
        responders = resolve_responders(ENTERPRISE, full_version(T1), officers, STATION, NOON)
        assert responders.to_call is None
        # The chiefs are still listed, they are just not first responders.
        assert responders.seat("area_chief").available

    def test_no_assignment_means_no_seats_and_nobody_to_call(self):
        responders = resolve_responders(ENTERPRISE, None, {}, None, NOON)
        assert responders.seats == ()
        assert responders.to_call is None
        assert responders.departments == ()

    def test_a_past_time_uses_the_version_then_in_force(self):
        officers = team()
        officers["x"] = officer("x")
        v1 = AssignmentVersion(valid_from=T1, a_officer_id="a", b_officer_id="b",
                               departments=("traffic",))
        v2 = AssignmentVersion(valid_from=T3, a_officer_id="x", b_officer_id="b")
        history = history_of(v1, v2)

        past = T2
        then = resolve_responders(ENTERPRISE, history.at(past), officers, STATION, past)
        assert then.to_call.officer.id == "a"
        assert then.departments == ("traffic",)

        now = resolve_responders(ENTERPRISE, history.at(NOON), officers, STATION, NOON)
        assert now.to_call.officer.id == "x"
        assert now.departments == ()

    def test_availability_is_judged_at_the_time_asked(self):
        officers = team()
        officers["a"].go_off_duty(T2, T2 + timedelta(hours=8))
        during = resolve_responders(ENTERPRISE, full_version(T1), officers, STATION,
                                    T2 + timedelta(hours=1))
        after = resolve_responders(ENTERPRISE, full_version(T1), officers, STATION,
                                   T2 + timedelta(hours=8))
        assert during.to_call.officer.id == "b"
        assert after.to_call.officer.id == "a"


class TestNextChange:
    """Until when a who-responds answer holds if nobody edits the registry."""

    def test_nothing_scheduled_means_it_holds_until_an_edit(self):
        assert next_change(NOON, history_of(full_version(T1)), list(team().values())) is None
        assert next_change(NOON, None, []) is None

    def test_a_leave_starting_later_ends_the_answer_when_it_starts(self):
        officers = team()
        officers["b"].take_leave(date(2025, 4, 20), date(2025, 4, 21))
        assert next_change(NOON, history_of(full_version(T1)), list(officers.values())) \
            == datetime(2025, 4, 20)

    def test_a_running_absence_ends_the_answer_when_it_ends(self):
        officers = team()
        officers["a"].go_off_duty(NOON - timedelta(hours=1), NOON + timedelta(hours=2))
        officers["b"].take_leave(date(2025, 4, 20), date(2025, 4, 21))
        assert next_change(NOON, history_of(full_version(T1)), list(officers.values())) \
            == NOON + timedelta(hours=2)

    def test_past_absences_and_an_open_ended_one_change_nothing_later(self):
        officers = team()
        officers["a"].take_leave(date(2025, 4, 1), date(2025, 4, 2))
        officers["b"].go_off_duty(NOON - timedelta(hours=1), None)
        assert next_change(NOON, history_of(full_version(T1)), list(officers.values())) is None

    def test_the_next_assignment_taking_effect_ends_the_answer(self):
        later = NOON + timedelta(days=3)
        history = history_of(full_version(T1), full_version(later, a_officer_id="b"))
        assert next_change(NOON, history, list(team().values())) == later
        assert next_change(later, history, list(team().values())) is None


# --- coverage gaps ---------------------------------------------------------------------------


class TestCoverageGaps:
    def test_full_cover_has_no_gaps(self):
        assert coverage_gaps(full_version(T1), team(), NOON) == []

    def test_no_assignment_at_all(self):
        assert coverage_gaps(None, team(), NOON) == [
            "no_a_officer", "no_b_officer", "fewer_than_three_chiefs"]

    def test_no_a(self):
        assert coverage_gaps(full_version(T1, a_officer_id=None), team(), NOON) == [
            "no_a_officer"]

    def test_no_b(self):
        assert coverage_gaps(full_version(T1, b_officer_id=None), team(), NOON) == [
            "no_b_officer"]

    @pytest.mark.parametrize("seat", ["bureau_leader_id", "station_leader_id", "area_chief_id"])
    def test_fewer_than_three_chiefs(self, seat):
        assert coverage_gaps(full_version(T1, **{seat: None}), team(), NOON) == [
            "fewer_than_three_chiefs"]

    def test_a_and_b_both_absent(self):
        officers = team()
        officers["a"].take_leave(NOON.date(), NOON.date())
        officers["b"].go_off_duty(NOON, None)
        assert coverage_gaps(full_version(T1), officers, NOON) == ["a_and_b_absent"]
        assert coverage_gaps(full_version(T1), officers, NOON - timedelta(days=1)) == []

    def test_only_one_of_a_and_b_absent_is_not_a_gap(self):
        officers = team()
        officers["a"].take_leave(NOON.date(), NOON.date())
        assert coverage_gaps(full_version(T1), officers, NOON) == []

    def test_every_gap_is_a_known_name(self):
        officers = team()
        officers["a"].take_leave(NOON.date(), NOON.date())
        gaps = coverage_gaps(full_version(T1, b_officer_id=None, area_chief_id=None), officers,
                             NOON)
        assert gaps == ["no_b_officer", "fewer_than_three_chiefs"]
        assert set(gaps) <= set(COVERAGE_GAPS)


# --- the responding officer on duty at the station ---------------------------------------------


def test_the_duty_officer_is_the_first_available_duty_role_officer_other_than_a_and_b():
    at = datetime(2026, 3, 2, 9, 0)

    def officer(badge, role, absent=False):
        absences = [Absence("on_leave", at - timedelta(days=1), at + timedelta(days=1))] \
            if absent else []
        return Officer(f"id-{badge}", badge, badge, role, "s1", absences=absences)

    a, b = officer("100001", "community_officer"), officer("100002", "community_officer")
    on_leave = officer("100003", "area_chief", absent=True)
    auxiliary = officer("100004", "auxiliary_officer")
    expected = officer("100005", "community_officer")
    later = officer("100006", "area_chief")
    version = AssignmentVersion(at - timedelta(days=30), a_officer_id=a.id, b_officer_id=b.id)
    station = [later, expected, auxiliary, on_leave, b, a]

    assert duty_officer(station, version, at) == expected
    assert duty_officer(station, None, at) == a  # no assignment: nobody is excluded
    assert duty_officer([a, b, auxiliary], version, at) is None
