"""Appraisal's invitations and ratings on the in-memory fake of the kit's storage."""
from datetime import datetime, timedelta

import pytest

from kit.tables import MemoryDatabase
from kit.testing import published
from services.appraisal import handlers
from services.appraisal.exceptions import AlreadyRated, InvitationExpired, NotOnCase
from services.appraisal.store import Repository

NOW = datetime(2026, 5, 4, 9, 0)
ENTERPRISE = {"role": "enterprise", "id": "e1", "enterprise_id": "e1"}


def closed_incident(incident_id="i1", acknowledged_by="o1"):
    return {"id": "env-1", "type": "incident.closed",
            "data": {"incident_id": incident_id, "enterprise_id": "e1", "state": "resolved",
                     "closed_at": NOW, "reported_at": NOW, "acknowledged_by": acknowledged_by,
                     "officer_ids": ["o1", "o2"]}}


def closed_request(routed_to=None):
    return {"id": "env-2", "type": "request.closed",
            "data": {"request_id": "r1", "enterprise_id": "e1", "service_code": "other",
                     "status": "closed", "at": NOW, "actor": "o3", "note": "",
                     "routed_to": routed_to or {"kind": "officer", "target": "o3"},
                     "referral": None, "expected_at": NOW, "rating": None}}


def rating(officer_id="o1", score=4):
    return {"officer_id": officer_id, "score": score, "satisfied": True, "comment": "quick"}


@pytest.fixture
def repo():
    return Repository(MemoryDatabase())


def test_a_closed_incident_and_a_closed_request_invite_their_enterprise_once(repo):
    invitation = handlers.from_event(repo, closed_incident(), NOW)
    assert (invitation.id, invitation.officer_ids) == ("incident:i1", ("o1",))
    assert invitation.expires_at == NOW + timedelta(days=14)
    assert handlers.from_event(repo, closed_incident(), NOW).version == 1  # redelivered
    request = handlers.from_event(repo, closed_request(), NOW)
    assert (request.id, request.officer_ids) == ("request:r1", ("o3",))
    assert repo.invitations.count() == 2
    assert [e["type"] for e in published(repo.unit)] == ["invitation.issued"] * 2
    assert handlers.from_event(repo, closed_incident("i2", acknowledged_by=None), NOW) is None


def test_a_rating_is_taken_once_per_officer_before_the_invitation_expires(repo):
    handlers.from_event(repo, closed_incident(), NOW)
    rated = handlers.rate(repo, "incident:i1", rating(), ENTERPRISE, NOW + timedelta(days=1))
    assert [(r.officer_id, r.score, r.rated_by) for r in rated.ratings] == [("o1", 4, "e1")]
    with pytest.raises(AlreadyRated) as refused:
        handlers.rate(repo, "incident:i1", rating(score=1), ENTERPRISE, NOW)
    assert "officer_id" in refused.value.errors
    with pytest.raises(NotOnCase):
        handlers.rate(repo, "incident:i1", rating("o9"), ENTERPRISE, NOW)
    handlers.from_event(repo, closed_request(), NOW)
    with pytest.raises(InvitationExpired) as late:
        handlers.rate(repo, "request:r1", rating("o3"), ENTERPRISE, NOW + timedelta(days=14))
    assert "invitation" in late.value.errors
    assert repo.invitations.get("request:r1").ratings == []
    [event] = [e for e in published(repo.unit) if e["type"] == "rating.recorded"]
    assert event["data"]["score"] == 4 and "comment" not in event["data"]


def test_an_invitation_left_unrated_past_its_expiry_is_counted_as_expired(repo):
    handlers.from_event(repo, closed_incident(), NOW)
    handlers.from_event(repo, closed_request(), NOW)
    handlers.rate(repo, "incident:i1", rating(), ENTERPRISE, NOW + timedelta(days=1))
    assert repo.expired_unrated(NOW + timedelta(days=13)) == 0
    # the request's invitation expired unrated; the incident's was rated in time
    assert repo.expired_unrated(NOW + timedelta(days=15)) == 1


def test_a_years_ratings_are_scored_with_the_raters_taken_into_account(repo):
    for n in range(12):
        handlers.from_event(repo, closed_incident(f"i{n}", acknowledged_by=f"o{n % 2}"), NOW)
        handlers.rate(repo, f"incident:i{n}", rating(f"o{n % 2}", 5 if n % 2 else 2),
                      ENTERPRISE, NOW + timedelta(hours=1))
    result = handlers.year_of_ratings(repo, 2026)
    by_id = result.by_id()
    assert (by_id["o0"].ratings, by_id["o1"].ratings) == (6, 6)
    assert by_id["o1"].score > by_id["o0"].score and by_id["o1"].rank == 1
    assert handlers.year_of_ratings(repo, 2025).officers == []


SUPERVISOR, REVIEWER = {"role": "supervisor", "id": "s-1"}, {"role": "supervisor", "id": "s-2"}


def rated_county(repo, officers=6, ratings=8):
    """Officers o0..o5, each rated `ratings` times across the year's cases: o0 best."""
    n = 0
    for officer in range(officers):
        for k in range(ratings):
            n += 1
            handlers.from_event(repo, closed_incident(f"c{n}", acknowledged_by=f"o{officer}"),
                                NOW)
            score = 5 if officer == 0 else 1 if officer == 5 else 3 + (k % 2)
            handlers.rate(repo, f"incident:c{n}", rating(f"o{officer}", score), ENTERPRISE,
                          NOW + timedelta(hours=1))


def test_the_list_is_drafted_reviewed_by_another_published_and_objected_to(repo):
    from services.appraisal.exceptions import ListRefused

    rated_county(repo)
    drafted = handlers.draft_list(repo, 2026, SUPERVISOR, NOW)
    named = {n.list: n.officer_id for n in drafted.named}
    assert drafted.status == "draft" and named == {"model": "o0", "lagging": "o5"}
    with pytest.raises(ListRefused) as refused:
        repo.lists.change("2026", lambda a: a.review("s-1", NOW))
    assert "reviewer" in refused.value.errors
    with pytest.raises(ListRefused):
        repo.lists.change("2026", lambda a: a.publish("s-2", NOW))
    assert handlers.draft_list(repo, 2026, SUPERVISOR, NOW).version == 2  # a redraft
    repo.lists.change("2026", lambda a: a.review("s-2", NOW))
    public = repo.lists.change("2026", lambda a: a.publish("s-2", NOW))
    assert public.status == "published"
    with pytest.raises(ListRefused):
        handlers.draft_list(repo, 2026, SUPERVISOR, NOW)  # a published list stays
    with pytest.raises(ListRefused):
        repo.lists.change("2026", lambda a: a.object("o3", "not named", NOW))
    repo.lists.change("2026", lambda a: a.object("o5", "two of my cases were others'", NOW))
    decided = repo.lists.change("2026", lambda a: a.decide("o5", False, "checked: all his",
                                                           "s-2", NOW))
    assert [(o.officer_id, o.state, o.decided_by) for o in decided.objections] == \
        [("o5", "dismissed", "s-2")]
    types = [e["type"] for e in published(repo.unit) if not e["type"].startswith(
        ("invitation", "rating"))]
    assert types == ["list.drafted", "list.drafted", "list.reviewed", "list.published",
                     "objection.recorded", "objection.recorded"]
    [event] = [e for e in published(repo.unit) if e["type"] == "list.published"]
    assert (event["data"]["model"], event["data"]["lagging"]) == (["o0"], ["o5"])
    assert "reason" not in str([e["data"] for e in published(repo.unit)
                                if e["type"] == "objection.recorded"])


def test_an_officers_own_score_is_explained(repo):
    rated_county(repo)
    score = handlers.officer_score(repo, "o0", 2026)
    assert score.ratings == 8 and score.rank == 1 and score.p_above > 0.85
    assert handlers.officer_score(repo, "o9", 2026) is None


def step_event(event_id, kind, officer_id, role="a_officer", latency=None, at=NOW):
    return {"id": event_id, "type": kind,
            "data": {"incident_id": "i1", "enterprise_id": "e1", "at": at,
                     "officer_id": officer_id, "role": role, "detail": "",
                     "latency_seconds": latency}}


def test_kpis_are_kept_once_per_event(repo):
    events = [step_event("a1", "incident.acknowledged", "o1", latency=40.2),
              step_event("a2", "incident.acknowledged", "o1", latency=100.0),
              step_event("a3", "incident.acknowledged", "o1", latency=70.4),
              step_event("m1", "incident.page_missed", "o1"),
              step_event("m2", "incident.page_missed", "o1", role="b_officer"),
              closed_request(), dict(closed_request(), id="env-3", data=dict(
                  closed_request()["data"], at=NOW + timedelta(days=1),
                  expected_at=NOW))]
    for event in events + events:  # every event delivered twice
        handlers.record_facts(repo, event)
    assert handlers.kpis(repo, "o1", 2026) == {
        "acknowledged": 3, "median_acknowledgement_seconds": 70.0, "pages_missed": 2,
        "failovers_caused": 1, "requests_closed": 0, "requests_on_time": 0,
        "requests_on_time_share": None}
    o3 = handlers.kpis(repo, "o3", 2026)
    assert (o3["requests_closed"], o3["requests_on_time"], o3["requests_on_time_share"]) == \
        (2, 1, 0.5)
    assert handlers.kpis(repo, "o1", 2025)["acknowledged"] == 0


def test_a_spot_check_draws_the_same_seeded_sample_and_records_each_survey_once(repo):
    from services.appraisal.domain import SpotCheck
    from services.appraisal.exceptions import SpotCheckRefused

    rated_county(repo, officers=3, ratings=8)  # 24 closed cases in Q2 (May)
    drawn = handlers.draw_spot_check(repo, 2026, 2, 3, 42, SUPERVISOR, NOW)
    per_officer = {}
    for s in drawn.samples:
        per_officer.setdefault(s.officer_id, []).append(s.invitation_id)
    assert {o: len(c) for o, c in per_officer.items()} == {"o0": 3, "o1": 3, "o2": 3}
    # the same cases and seed give the same sample; another seed another one
    cases = [(o, i.id) for i in repo.issued_between(datetime(2026, 4, 1), datetime(2026, 7, 1))
             for o in i.officer_ids]
    again = SpotCheck.draw(2026, 2, list(reversed(cases)), 3, 42, "s-9", NOW)
    assert again.samples == drawn.samples
    assert SpotCheck.draw(2026, 2, cases, 3, 7, "s-9", NOW).samples != drawn.samples
    assert handlers.draw_spot_check(repo, 2026, 2, 5, 1, SUPERVISOR, NOW) == drawn  # once
    assert handlers.draw_spot_check(repo, 2026, 1, 3, 42, SUPERVISOR, NOW).samples == []

    first = drawn.samples[0]
    recorded = repo.spot_checks.change("2026-Q2", lambda c: c.record(
        first.officer_id, first.invitation_id, "satisfied", "s-2", NOW))
    assert recorded.satisfaction() == {first.officer_id: (1, 1)}
    for wrong, field in ((lambda c: c.record(first.officer_id, first.invitation_id,
                                             "unreachable", "s-2", NOW), "result"),
                         (lambda c: c.record("o9", "incident:x", "satisfied", "s-2", NOW),
                          "invitation_id")):
        with pytest.raises(SpotCheckRefused) as refused:
            repo.spot_checks.change("2026-Q2", wrong)
        assert field in refused.value.errors


def test_configured_rules_need_their_own_version_and_name_a_bad_field():
    from kit.errors import ValidationFailed
    from kit.schemas import load
    from services.appraisal import schemas
    from services.appraisal.scoring import Rules

    assert handlers.rules_from({}) == Rules()
    chosen = handlers.rules_from(load(schemas.RulesConfig, {
        "version": 3, "level": 0.9, "weights": {"visits": 0.2, "ratings": 0.8}}))
    assert (chosen.version, chosen.level) == (3, 0.9)
    assert chosen.weights == (("ratings", 0.8), ("visits", 0.2))  # in the components' order
    with pytest.raises(ValidationFailed) as refused:
        handlers.rules_from(load(schemas.RulesConfig, {"level": 0.9}))
    assert "version" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        load(schemas.RulesConfig, {"version": 3, "weights": {"charm": 1.0}})
    assert "weights" in refused.value.errors
    scored = handlers.year_of_ratings(Repository(MemoryDatabase()), 2026, chosen)
    assert scored.rules.version == 3


def test_closing_events_that_arrive_together_make_each_invitation_once(repo):
    made = handlers.from_events(repo, [closed_incident(), closed_request(), closed_incident(),
                                       closed_incident("i2", acknowledged_by=None)], NOW)
    assert sorted(i.id for i in made) == ["incident:i1", "request:r1"]
    again = handlers.from_events(repo, [closed_incident(), closed_incident("i3")], NOW)
    assert [i.id for i in again] == ["incident:i3"]  # the redelivered one found stored
    assert repo.invitations.count() == 3
    assert [e["type"] for e in published(repo.unit)] == ["invitation.issued"] * 3
