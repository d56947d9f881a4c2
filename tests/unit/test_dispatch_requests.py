"""Dispatch rules: the service catalogue and its attributes, a request's steps from submission to
rating, and visits merged or refused so that enterprises are not disturbed more than needed."""
from datetime import datetime, timedelta, timezone

import pytest

from kit.errors import ValidationFailed
from services.dispatch.catalogue import (AGENCIES, HANDLERS, SERVICES, AttributeDefinition,
                                         validate_attributes)
from services.dispatch.exceptions import (InvalidRequest, InvalidVisit, NotOnCase,
                                          RequestTransitionNotAllowed, VisitRefused)
from services.dispatch.service_requests import (DEPARTMENTS, TRANSITIONS, Note, Routing,
                                                ServiceRequest, default_routing)
from services.dispatch.visits import (PlanOutcome, Visit, VisitBook, VisitPolicy,
                                      cadence_compliance, plan_visit, verifying_officer)

NOON = datetime(2025, 4, 15, 12, 0)


def submitted(service_code="appointment_booking", attributes=None, now=NOON, **kwargs):
    if attributes is None:
        attributes = {
            "appointment_booking": {"preferred_time": "2025-04-17T09:00:00"},
            "permits": {"permit_type": "hazardous_chemicals", "matter": "account_recovery"},
            "legal_consultation": {"topic": "labour_dispute"},
            "other": {},
        }[service_code]
    values = dict(id="r1", enterprise_id="e1", service_code=service_code,
                  description="Please help", attributes=attributes, now=now, actor="ent-user")
    values.update(kwargs)
    return ServiceRequest.submit(**values)


def in_status(status, now=NOON):
    """A request walked to `status` along the usual path."""
    request = submitted(now=now)
    if status == "submitted":
        return request
    if status == "referred":
        request.refer("market_regulation", now, "o1", "licence question")
        return request
    request.route(Routing("officer", "o1"), now, "desk")
    if status == "routed":
        return request
    request.start(now, "o1")
    if status == "in_progress":
        return request
    request.close(now, "o1", "done on site")
    return request


def refused(exc_info):
    return exc_info.value.errors


# --- catalogue -------------------------------------------------------------------------------


class TestCatalogue:
    def test_every_open311_service_code_is_in_the_catalogue(self):
        assert set(SERVICES) == {"household_registration", "vehicle_administration", "permits",
                                 "legal_consultation", "security_inspection",
                                 "appointment_booking", "other"}

    def test_definitions_are_consistent(self):
        for code, definition in SERVICES.items():
            assert definition.code == code
            assert definition.name and definition.description
            assert definition.handled_by in HANDLERS
            assert definition.expected_hours in (24, 48, 72)
            assert 1 <= len(definition.attributes) <= 3
            assert definition.metadata is True
            for attribute in definition.attributes:
                assert attribute.datatype in ("string", "number", "datetime", "singlevaluelist",
                                              "multivaluelist")
                assert bool(attribute.values) == attribute.datatype.endswith("valuelist")

    @pytest.mark.parametrize("code, handled_by", [
        ("household_registration", "household_registration"),
        ("vehicle_administration", "traffic"),
        ("permits", "public_order"),
        ("security_inspection", "public_order"),
        ("legal_consultation", "policy_specialist"),
        ("appointment_booking", "liaison"),
        ("other", "liaison"),
    ])
    def test_default_handlers(self, code, handled_by):
        assert SERVICES[code].handled_by == handled_by

    def test_typed_attributes(self):
        household = SERVICES["household_registration"]
        assert household.attribute("applicant_count") == AttributeDefinition(
            "applicant_count", "number", required=True, description="How many employees apply",
            minimum=1)
        assert household.attribute("residence_permit").values == ("new", "renewal")
        assert household.attribute("nope") is None
        assert SERVICES["appointment_booking"].attribute("preferred_time").required
        assert SERVICES["appointment_booking"].attribute("preferred_time").datatype == "datetime"
        assert SERVICES["permits"].attribute("permit_type").values == (
            "hazardous_chemicals", "explosives", "security_service", "other")


# --- attributes ------------------------------------------------------------------------------


class TestValidateAttributes:
    def test_unknown_service_code_names_service_code(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("passport", {})
        assert list(refused(exc)) == ["service_code"]

    def test_errors_are_validation_failures(self):
        assert issubclass(InvalidRequest, ValidationFailed)
        assert issubclass(RequestTransitionNotAllowed, ValidationFailed)
        assert issubclass(VisitRefused, ValidationFailed)
        assert issubclass(InvalidVisit, ValidationFailed)

    def test_numbers_are_parsed_and_lists_checked(self):
        cleaned = validate_attributes("household_registration",
                                      {"applicant_count": "12", "residence_permit": "renewal"})
        assert cleaned == {"applicant_count": 12, "residence_permit": "renewal"}
        assert type(cleaned["applicant_count"]) is int

    def test_float_numbers_stay_floats(self):
        cleaned = validate_attributes("vehicle_administration",
                                      {"business_kind": "transfer", "vehicle_count": "2.5"})
        assert cleaned["vehicle_count"] == 2.5
        assert validate_attributes("vehicle_administration",
                                   {"business_kind": "transfer", "vehicle_count": 3}
                                   )["vehicle_count"] == 3

    def test_missing_required_attribute(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("household_registration", {"residence_permit": "new"})
        assert refused(exc) == {"attributes.applicant_count": ["is required"]}

    @pytest.mark.parametrize("empty", [None, "", "   "])
    def test_empty_counts_as_missing(self, empty):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("appointment_booking", {"preferred_time": empty})
        assert refused(exc) == {"attributes.preferred_time": ["is required"]}

    def test_empty_list_is_missing_for_a_required_multivaluelist(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("security_inspection", {"areas": []})
        assert refused(exc) == {"attributes.areas": ["is required"]}

    def test_optional_attributes_may_be_left_out_or_empty(self):
        assert validate_attributes("other", {}) == {}
        assert validate_attributes("other", None) == {}
        assert validate_attributes("other", {"urgency": ""}) == {}

    def test_unknown_attribute_code(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("other", {"colour": "red"})
        assert refused(exc) == {"attributes.colour": ["not an attribute of other"]}

    def test_attributes_must_be_a_mapping(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("other", ["urgent"])
        assert list(refused(exc)) == ["attributes"]

    @pytest.mark.parametrize("value", ["twelve", True, [3], {"n": 1}, float("nan"), "inf"])
    def test_number_must_be_a_finite_number(self, value):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("household_registration", {"applicant_count": value})
        assert list(refused(exc)) == ["attributes.applicant_count"]
        assert "number" in refused(exc)["attributes.applicant_count"][0]

    def test_number_below_minimum(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("household_registration", {"applicant_count": 0})
        assert refused(exc) == {"attributes.applicant_count": ["must be at least 1"]}

    def test_singlevaluelist_value_not_in_list(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("permits", {"permit_type": "firearms"})
        assert list(refused(exc)) == ["attributes.permit_type"]
        assert "hazardous_chemicals" in refused(exc)["attributes.permit_type"][0]

    def test_multivaluelist_values_checked_and_deduplicated(self):
        cleaned = validate_attributes("security_inspection",
                                      {"areas": ["cctv", "fire_safety", "cctv"]})
        assert cleaned == {"areas": ["cctv", "fire_safety"]}

    def test_multivaluelist_refuses_unknown_values_and_plain_strings(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("security_inspection", {"areas": ["cctv", "roof"]})
        assert list(refused(exc)) == ["attributes.areas"]
        assert "roof" in refused(exc)["attributes.areas"][0]
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("security_inspection", {"areas": "cctv"})
        assert refused(exc) == {"attributes.areas": ["must be a list of values"]}

    def test_datetimes_become_naive_utc(self):
        parse = lambda v: validate_attributes("appointment_booking",  # noqa: E731
                                              {"preferred_time": v})["preferred_time"]
        assert parse("2025-04-17T09:00:00") == datetime(2025, 4, 17, 9, 0)
        assert parse("2025-04-17T09:00:00+08:00") == datetime(2025, 4, 17, 1, 0)
        assert parse("2025-04-17T01:00:00Z") == datetime(2025, 4, 17, 1, 0)
        assert parse(datetime(2025, 4, 17, 9, 0, tzinfo=timezone(timedelta(hours=8)))) == \
            datetime(2025, 4, 17, 1, 0)
        assert parse(datetime(2025, 4, 17, 9, 0)) == datetime(2025, 4, 17, 9, 0)
        assert parse(" 2025-04-17T09:00:00 ").tzinfo is None

    @pytest.mark.parametrize("value", ["next tuesday", "2025-13-01T00:00", 20250417])
    def test_bad_datetime(self, value):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("appointment_booking", {"preferred_time": value})
        assert refused(exc) == {
            "attributes.preferred_time": ["must be an ISO 8601 date and time"]}

    def test_string_attributes_are_trimmed_and_typed(self):
        cleaned = validate_attributes("appointment_booking",
                                      {"preferred_time": "2025-04-17T09:00", "topic": "  fence "})
        assert cleaned["topic"] == "fence"
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("appointment_booking",
                                {"preferred_time": "2025-04-17T09:00", "topic": 5})
        assert refused(exc) == {"attributes.topic": ["must be text"]}
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("appointment_booking",
                                {"preferred_time": "2025-04-17T09:00", "topic": "x" * 501})
        assert list(refused(exc)) == ["attributes.topic"]

    def test_every_problem_is_reported_at_once(self):
        with pytest.raises(InvalidRequest) as exc:
            validate_attributes("vehicle_administration",
                                {"business_kind": "repaint", "colour": "red"})
        assert set(refused(exc)) == {"attributes.business_kind", "attributes.vehicle_count",
                                     "attributes.colour"}


# --- requests --------------------------------------------------------------------------------


class TestSubmit:
    def test_a_submitted_request(self):
        request = submitted("permits")
        assert request.status == "submitted"
        assert request.open311_status == "open"
        assert request.requested_at == NOON
        assert request.updated_at == NOON
        assert request.submitted_by == "ent-user"
        assert request.attributes == {"permit_type": "hazardous_chemicals",
                                      "matter": "account_recovery"}
        assert request.routed_to is None and request.referral is None
        assert request.rating is None and request.closed_at is None
        assert request.status_notes == [Note(NOON, "ent-user", "submitted", "")]
        assert request.definition is SERVICES["permits"]

    @pytest.mark.parametrize("code, hours", [("appointment_booking", 24), ("permits", 48),
                                             ("legal_consultation", 24), ("other", 48)])
    def test_expected_at_is_requested_at_plus_expected_hours(self, code, hours):
        assert submitted(code).expected_at == NOON + timedelta(hours=hours)

    def test_attributes_are_cleaned(self):
        request = submitted(attributes={"preferred_time": "2025-04-17T09:00:00+08:00",
                                        "attendees": "3"})
        assert request.attributes == {"preferred_time": datetime(2025, 4, 17, 1, 0),
                                      "attendees": 3}

    def test_description_is_trimmed(self):
        assert submitted(description="  lost account  ").description == "lost account"

    @pytest.mark.parametrize("description", ["", "   ", None])
    def test_description_required(self, description):
        with pytest.raises(InvalidRequest) as exc:
            submitted(description=description)
        assert refused(exc) == {"description": ["is required"]}

    def test_description_at_most_2000_characters(self):
        assert len(submitted(description="x" * 2000).description) == 2000
        with pytest.raises(InvalidRequest) as exc:
            submitted(description="x" * 2001)
        assert refused(exc) == {"description": ["must be at most 2000 characters"]}

    def test_enterprise_required(self):
        with pytest.raises(InvalidRequest) as exc:
            submitted(enterprise_id="")
        assert refused(exc) == {"enterprise_id": ["is required"]}

    def test_unknown_service(self):
        with pytest.raises(InvalidRequest) as exc:
            submitted(service_code="passport", attributes={})
        assert list(refused(exc)) == ["service_code"]

    def test_description_and_attribute_errors_together(self):
        with pytest.raises(InvalidRequest) as exc:
            submitted(description="", attributes={})
        assert refused(exc) == {"description": ["is required"],
                                "attributes.preferred_time": ["is required"]}


class TestTransitions:
    def test_the_usual_path(self):
        request = submitted()
        t1, t2, t3 = (NOON + timedelta(hours=h) for h in (1, 2, 5))
        request.route(Routing("officer", "o1"), t1, "desk", "to the liaison officer")
        assert request.status == "routed" and request.routed_to == Routing("officer", "o1")
        request.start(t2, "o1", "on my way")
        assert request.status == "in_progress"
        request.close(t3, "o1", "appointment held at the station")
        assert request.status == "closed" and request.open311_status == "closed"
        assert request.closed_at == t3 and request.updated_at == t3
        assert [(n.status, n.by, n.at) for n in request.status_notes] == [
            ("submitted", "ent-user", NOON), ("routed", "desk", t1), ("in_progress", "o1", t2),
            ("closed", "o1", t3)]
        assert request.status_notes[-1].text == "appointment held at the station"

    def test_open311_view(self):
        request = in_status("closed")
        view = request.open311()
        assert view == {
            "service_request_id": "r1", "status": "closed", "status_notes": "done on site",
            "service_name": "Appointment", "service_code": "appointment_booking",
            "description": "Please help", "agency_responsible": "o1",
            "service_notice": "", "requested_datetime": NOON, "updated_datetime": NOON,
            "expected_datetime": NOON + timedelta(hours=24)}
        assert submitted("permits").open311()["service_notice"].startswith("Have the")
        assert submitted().open311()["agency_responsible"] is None

    def test_reroute_a_routed_request(self):
        request = in_status("routed")
        request.route(Routing("department", "narcotics_control"), NOON, "desk", "precursors")
        assert request.status == "routed"
        assert request.routed_to == Routing("department", "narcotics_control")
        assert [n.status for n in request.status_notes] == ["submitted", "routed", "routed"]

    @pytest.mark.parametrize("to, problem", [
        (Routing("team", "x"), "kind must be one of officer, department, agency"),
        (Routing("officer", ""), "the officer is required"),
        (Routing("department", "fire_brigade"), "unknown department 'fire_brigade'"),
        (Routing("agency", "tax"), "unknown agency 'tax'"),
        (Routing("agency", "labour"), "use refer to pass a request to an agency"),
    ])
    def test_route_refuses_bad_targets(self, to, problem):
        request = submitted()
        with pytest.raises(InvalidRequest) as exc:
            request.route(to, NOON, "desk")
        assert refused(exc) == {"routed_to": [problem]}
        assert request.status == "submitted" and request.routed_to is None

    def test_every_department_can_be_routed_to(self):
        for department in DEPARTMENTS:
            request = submitted()
            request.route(Routing("department", department), NOON, "desk")
            assert request.routed_to.target == department

    @pytest.mark.parametrize("verb, allowed", [
        ("route", {"submitted", "routed"}),
        ("start", {"routed"}),
        ("refer", {"submitted", "routed", "in_progress"}),
        ("follow up", {"referred"}),
        ("close", {"routed", "in_progress", "referred"}),
        ("rate", {"closed"}),
    ])
    def test_transition_table(self, verb, allowed):
        assert set(TRANSITIONS[verb]) == allowed

    STEPS = {
        "route": lambda r: r.route(Routing("officer", "o2"), NOON, "desk"),
        "start": lambda r: r.start(NOON, "o1"),
        "refer": lambda r: r.refer("justice", NOON, "o1", "civil matter"),
        "follow up": lambda r: r.follow_up(NOON, "o1", "called the bureau"),
        "close": lambda r: r.close(NOON, "o1", "done"),
        "rate": lambda r: r.rate(5, NOON, "ent-user"),
    }

    @pytest.mark.parametrize("verb", list(STEPS))
    @pytest.mark.parametrize("status", ["submitted", "routed", "in_progress", "referred",
                                        "closed"])
    def test_each_step_from_each_status(self, verb, status):
        request = in_status(status)
        if status in TRANSITIONS[verb]:
            self.STEPS[verb](request)
            expected = {"route": "routed", "start": "in_progress", "refer": "referred",
                        "follow up": "referred", "close": "closed", "rate": "closed"}[verb]
            assert request.status == expected
        else:
            notes_before = list(request.status_notes)
            with pytest.raises(RequestTransitionNotAllowed) as exc:
                self.STEPS[verb](request)
            assert refused(exc) == {"status": [f"cannot {verb} a request that is {status}"]}
            assert request.status == status
            assert request.status_notes == notes_before

    def test_close_needs_a_note(self):
        request = in_status("in_progress")
        with pytest.raises(InvalidRequest) as exc:
            request.close(NOON, "o1", "  ")
        assert refused(exc) == {"note": ["is required"]}
        assert request.status == "in_progress" and request.closed_at is None

    def test_notes_at_most_2000_characters(self):
        request = in_status("routed")
        with pytest.raises(InvalidRequest) as exc:
            request.start(NOON, "o1", "x" * 2001)
        assert refused(exc) == {"note": ["must be at most 2000 characters"]}
        assert request.status == "routed"


class TestReferral:
    def test_refer_to_an_agency(self):
        request = in_status("in_progress")
        later = NOON + timedelta(hours=3)
        request.refer("emergency_management", later, "o1", "fire code question")
        assert request.status == "referred" and request.open311_status == "open"
        assert request.referral == "emergency_management"
        assert request.routed_to == Routing("agency", "emergency_management")
        assert request.status_notes[-1] == Note(later, "o1", "referred", "fire code question")

    def test_refer_straight_from_submission(self):
        request = submitted()
        request.refer("township_government", NOON, "desk")
        assert request.status == "referred" and request.referral == "township_government"

    def test_every_agency_is_accepted(self):
        for agency in AGENCIES:
            request = submitted()
            request.refer(agency, NOON, "desk")
            assert request.referral == agency

    def test_unknown_agency(self):
        request = in_status("routed")
        with pytest.raises(InvalidRequest) as exc:
            request.refer("tax_bureau", NOON, "o1")
        assert list(refused(exc)) == ["agency"]
        assert request.status == "routed" and request.referral is None

    def test_follow_ups_keep_the_request_referred(self):
        request = in_status("referred")
        t1, t2 = NOON + timedelta(days=1), NOON + timedelta(days=2)
        request.follow_up(t1, "o1", "agency has the file")
        request.follow_up(t2, "o1", "agency inspected the site")
        assert request.status == "referred"
        assert request.follow_ups == [Note(t1, "o1", "referred", "agency has the file"),
                                      Note(t2, "o1", "referred", "agency inspected the site")]
        assert request.updated_at == t2
        assert [n.status for n in request.status_notes] == ["submitted", "referred"]

    def test_follow_up_needs_a_note(self):
        request = in_status("referred")
        with pytest.raises(InvalidRequest) as exc:
            request.follow_up(NOON, "o1", "")
        assert refused(exc) == {"note": ["is required"]}
        assert request.follow_ups == []

    def test_a_referred_request_is_closed_after_follow_up(self):
        request = in_status("referred")
        request.follow_up(NOON, "o1", "agency fixed it")
        request.close(NOON + timedelta(hours=1), "o1", "agency fixed it; enterprise confirmed")
        assert request.status == "closed" and request.referral == "market_regulation"


class TestDeadlineAndRating:
    def test_overdue_only_after_expected_at_while_open(self):
        request = submitted()  # expected 24 hours after NOON
        assert request.expected_at == NOON + timedelta(hours=24)
        assert not request.overdue(NOON)
        assert not request.overdue(request.expected_at)
        assert request.overdue(request.expected_at + timedelta(seconds=1))

    def test_referred_requests_can_be_overdue(self):
        request = in_status("referred")
        assert request.overdue(NOON + timedelta(days=2))

    def test_a_closed_request_is_never_overdue(self):
        request = in_status("closed")
        assert not request.overdue(NOON + timedelta(days=30))

    def test_rate_once(self):
        request = in_status("closed")
        later = NOON + timedelta(hours=2)
        request.rate(4, later, "ent-user")
        assert request.rating == 4 and request.rated_at == later and request.updated_at == later
        with pytest.raises(RequestTransitionNotAllowed) as exc:
            request.rate(5, later, "ent-user")
        assert refused(exc) == {"rating": ["the request was already rated 4"]}
        assert request.rating == 4

    @pytest.mark.parametrize("score", [0, 6, -1, 3.5, "5", True, None])
    def test_rating_must_be_1_to_5(self, score):
        request = in_status("closed")
        with pytest.raises(InvalidRequest) as exc:
            request.rate(score, NOON, "ent-user")
        assert refused(exc) == {"rating": ["must be a whole number from 1 to 5"]}
        assert request.rating is None

    @pytest.mark.parametrize("score", [1, 2, 3, 4, 5])
    def test_every_score_from_1_to_5(self, score):
        request = in_status("closed")
        request.rate(score, NOON, "ent-user")
        assert request.rating == score

    def test_cannot_rate_an_open_request(self):
        request = in_status("in_progress")
        with pytest.raises(RequestTransitionNotAllowed) as exc:
            request.rate(5, NOON, "ent-user")
        assert refused(exc) == {"status": ["cannot rate a request that is in_progress"]}


class TestWhoMayTakeAStep:
    def test_only_the_enterprise_rates_and_only_its_own(self):
        request = in_status("closed")
        request.check_may_take("rate", "enterprise", "e1")
        request.check_may_take("close", "officer", None)
        for step, role, enterprise_id, reason in (
                ("rate", "enterprise", "e2", "an enterprise may only rate its own requests"),
                ("close", "enterprise", "e1", "an enterprise may only rate its own requests"),
                ("rate", "officer", None, "only the enterprise rates a request")):
            with pytest.raises(NotOnCase) as exc:
                request.check_may_take(step, role, enterprise_id)
            assert refused(exc) == {"step": [reason]}


class TestDefaultRouting:
    @pytest.mark.parametrize("code, routing", [
        ("household_registration", Routing("department", "household_registration")),
        ("vehicle_administration", Routing("department", "traffic")),
        ("permits", Routing("department", "public_order")),
        ("security_inspection", Routing("department", "public_order")),
        ("legal_consultation", Routing("officer", "o7")),
        ("appointment_booking", Routing("officer", "o7")),
        ("other", Routing("officer", "o7")),
    ])
    def test_department_or_liaison_officer(self, code, routing):
        assert default_routing(SERVICES[code], "o7") == routing

    def test_default_routing_is_accepted_by_route(self):
        for code in SERVICES:
            routing = default_routing(SERVICES[code], "o7")
            routing.check()

    def test_departments_need_no_liaison_officer(self):
        assert default_routing(SERVICES["permits"], None) == Routing("department", "public_order")

    def test_liaison_services_need_a_liaison_officer(self):
        with pytest.raises(InvalidRequest) as exc:
            default_routing(SERVICES["legal_consultation"], None)
        assert refused(exc) == {"routed_to": ["the enterprise has no liaison officer"]}


# --- visits ----------------------------------------------------------------------------------

MON = datetime(2025, 4, 14, 9, 0)


def visit(visit_id, start, hours=2, enterprise="e1", officer="o1", purpose="check",
          participants=(), merged_into=None):
    return Visit(id=visit_id, enterprise_id=enterprise, officer_id=officer, purpose=purpose,
                 start=start, end=start + timedelta(hours=hours), merged_into=merged_into,
                 participants=list(participants))


class TestPlanVisit:
    def test_plan_when_nothing_is_near(self):
        proposal = visit("v2", MON + timedelta(days=3))
        existing = [visit("v1", MON)]
        outcome = plan_visit(existing, proposal, VisitPolicy())
        assert outcome == PlanOutcome("planned", proposal)
        assert outcome.absorbed is None

    def test_end_must_be_after_start(self):
        proposal = visit("v2", MON, hours=0)
        with pytest.raises(InvalidVisit) as exc:
            plan_visit([], proposal)
        assert refused(exc) == {"end": ["must be after start"]}
        with pytest.raises(InvalidVisit):
            plan_visit([], visit("v3", MON, hours=-1))

    def test_merge_within_the_window(self):
        host = visit("v1", MON, officer="o1", purpose="fire safety", participants=["o3"])
        proposal = visit("v2", MON + timedelta(hours=20), officer="o2", purpose="dormitories",
                         participants=["o3", "o4"])
        outcome = plan_visit([host], proposal)
        assert outcome.kind == "merged"
        assert outcome.visit.id == "v1"
        assert outcome.visit.start == MON and outcome.visit.end == host.end  # keeps its time
        assert outcome.visit.participants == ["o3", "o2", "o4"]
        assert outcome.visit.officers == ["o1", "o3", "o2", "o4"]
        assert outcome.visit.purpose == "fire safety; dormitories"
        assert outcome.absorbed.id == "v2" and outcome.absorbed.merged_into == "v1"

    def test_inputs_are_not_changed(self):
        host = visit("v1", MON, purpose="fire safety")
        proposal = visit("v2", MON + timedelta(hours=1), officer="o2", purpose="cctv")
        plan_visit([host], proposal)
        assert host.participants == [] and host.purpose == "fire safety"
        assert proposal.merged_into is None

    def test_start_exactly_at_the_window_edge_merges(self):
        outcome = plan_visit([visit("v1", MON)],
                             visit("v2", MON + timedelta(hours=24), officer="o2"))
        assert outcome.kind == "merged"

    def test_start_just_past_the_window_is_planned_separately(self):
        outcome = plan_visit([visit("v1", MON)],
                             visit("v2", MON + timedelta(hours=24, minutes=1), officer="o2"))
        assert outcome.kind == "planned"

    def test_earlier_proposal_merges_too(self):
        outcome = plan_visit([visit("v1", MON)],
                             visit("v2", MON - timedelta(hours=10), officer="o2"))
        assert outcome.kind == "merged" and outcome.visit.id == "v1"

    def test_overlapping_windows_merge_even_when_starts_are_far_apart(self):
        long_inspection = visit("v1", MON, hours=72)
        proposal = visit("v2", MON + timedelta(hours=48), officer="o2")
        assert plan_visit([long_inspection], proposal, VisitPolicy()).kind == "merged"
        policy = VisitPolicy(merge_window_hours=1)
        assert plan_visit([long_inspection], proposal, policy).kind == "merged"
        assert plan_visit([visit("v1", MON, hours=1)], proposal, policy).kind == "planned"

    def test_merges_into_the_nearest_visit(self):
        far = visit("v1", MON, officer="o1")
        near = visit("v3", MON + timedelta(hours=30), officer="o3")
        proposal = visit("v2", MON + timedelta(hours=22), officer="o2")
        assert plan_visit([far, near], proposal).visit.id == "v3"

    def test_other_enterprises_are_ignored(self):
        others = [visit(f"x{i}", MON + timedelta(days=i), enterprise="e2") for i in range(5)]
        outcome = plan_visit(others, visit("v1", MON, enterprise="e1"))
        assert outcome.kind == "planned"

    def test_merged_records_neither_host_nor_count(self):
        host = visit("v1", MON)
        absorbed = visit("v2", MON + timedelta(hours=1), officer="o2", merged_into="v1")
        proposal = visit("v3", MON + timedelta(hours=2), officer="o3")
        outcome = plan_visit([absorbed, host], proposal)
        assert outcome.visit.id == "v1"
        # Four visits plus three merged records in the period: still only four visits.
        existing = [visit(f"v{i}", MON + timedelta(days=5 * i)) for i in range(4)] + [
            visit(f"m{i}", MON + timedelta(days=5 * i, hours=1), merged_into=f"v{i}")
            for i in range(3)]
        with pytest.raises(VisitRefused):
            plan_visit(existing, visit("new", MON + timedelta(days=25)))
        three = existing[:3] + existing[4:]
        assert plan_visit(three, visit("new", MON + timedelta(days=25))).kind == "planned"

    def test_same_officer_and_purpose_are_not_duplicated(self):
        host = visit("v1", MON, officer="o1", purpose="check")
        outcome = plan_visit([host], visit("v2", MON + timedelta(hours=2), officer="o1",
                                           purpose="check"))
        assert outcome.visit.participants == [] and outcome.visit.purpose == "check"

    def test_refused_when_the_period_is_full(self):
        existing = [visit(f"v{i}", MON + timedelta(days=7 * i)) for i in range(4)]  # days 0-21
        with pytest.raises(VisitRefused) as exc:
            plan_visit(existing, visit("v5", MON + timedelta(days=26)))
        assert list(refused(exc)) == ["start"]
        assert refused(exc)["start"] == [
            "enterprise already has 4 visits in the 30 days from 2025-04-14 09:00; "
            "at most 4 are allowed"]

    def test_later_visits_count_too(self):
        existing = [visit(f"v{i}", MON + timedelta(days=7 * i)) for i in range(4)]  # days 0-21
        with pytest.raises(VisitRefused):
            plan_visit(existing, visit("new", MON - timedelta(days=4)))

    def test_period_is_rolling_not_calendar(self):
        existing = [visit(f"v{i}", MON + timedelta(days=7 * i)) for i in range(4)]  # days 0-21
        # 30 days after the first visit it falls out of the period: days 7, 14, 21, 30.
        assert plan_visit(existing, visit("v5", MON + timedelta(days=30))).kind == "planned"
        # And 30 days before the last one: days -9, 0, 7, 14 (21 is 30 days later).
        assert plan_visit(existing, visit("v6", MON - timedelta(days=9))).kind == "planned"

    def test_visits_spread_over_twice_the_period_do_not_block(self):
        existing = [visit("a", MON - timedelta(days=25)), visit("b", MON - timedelta(days=20)),
                    visit("c", MON + timedelta(days=20)), visit("d", MON + timedelta(days=25))]
        assert plan_visit(existing, visit("new", MON)).kind == "planned"

    def test_a_full_period_may_still_take_a_merge(self):
        existing = [visit(f"v{i}", MON + timedelta(days=7 * i)) for i in range(4)]
        outcome = plan_visit(existing, visit("new", MON + timedelta(days=21, hours=3),
                                             officer="o9"))
        assert outcome.kind == "merged" and outcome.visit.id == "v3"

    def test_a_required_visit_past_the_limit_joins_the_nearest_visit_of_the_full_period(self):
        existing = [visit(f"v{i}", MON + timedelta(days=7 * i)) for i in range(4)]  # days 0-21
        late = plan_visit(existing, visit("check", MON + timedelta(days=27), officer="o9",
                                          purpose="verify"), required=True)
        early = plan_visit(existing, visit("check", MON - timedelta(days=4), officer="o9"),
                           required=True)

        assert (late.kind, late.visit.id, late.absorbed.merged_into) == ("merged", "v3", "v3")
        assert late.visit.start == existing[3].start  # the host keeps its time
        assert (late.visit.participants, late.visit.purpose) == (["o9"], "check; verify")
        assert (early.kind, early.visit.id) == ("merged", "v0")
        assert existing[3].participants == []

    def test_a_required_visit_with_room_is_planned_or_merged_as_any_other(self):
        existing = [visit(f"v{i}", MON + timedelta(days=7 * i)) for i in range(3)]
        alone = visit("check", MON + timedelta(days=24))
        assert plan_visit(existing, alone, required=True) == PlanOutcome("planned", alone)
        near = plan_visit(existing, visit("check", MON + timedelta(days=7, hours=5)),
                          required=True)
        assert (near.kind, near.visit.id) == ("merged", "v1")

    def test_a_required_visit_is_planned_alone_where_no_visit_is_allowed(self):
        proposal = visit("check", MON)
        outcome = plan_visit([], proposal, VisitPolicy(max_visits_per_period=0), required=True)
        assert outcome == PlanOutcome("planned", proposal)

    def test_policy_limits_are_configurable(self):
        existing = [visit("v1", MON)]
        policy = VisitPolicy(max_visits_per_period=1, period_days=7, merge_window_hours=2)
        with pytest.raises(VisitRefused) as exc:
            plan_visit(existing, visit("v2", MON + timedelta(days=3)), policy)
        assert "at most 1" in refused(exc)["start"][0]
        assert plan_visit(existing, visit("v2", MON + timedelta(days=7)), policy).kind == \
            "planned"

    def test_replanning_a_visit_ignores_its_old_record(self):
        existing = [visit(f"v{i}", MON + timedelta(days=7 * i)) for i in range(4)]
        moved = visit("v3", MON + timedelta(days=24))
        assert plan_visit(existing, moved) == PlanOutcome("planned", moved)

    def test_new_visits_without_ids_are_compared_properly(self):
        host = visit(None, MON)
        outcome = plan_visit([host], visit(None, MON + timedelta(hours=1), officer="o2"))
        assert outcome.kind == "merged" and outcome.visit.participants == ["o2"]


class TestVerifyingOfficer:
    @staticmethod
    def answer(*seats):
        return {"seats": [{"seat": seat, "officer_id": f"o-{seat}", "available": False}
                          for seat in seats]}

    @pytest.mark.parametrize("seats, officer", [
        (("b_officer", "a_officer", "station_leader"), "o-a_officer"),
        (("bureau_leader", "b_officer", "station_leader"), "o-b_officer"),
        (("bureau_leader", "station_leader", "area_chief"), "o-station_leader")])
    def test_a_then_b_then_the_station_leader_verifies_absent_now_or_not(self, seats,
                                                                        officer):
        assert verifying_officer(self.answer(*seats), "h1") == officer

    def test_without_any_of_them_the_verification_is_refused(self):
        with pytest.raises(InvalidVisit) as exc:
            verifying_officer(self.answer("bureau_leader", "area_chief"), "h1")
        assert refused(exc) == {"enterprise_id": [
            "no A officer, B officer or station leader to verify hazard h1"]}
        with pytest.raises(InvalidVisit):
            verifying_officer({"seats": []}, "h1")


class TestRecordedEvents:
    def test_each_step_records_its_event_with_the_request_as_it_stands_after_it(self):
        request = submitted()
        request.route(Routing("officer", "o1"), NOON, "desk", " on its way ")
        request.start(NOON, "o1")
        request.close(NOON + timedelta(hours=1), "o1", "done on site")
        request.rate(4, NOON + timedelta(hours=2), "ent-user", "thanks")

        assert [(e.type, e.status, e.actor, e.note) for e in request.events] == [
            ("request.submitted", "submitted", "ent-user", ""),
            ("request.routed", "routed", "desk", "on its way"),
            ("request.started", "in_progress", "o1", ""),
            ("request.closed", "closed", "o1", "done on site"),
            ("request.rated", "closed", "ent-user", "thanks")]
        routed, rated = request.events[1], request.events[-1]
        assert (routed.request_id, routed.routed_to, routed.rating) == (
            "r1", Routing("officer", "o1"), None)
        assert (rated.at, rated.rating, rated.expected_at) == (
            NOON + timedelta(hours=2), 4, request.expected_at)

    def test_referral_and_follow_up(self):
        request = in_status("referred")
        request.follow_up(NOON, "o1", "the agency called back")
        assert [(e.type, e.referral, e.routed_to) for e in request.events[1:]] == [
            ("request.referred", "market_regulation", Routing("agency", "market_regulation")),
            ("request.followed_up", "market_regulation", Routing("agency", "market_regulation"))]

    def test_a_refused_step_records_nothing(self):
        request = in_status("routed")
        recorded = list(request.events)
        for step in (lambda: request.close(NOON, "o1", ""), lambda: request.rate(5, NOON, "e"),
                     lambda: request.follow_up(NOON, "o1", "x")):
            with pytest.raises((InvalidRequest, RequestTransitionNotAllowed)):
                step()
        assert request.events == recorded

    def test_a_visit_book_records_planned_then_merged_about_the_proposal(self):
        book = VisitBook("e1")
        first = book.plan(visit("v1", MON, officer="o1"))
        merged = book.plan(visit("v2", MON + timedelta(hours=1), officer="o2", purpose="cctv"))

        assert (first.kind, merged.kind) == ("planned", "merged")
        assert [(e.type, e.subject, e.merged_into, e.participants) for e in book.events] == [
            ("visit.planned", "v1", None, []), ("visit.merged", "v2", "v1", [])]
        assert [v.id for v in book.visits] == ["v1", "v2"]
        assert book.visits[0].participants == ["o2"]
        assert book.outcome_of("v2") == merged and book.outcome_of("v1") == PlanOutcome(
            "planned", book.visits[0])

    def test_a_required_visit_in_a_full_book_is_merged_and_the_book_holds_it(self):
        book = VisitBook("e1", [visit(f"v{n}", MON + timedelta(days=2 * n)) for n in range(4)])
        outcome = book.plan(visit("v9", MON + timedelta(days=9), officer="o9"),
                            required=True)

        assert (outcome.kind, outcome.visit.id) == ("merged", "v3")
        assert [(e.type, e.subject, e.merged_into) for e in book.events] == [
            ("visit.merged", "v9", "v3")]
        assert book.holds("v9") and book.holds("v3") and not book.holds("v10")
        assert book.outcome_of("v9") == outcome

    def test_a_refused_visit_leaves_the_book_as_it_was(self):
        book = VisitBook("e1", [visit(f"v{n}", MON + timedelta(days=2 * n)) for n in range(4)])
        with pytest.raises(VisitRefused):
            book.plan(visit("v9", MON + timedelta(days=9)))
        assert len(book.visits) == 4 and book.events == []


class TestCadenceCompliance:
    END = datetime(2025, 4, 30, 23, 59)
    ENTERPRISES = [("e1", "lead1", "liaison1"), ("e2", "lead2", "liaison2")]

    def rows(self, visits, enterprises=None):
        return {r["enterprise_id"]: r for r in cadence_compliance(
            enterprises or self.ENTERPRISES, visits, self.END)}

    def test_compliant_enterprise(self):
        lead_day = self.END - timedelta(days=20)
        liaison_day = self.END - timedelta(days=2)
        rows = self.rows([visit("v1", lead_day, officer="lead1"),
                          visit("v2", liaison_day, officer="liaison1")])
        assert rows["e1"] == {"enterprise_id": "e1", "lead_visited_this_month": True,
                              "liaison_visited_this_week": True, "last_lead_visit": lead_day,
                              "last_liaison_visit": liaison_day, "compliant": True}
        assert rows["e2"] == {"enterprise_id": "e2", "lead_visited_this_month": False,
                              "liaison_visited_this_week": False, "last_lead_visit": None,
                              "last_liaison_visit": None, "compliant": False}

    def test_rows_follow_the_order_given(self):
        result = cadence_compliance(list(reversed(self.ENTERPRISES)), [], self.END)
        assert [r["enterprise_id"] for r in result] == ["e2", "e1"]

    def test_stale_visits_are_reported_but_do_not_comply(self):
        old_lead = self.END - timedelta(days=31)
        old_liaison = self.END - timedelta(days=8)
        rows = self.rows([visit("v1", old_lead, officer="lead1"),
                          visit("v2", old_liaison, officer="liaison1")])
        assert rows["e1"]["last_lead_visit"] == old_lead
        assert rows["e1"]["last_liaison_visit"] == old_liaison
        assert not rows["e1"]["lead_visited_this_month"]
        assert not rows["e1"]["liaison_visited_this_week"]
        assert not rows["e1"]["compliant"]

    def test_window_edges_are_inclusive(self):
        rows = self.rows([visit("v1", self.END - timedelta(days=30), officer="lead1"),
                          visit("v2", self.END - timedelta(days=7), officer="liaison1")])
        assert rows["e1"]["compliant"]

    def test_visits_after_period_end_do_not_count(self):
        rows = self.rows([visit("v1", self.END + timedelta(minutes=1), officer="lead1"),
                          visit("v2", self.END + timedelta(days=1), officer="liaison1")])
        assert rows["e1"]["last_lead_visit"] is None
        assert not rows["e1"]["compliant"]

    def test_lead_alone_is_not_enough(self):
        rows = self.rows([visit("v1", self.END - timedelta(days=1), officer="lead1")])
        assert rows["e1"]["lead_visited_this_month"]
        assert not rows["e1"]["liaison_visited_this_week"]
        assert not rows["e1"]["compliant"]

    def test_a_merged_visit_counts_for_every_participant(self):
        joint = visit("v1", self.END - timedelta(days=3), officer="lead1",
                      participants=["liaison1"])
        absorbed = visit("v2", self.END - timedelta(days=3, hours=-2), officer="liaison1",
                         merged_into="v1")
        rows = self.rows([joint, absorbed])
        assert rows["e1"]["compliant"]
        assert rows["e1"]["last_liaison_visit"] == joint.start

    def test_visits_to_another_enterprise_do_not_count(self):
        rows = self.rows([visit("v1", self.END - timedelta(days=1), enterprise="e2",
                                officer="lead1", participants=["liaison1"])])
        assert not rows["e1"]["compliant"]

    def test_latest_visit_is_reported(self):
        first, second = self.END - timedelta(days=40), self.END - timedelta(days=10)
        rows = self.rows([visit("v2", second, officer="lead1"),
                          visit("v1", first, officer="lead1")])
        assert rows["e1"]["last_lead_visit"] == second

    def test_enterprise_without_officers_is_not_compliant(self):
        rows = self.rows([visit("v1", self.END - timedelta(days=1))], [("e1", None, None)])
        assert rows["e1"]["compliant"] is False
        assert rows["e1"]["last_lead_visit"] is None

    def test_custom_cadence(self):
        result = cadence_compliance(self.ENTERPRISES[:1],
                                    [visit("v1", self.END - timedelta(days=10), officer="lead1",
                                           participants=["liaison1"])],
                                    self.END, lead_days=60, liaison_days=14)
        assert result[0]["compliant"]
