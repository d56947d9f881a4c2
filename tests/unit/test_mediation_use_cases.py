"""Mediation's use cases on the in-memory fake of the kit's storage: intake and grading, the
exclusions, the tier ladder, referrals, agreements and their follow-up, deadlines, and the
statistics."""
from datetime import datetime, timedelta

import pytest

from kit.tables import MemoryDatabase
from kit.testing import published
from services.mediation import handlers
from services.mediation.domain import Timing
from services.mediation.exceptions import (ConsentMissing, DisputeClosed, NotAllowed,
                                           ReferralNotFound)
from services.mediation.letters import render_letter
from services.mediation.store import Repository

NOW = datetime(2026, 4, 1, 9, 0)
DAY = timedelta(days=1)
TIMING = Timing()
PLACE = {"enterprise_id": "e1", "station_id": "s1", "park_id": "p1", "grid_id": "g1"}
LIAISON = {"role": "enterprise", "id": "u-liaison"}
MEDIATOR = {"role": "mediator", "id": "m-1"}


def parties(workers=12, company="Minjiang Works", id_number=""):
    return [{"kind": "workers", "side": "applicant", "name": "Line 3 workers",
             "contact": "13800000000", "id_number": id_number, "headcount": workers},
            {"kind": "enterprise", "side": "respondent", "name": company, "contact": "",
             "id_number": "", "headcount": 1}]


def data(**changes):
    base = {"enterprise_id": "e1", "kind": "wage_arrears", "parties": parties(),
            "amount_at_stake": 52_000, "description": "three months of wages unpaid",
            "source": "enterprise", "signals": [], "exclusion": None, "referred_for": None}
    return dict(base, **changes)


@pytest.fixture
def repo():
    return Repository(MemoryDatabase())


def register(repo, at=NOW, **changes):
    return handlers.register_dispute(repo, PLACE, data(**changes), LIAISON, TIMING, at)


def types(repo):
    return [e["type"] for e in published(repo.unit)]


def test_a_dispute_is_taken_in_graded_and_announced_without_personal_data(repo):
    dispute = register(repo)
    assert repo.disputes.get(dispute.id) == dispute
    assert (dispute.grade.grade, dispute.grade.flags, dispute.tier) == ("medium", (),
                                                                         "enterprise")
    assert (dispute.station_id, dispute.park_id, dispute.grid_id) == ("s1", "p1", "g1")
    assert dispute.deadlines == {"settle": NOW + 30 * DAY}
    assert types(repo) == ["dispute.registered", "dispute.graded"]
    text = str(published(repo.unit))
    assert "13800000000" not in text and "Line 3" not in text and "wages" not in text


def test_a_registration_retried_with_its_request_key_makes_one_dispute(repo):
    first = handlers.register_dispute(repo, PLACE, data(), LIAISON, TIMING, NOW, "u:k1")
    again = handlers.register_dispute(repo, PLACE, data(), LIAISON, TIMING, NOW, "u:k1")
    assert again.id == first.id and repo.disputes.count() == 1


def test_a_dispute_needs_both_sides(repo):
    one_side = [dict(p, side="applicant") for p in parties()]
    with pytest.raises(NotAllowed) as refused:
        register(repo, parties=one_side)
    assert "parties" in refused.value.errors and repo.disputes.count() == 0


def test_a_flagged_dispute_alarms_and_issues_a_letter_with_a_deadline(repo):
    dispute = register(repo, signals=["threats"])
    assert (dispute.grade.grade, dispute.grade.flags) == ("high", ("civil_may_turn_criminal",))
    assert types(repo) == ["dispute.registered", "dispute.graded", "dispute.risk_flagged",
                           "dispute.warning_letter_issued"]
    [letter] = dispute.letters
    assert letter.due == NOW + DAY and dispute.deadlines["letter:1"] == letter.due
    html = render_letter(dispute, letter.id)
    assert "矛盾纠纷风险预警函" in html and letter.id in html and "threats reported" in html
    assert "Line 3 workers" not in html and "13800000000" not in html
    sent = handlers.change(repo, dispute.id, lambda d: d.letter_sent(letter.id, "m-1", NOW))
    assert sent.letters[0].sent_at == NOW and "letter:1" not in sent.deadlines


def test_a_repeat_between_the_same_parties_within_90_days_raises_the_grade(repo):
    register(repo, amount_at_stake=0, parties=parties(workers=3))
    other_parties = parties(workers=3, company="Another Works")
    assert register(repo, at=NOW + DAY, amount_at_stake=0,
                    parties=other_parties).grade.grade == "low"
    repeat = register(repo, at=NOW + 10 * DAY, amount_at_stake=0, parties=parties(workers=3))
    assert (repeat.repeats, repeat.grade.grade, repeat.grade.flags) == \
        (1, "medium", ("civil_may_turn_criminal",))
    later = register(repo, at=NOW + 200 * DAY, amount_at_stake=0, parties=parties(workers=3))
    assert later.repeats == 0  # the first two are older than the window


def test_a_change_regrades_and_a_new_rules_version_leaves_old_grades_alone(repo):
    dispute = register(repo, amount_at_stake=100_000)
    assert (dispute.grade.grade, dispute.grade.rule_version) == ("medium", 1)
    handlers.revise_rules(repo, {"amount": {"medium": 10_000, "high": 80_000,
                                            "critical": 1_000_000}})
    assert repo.current_rules().version == 2
    assert repo.disputes.get(dispute.id).grade.rule_version == 1  # kept
    newer = register(repo, amount_at_stake=100_000, parties=parties(company="B"))
    assert (newer.grade.grade, newer.grade.rule_version) == ("high", 2)
    regraded = handlers.regrade(repo, dispute.id, {"signals": ["weapons"]}, MEDIATOR, TIMING,
                                NOW + DAY)
    assert (regraded.grade.grade, regraded.grade.rule_version, regraded.tier) == \
        ("critical", 2, "enterprise")
    assert "criminal_may_turn_deadly" in regraded.grade.flags


@pytest.mark.parametrize("ground", ["hired_violence", "group_fight", "repeat_offender",
                                    "party_refuses", "confrontation", "suspect_absconded"])
def test_an_exclusion_ground_refuses_mediation_and_refers_the_case(repo, ground):
    dispute = register(repo, exclusion=ground, referred_for="police_case")
    assert (dispute.status, dispute.exclusion, dispute.referred_for) == \
        ("excluded", ground, "police_case")
    assert dispute.deadlines == {} and dispute.audit[-1].what == "excluded"
    assert published(repo.unit)[-1]["data"]["detail"] == ground
    with pytest.raises(DisputeClosed):
        handlers.change(repo, dispute.id, lambda d: d.escalate("x", "m-1", TIMING, NOW))


def test_confrontation_in_a_session_excludes_and_a_refusal_ends_it(repo):
    first, second = register(repo), register(repo, parties=parties(company="B"))
    handlers.change(repo, first.id, lambda d: d.record_session(
        "mediation", NOW, "Park mediation room", ["m-1"], "confrontation", "", "m-1", NOW))
    assert repo.disputes.get(first.id).exclusion == "confrontation"
    refused = handlers.change(repo, second.id, lambda d: d.refuse(
        1, "litigation_or_arbitration", "m-1", NOW))
    assert (refused.status, refused.referred_for) == ("refused", "litigation_or_arbitration")


def test_the_ladder_by_decision_and_by_deadline(repo):
    dispute = register(repo)
    up = handlers.change(repo, dispute.id, lambda d: d.escalate(
        "the committee cannot meet the amount", "m-1", TIMING, NOW + DAY))
    assert (up.tier, up.deadlines["settle"]) == ("park", NOW + 31 * DAY)
    assert up.audit[-1].detail == "enterprise -> park: the committee cannot meet the amount"
    too_early, _ = handlers.fire_deadlines(repo, dispute.id, TIMING, NOW + 30 * DAY)
    assert too_early.tier == "park"
    panel, fired = handlers.fire_deadlines(repo, dispute.id, TIMING, NOW + 31 * DAY)
    assert (panel.tier, fired) == ("panel", ["settle"])
    again, fired = handlers.fire_deadlines(repo, dispute.id, TIMING, NOW + 31 * DAY)
    assert fired == [] and again.version == panel.version  # each deadline fires once
    with pytest.raises(NotAllowed):
        handlers.change(repo, dispute.id, lambda d: d.escalate("x", "m-1", TIMING, NOW))
    steps = [e for e in published(repo.unit) if e["type"] == "dispute.escalated"]
    assert [(e["data"]["detail"], e["data"]["extra"]) for e in steps] == \
        [("decision", "enterprise"), ("deadline", "park")]


def test_an_extension_needs_every_partys_consent(repo):
    dispute = register(repo)
    with pytest.raises(ConsentMissing) as refused:
        handlers.change(repo, dispute.id, lambda d: d.extend(15, [0], "m-1", NOW))
    assert "party 1" in str(refused.value.errors["consents"])
    assert repo.disputes.get(dispute.id).deadlines["settle"] == NOW + 30 * DAY
    extended = handlers.change(repo, dispute.id, lambda d: d.extend(15, [0, 1], "m-1", NOW))
    assert extended.deadlines["settle"] == NOW + 45 * DAY


def panel_dispute(repo):
    return register(repo, amount_at_stake=6_000_000)  # critical: starts at the panel


def test_a_referral_is_accepted_declined_and_done_by_its_agency_only(repo):
    dispute = panel_dispute(repo)
    assert dispute.tier == "panel"
    with_referrals = handlers.change(repo, dispute.id, lambda d: d.refer("labour", "m-1", NOW))
    handlers.change(repo, dispute.id, lambda d: d.refer("justice", "m-1", NOW))
    labour, justice = [r.id for r in repo.disputes.get(dispute.id).referrals]
    assert with_referrals.referrals[0].state == "pending"
    with pytest.raises(ReferralNotFound):
        handlers.change(repo, dispute.id, lambda d: d.act_on_referral(
            labour, "justice", "accept", NOW))
    with pytest.raises(NotAllowed):
        handlers.change(repo, dispute.id, lambda d: d.act_on_referral(
            justice, "justice", "decline", NOW, reason="  "))
    handlers.change(repo, dispute.id, lambda d: d.act_on_referral(
        justice, "justice", "decline", NOW, reason="not a legal-aid matter"))
    accepted = handlers.change(repo, dispute.id, lambda d: d.act_on_referral(
        labour, "labour", "accept", NOW))
    assert accepted.holds_referral("labour") and not accepted.holds_referral("justice")
    with pytest.raises(NotAllowed):
        handlers.change(repo, dispute.id, lambda d: d.act_on_referral(
            labour, "labour", "done", NOW, reason="because", result="successful"))
    done = handlers.change(repo, dispute.id, lambda d: d.act_on_referral(
        labour, "labour", "done", NOW, reason="settled", result="successful"))
    assert [r.state for r in done.referrals] == ["done", "declined"]
    assert not done.holds_referral("labour")  # the purpose is over
    assert repo.list(0, 10, agency="labour")[1] == 1
    steps = [e["data"] for e in published(repo.unit) if e["type"].startswith("referral.")]
    assert [s["state"] for s in steps] == ["pending", "pending", "declined", "accepted", "done"]
    assert "not a legal-aid" not in str(steps)  # a decline's free text stays here


def test_referrals_come_from_the_panel_only(repo):
    dispute = register(repo)
    with pytest.raises(NotAllowed) as refused:
        handlers.change(repo, dispute.id, lambda d: d.refer("labour", "m-1", NOW))
    assert "tier" in refused.value.errors


def agreement(due=NOW + 10 * DAY):
    return dict(facts="wages owed for three months", issues="amount and date",
                terms=[{"party": 1, "obligation": "pay 52,000 yuan", "due": due}],
                signatures=[{"party": 0, "at": NOW}, {"party": 1, "at": NOW}])


def test_an_agreement_sets_the_follow_up_clock_and_closes_when_kept(repo):
    dispute = register(repo)
    with pytest.raises(NotAllowed) as refused:
        handlers.change(repo, dispute.id, lambda d: d.agree(
            **dict(agreement(), signatures=[{"party": 0, "at": NOW}]), actor="m-1",
            timing=TIMING, now=NOW))
    assert "party 1" in str(refused.value.errors)
    agreed = handlers.change(repo, dispute.id, lambda d: d.agree(
        **agreement(), actor="m-1", timing=TIMING, now=NOW + DAY))
    assert agreed.status == "agreed" and "settle" not in agreed.deadlines
    assert agreed.deadlines == {"confirmation": NOW + 30 * DAY,
                                "confirmation_reminder": NOW + 23 * DAY,
                                "follow_up:7": NOW + 7 * DAY, "follow_up:30": NOW + 30 * DAY,
                                "term:0": NOW + 10 * DAY}
    closed = handlers.change(repo, dispute.id, lambda d: d.term_performed(0, "m-1",
                                                                          NOW + 5 * DAY))
    assert (closed.status, closed.kept_on_time()) == ("closed", True)
    _, fired = handlers.fire_deadlines(repo, dispute.id, TIMING, NOW + 31 * DAY)
    assert fired == ["follow_up:7", "confirmation_reminder", "confirmation", "follow_up:30"]


def test_an_overdue_term_reopens_the_dispute_at_its_tier(repo):
    dispute = register(repo)
    handlers.change(repo, dispute.id, lambda d: d.agree(**agreement(), actor="m-1",
                                                        timing=TIMING, now=NOW))
    reopened, fired = handlers.fire_deadlines(repo, dispute.id, TIMING, NOW + 10 * DAY)
    assert "term:0" in fired
    assert (reopened.status, reopened.tier, reopened.deadlines["settle"]) == \
        ("mediating", "enterprise", NOW + 40 * DAY)


def test_the_statistics_count_by_area_and_period(repo):
    first = register(repo, signals=["threats"])
    handlers.change(repo, first.id, lambda d: d.agree(**agreement(), actor="m-1",
                                                      timing=TIMING, now=NOW + 3 * DAY))
    second = register(repo, parties=parties(company="B"))
    handlers.change(repo, second.id, lambda d: d.record_session(
        "analysis_meeting", NOW, "station", ["m-1"], "adjourned", "", "m-1", NOW))
    register(repo, signals=["self_harm"], parties=parties(company="C"))
    elsewhere = dict(PLACE, station_id="s2", park_id=None, grid_id="g9")
    handlers.register_dispute(repo, elsewhere, data(parties=parties(company="D")), LIAISON,
                              TIMING, NOW)
    table = handlers.statistics(repo, NOW - DAY, NOW + DAY, {"station_id": "s1"})
    assert {k: table[k] for k in ("screened", "resolved", "risks_found", "risks_defused",
                                  "risks_watched", "analysis_meetings")} == \
        {"screened": 3, "resolved": 1, "risks_found": 2, "risks_defused": 0,
         "risks_watched": 2, "analysis_meetings": 1}
    handlers.change(repo, first.id, lambda d: d.term_performed(0, "m-1", NOW + 5 * DAY))
    table = handlers.statistics(repo, NOW - DAY, NOW + DAY, {"station_id": "s1"})
    assert (table["resolved"], table["risks_defused"], table["risks_watched"]) == (1, 1, 1)
    assert table["agreements_kept_on_time"] == 1.0
    assert (table["settled_at_lowest_tier"], table["median_days_to_settle"]) == (1.0, 3.0)
    assert handlers.statistics(repo, NOW - DAY, NOW + DAY)["screened"] == 4
    assert handlers.statistics(repo, NOW + DAY, NOW + 2 * DAY)["screened"] == 0
