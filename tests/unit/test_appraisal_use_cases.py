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
