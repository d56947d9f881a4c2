"""Invitations to rate the officers who handled a case, and the ratings they collect. Pure
Python; time is always a parameter.

When dispatch closes an incident or a request, the enterprise is invited to rate each officer
who handled it: 1 to 5, satisfied or not, an optional comment; once per officer, before the
invitation expires. An invitation's id is its case's (`incident:<id>`, `request:<id>`), so
the same closing event delivered twice makes one invitation.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from .exceptions import AlreadyRated, InvitationExpired, NotOnCase


@dataclass(frozen=True)
class InvitationIssued:
    type: ClassVar[str] = "invitation.issued"
    invitation_id: str
    enterprise_id: str
    case_kind: str
    case_id: str
    officer_ids: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True)
class RatingRecorded:
    """No comment travels: only the figures."""

    type: ClassVar[str] = "rating.recorded"
    invitation_id: str
    enterprise_id: str
    officer_id: str
    score: int
    satisfied: bool
    rated_at: datetime


@dataclass(frozen=True)
class Rating:
    officer_id: str
    score: int
    satisfied: bool
    comment: str
    rated_at: datetime
    rated_by: str


@dataclass
class Invitation:
    id: str
    enterprise_id: str
    case_kind: str                 # incident or request
    case_id: str
    officer_ids: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    ratings: list[Rating] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def issue(cls, case_kind, case_id, enterprise_id, officer_ids, now,
              valid_for=timedelta(days=14)) -> "Invitation":
        invitation = cls(f"{case_kind}:{case_id}", enterprise_id, case_kind, case_id,
                         tuple(sorted(set(filter(None, officer_ids)))), now, now + valid_for)
        invitation.events.append(InvitationIssued(
            invitation.id, enterprise_id, case_kind, case_id, invitation.officer_ids,
            invitation.expires_at))
        return invitation

    def rate(self, officer_id, score, satisfied, comment, rated_by, now) -> Rating:
        """The enterprise rates one officer of the case: once, before the invitation
        expires."""
        if now >= self.expires_at:
            raise InvitationExpired(self.id, self.expires_at.isoformat() + "Z")
        if officer_id not in self.officer_ids:
            raise NotOnCase(officer_id, self.id)
        if any(r.officer_id == officer_id for r in self.ratings):
            raise AlreadyRated(officer_id, self.id)
        rating = Rating(officer_id, score, satisfied, comment, now, rated_by)
        self.ratings.append(rating)
        self.events.append(RatingRecorded(self.id, self.enterprise_id, officer_id, score,
                                          satisfied, now))
        return rating

    def pending(self, now) -> list[str]:
        """The officers still to be rated, while the invitation is open."""
        if now >= self.expires_at:
            return []
        rated = {r.officer_id for r in self.ratings}
        return [o for o in self.officer_ids if o not in rated]
