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

from contracts.vocabulary import CHIEF_CRITERIA

from .exceptions import (AlreadyRated, ChiefRatingRefused, InvitationExpired, ListRefused,
                         NotOnCase, SpotCheckRefused)


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


# --- the annual list ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ListStep:
    """list.drafted, list.reviewed, list.published: the year's list moved on."""

    type: str
    year: int
    status: str
    model: tuple[str, ...]
    lagging: tuple[str, ...]
    rules_version: int
    actor: str
    at: datetime


@dataclass(frozen=True)
class ObjectionRecorded:
    """An officer named on a published list objected, or its objection was decided."""

    type: ClassVar[str] = "objection.recorded"
    year: int
    officer_id: str
    state: str            # raised, upheld, dismissed
    at: datetime


@dataclass(frozen=True)
class Named:
    officer_id: str
    list: str             # model or lagging
    score: str
    ratings: int
    probability: float
    interval: tuple[float, float]
    rank_interval: tuple[int, int]


@dataclass(frozen=True)
class Objection:
    officer_id: str
    reason: str
    raised_at: datetime
    state: str = "raised"  # raised, upheld, dismissed
    decided_by: str | None = None
    decision: str = ""
    decided_at: datetime | None = None


@dataclass
class AnnualList:
    """The year's model chiefs and lagging chiefs: drafted from the appraisal, reviewed by a
    supervisor (not the one who drafted it), published; a named officer may object, and the
    objection and its result are recorded."""

    id: str                # the year
    year: int
    status: str
    named: list[Named]
    model_note: str
    rules_version: int
    seed: int
    drafted_by: str
    drafted_at: datetime
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None
    published_by: str | None = None
    published_at: datetime | None = None
    objections: list[Objection] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def draft(cls, year, appraisal, actor, now) -> "AnnualList":
        by_id = appraisal.by_id()

        def named(officer_id, which):
            o = by_id[officer_id]
            return Named(officer_id, which, str(o.score), o.ratings,
                         o.p_above if which == "model" else o.p_below, tuple(o.interval),
                         tuple(o.rank_interval))
        drafted = cls(str(year), year, "draft",
                      [named(i, "model") for i in appraisal.model]
                      + [named(i, "lagging") for i in appraisal.lagging],
                      appraisal.model_note, appraisal.rules.version, appraisal.seed, actor, now)
        drafted._step("list.drafted", actor, now)
        return drafted

    def redraft(self, appraisal, actor, now):
        if self.status != "draft":
            raise ListRefused("status", f"the {self.year} list is {self.status}: it stays")
        fresh = AnnualList.draft(self.year, appraisal, actor, now)
        self.named, self.model_note = fresh.named, fresh.model_note
        self.rules_version, self.seed = fresh.rules_version, fresh.seed
        self.drafted_by, self.drafted_at = actor, now
        self.events.extend(fresh.events)

    def review(self, actor, now):
        if self.status != "draft":
            raise ListRefused("status", f"only a draft is reviewed; this list is {self.status}")
        if actor == self.drafted_by:
            raise ListRefused("reviewer", "the list is reviewed by another supervisor than the "
                                          "one who drafted it")
        self.status, self.reviewed_by, self.reviewed_at = "reviewed", actor, now
        self._step("list.reviewed", actor, now)

    def publish(self, actor, now):
        if self.status != "reviewed":
            raise ListRefused("status", f"only a reviewed list is published; this one is "
                                        f"{self.status}")
        self.status, self.published_by, self.published_at = "published", actor, now
        self._step("list.published", actor, now)

    def object(self, officer_id, reason, now):
        if self.status != "published":
            raise ListRefused("status", "objections are to a published list")
        if officer_id not in {n.officer_id for n in self.named}:
            raise ListRefused("officer_id", f"{officer_id} is not named on the {self.year} list")
        if any(o.officer_id == officer_id for o in self.objections):
            raise ListRefused("officer_id", f"{officer_id} objected already")
        self.objections.append(Objection(officer_id, reason, now))
        self.events.append(ObjectionRecorded(self.year, officer_id, "raised", now))

    def decide(self, officer_id, upheld, decision, actor, now):
        for i, objection in enumerate(self.objections):
            if objection.officer_id == officer_id:
                if objection.state != "raised":
                    raise ListRefused("officer_id", "the objection was decided already")
                state = "upheld" if upheld else "dismissed"
                self.objections[i] = Objection(officer_id, objection.reason,
                                               objection.raised_at, state, actor, decision, now)
                self.events.append(ObjectionRecorded(self.year, officer_id, state, now))
                return
        raise ListRefused("officer_id", f"{officer_id} raised no objection")

    def _step(self, event_type, actor, now):
        self.events.append(ListStep(
            event_type, self.year, self.status,
            tuple(n.officer_id for n in self.named if n.list == "model"),
            tuple(n.officer_id for n in self.named if n.list == "lagging"),
            self.rules_version, actor, now))


# --- spot checks ---------------------------------------------------------------------------------

SURVEY_RESULTS = ("satisfied", "not_satisfied", "unreachable")


@dataclass(frozen=True)
class Sampled:
    officer_id: str
    invitation_id: str
    result: str | None = None
    recorded_by: str | None = None
    recorded_at: datetime | None = None


@dataclass
class SpotCheck:
    """A quarter's satisfaction spot check: up to `per_officer` closed cases of each officer,
    drawn at random with `seed` (the same cases, the same seed: the same sample), each then
    surveyed (satisfied, not satisfied, unreachable)."""

    id: str               # <year>-Q<quarter>
    year: int
    quarter: int
    per_officer: int
    seed: int
    drawn_by: str
    drawn_at: datetime
    samples: list[Sampled] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def draw(cls, year, quarter, cases, per_officer, seed, actor, now) -> "SpotCheck":
        """`cases`: (officer id, invitation id) of every closed case of the quarter."""
        import random

        by_officer = {}
        for officer_id, invitation_id in sorted(set(cases)):
            by_officer.setdefault(officer_id, []).append(invitation_id)
        check = cls(f"{year}-Q{quarter}", year, quarter, per_officer, seed, actor, now)
        for officer_id in sorted(by_officer):
            rng = random.Random(f"{seed}:{year}:{quarter}:{officer_id}")
            chosen = rng.sample(by_officer[officer_id],
                                min(per_officer, len(by_officer[officer_id])))
            check.samples.extend(Sampled(officer_id, i) for i in sorted(chosen))
        return check

    def record(self, officer_id, invitation_id, result, actor, now):
        if result not in SURVEY_RESULTS:
            raise SpotCheckRefused("result", f"must be one of {', '.join(SURVEY_RESULTS)}")
        for i, sampled in enumerate(self.samples):
            if (sampled.officer_id, sampled.invitation_id) == (officer_id, invitation_id):
                if sampled.result is not None:
                    raise SpotCheckRefused("result", "this case's survey was recorded already")
                self.samples[i] = Sampled(officer_id, invitation_id, result, actor, now)
                return
        raise SpotCheckRefused("invitation_id", f"{invitation_id} of {officer_id} is not in the "
                                           f"{self.id} sample")

    def satisfaction(self) -> dict:
        """{officer: (satisfied, surveyed and reached)}."""
        found = {}
        for s in self.samples:
            if s.result in ("satisfied", "not_satisfied"):
                done, reached = found.get(s.officer_id, (0, 0))
                found[s.officer_id] = (done + (s.result == "satisfied"), reached + 1)
        return found


# --- the three chiefs' quarterly ratings ----------------------------------------------------



@dataclass
class ChiefRating:
    """One of the three chiefs (the bureau leader, the station leader, the area chief) rates a
    liaison officer for a quarter on each criterion, 1 to 5; once per seat, officer and
    quarter, and not before the quarter has begun. Its score is the criteria's mean."""

    id: str               # <year>-Q<quarter>:<officer>:<seat>
    officer_id: str
    year: int
    quarter: int
    seat: str
    criteria: dict
    rated_by: str
    rated_at: datetime
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def give(cls, officer_id, year, quarter, seat, criteria, rated_by, now) -> "ChiefRating":
        if (year, quarter) > (now.year, (now.month - 1) // 3 + 1):
            raise ChiefRatingRefused("quarter", f"{year} Q{quarter} has not begun")
        if set(criteria) != set(CHIEF_CRITERIA):
            raise ChiefRatingRefused("criteria", f"rate each of {', '.join(CHIEF_CRITERIA)}")
        return cls(f"{year}-Q{quarter}:{officer_id}:{seat}", officer_id, year, quarter, seat,
                   dict(sorted(criteria.items())), rated_by, now)

    @property
    def score(self) -> float:
        return sum(self.criteria.values()) / len(self.criteria)
