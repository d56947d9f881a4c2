"""Police visits to enterprises: reachable when needed, no visits when not. A proposed visit
is merged into one nearby or refused once the enterprise has had enough; each enterprise's
visits are one aggregate, its `VisitBook`, so two officers planning at once cannot both take
the last slot. Pure Python; time is always a parameter.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from .events import VisitMerged, VisitPlanned
from .exceptions import InvalidVisit, VisitRefused


@dataclass
class Visit:
    """A police visit or inspection of an enterprise over [start, end). A visit merged into
    another keeps its record with `merged_into` set; its officer joins the other's
    participants."""

    id: str | None
    enterprise_id: str
    officer_id: str
    purpose: str
    start: datetime
    end: datetime
    merged_into: str | None = None
    participants: list[str] = field(default_factory=list)

    @property
    def officers(self) -> list[str]:
        """The visiting officer and every participant, each once."""
        return list(dict.fromkeys([self.officer_id, *self.participants]))

    def check(self) -> None:
        if self.end <= self.start:
            raise InvalidVisit({"end": ["must be after start"]})


@dataclass(frozen=True)
class VisitPolicy:
    """At most `max_visits_per_period` separate visits in any `period_days` days; visits whose
    windows overlap or that start within `merge_window_hours` of each other become one."""

    max_visits_per_period: int = 4
    period_days: int = 30
    merge_window_hours: int = 24


@dataclass(frozen=True)
class PlanOutcome:
    """`kind` "planned": `visit` is the proposal as it stands. `kind` "merged": `visit` is the
    existing visit with the proposal's officers and purpose added, and `absorbed` is the
    proposal marked as merged into it."""

    kind: str
    visit: Visit
    absorbed: Visit | None = None


def _mergeable(existing: Visit, proposed: Visit, window: timedelta) -> bool:
    overlap = existing.start < proposed.end and proposed.start < existing.end
    return overlap or abs(existing.start - proposed.start) <= window


def _busiest_period(starts: list[datetime], at: datetime,
                    period: timedelta) -> tuple[int, datetime]:
    """The most `starts` in one period [a, a + period) that contains `at`, and its first day.
    Such a period can always be slid right until it begins at a start or at `at`, so those are
    the only beginnings worth trying."""
    best = (0, at)
    for begin in sorted({s for s in starts if at - period < s <= at} | {at}):
        count = sum(1 for s in starts if begin <= s < begin + period)
        if count > best[0]:
            best = (count, begin)
    return best


def _nearest(visits: list[Visit], proposed: Visit) -> Visit:
    return min(visits, key=lambda v: (abs(v.start - proposed.start), v.start))


def _merge(host: Visit, proposed: Visit) -> PlanOutcome:
    """The proposal merged into `host`: its officers and purpose added, the host's time kept."""
    joining = [o for o in proposed.officers if o not in host.officers]
    purpose = host.purpose
    if proposed.purpose and proposed.purpose not in purpose.split("; "):
        purpose = f"{purpose}; {proposed.purpose}" if purpose else proposed.purpose
    merged = replace(host, purpose=purpose, participants=[*host.participants, *joining])
    return PlanOutcome("merged", merged, replace(proposed, merged_into=host.id,
                                                 participants=list(proposed.participants)))


def plan_visit(existing: list[Visit], proposed: Visit,
               policy: VisitPolicy = VisitPolicy(), required: bool = False) -> PlanOutcome:
    """Merge the proposal into a nearby visit to the same enterprise, or plan it if the
    enterprise has room for another visit. Inputs are not changed; the outcome holds copies.

    Merging: the nearest (by start) unmerged visit whose window overlaps the proposal's or
    starts within `merge_window_hours` of it takes the proposal's officers and purpose and keeps
    its own time. Limit: the proposal is refused when some period of `period_days` containing
    its start already holds `max_visits_per_period` unmerged visits, counting visits planned
    after it as well as before. A `required` proposal (a check that must take place, such as a
    hazard's verification) is never refused: past the limit it joins the nearest (by start)
    unmerged visit of that full period instead, however far from it. An existing visit with
    the proposal's id is ignored, so a visit can be re-planned at a new time."""
    proposed.check()
    mine = [v for v in existing
            if v.enterprise_id == proposed.enterprise_id and v.merged_into is None
            and (proposed.id is None or v.id != proposed.id)]
    window = timedelta(hours=policy.merge_window_hours)
    near = [v for v in mine if _mergeable(v, proposed, window)]
    if near:
        return _merge(_nearest(near, proposed), proposed)
    period = timedelta(days=policy.period_days)
    count, begin = _busiest_period([v.start for v in mine], proposed.start, period)
    if count >= policy.max_visits_per_period:
        if not required:
            raise VisitRefused({"start": [
                f"enterprise already has {count} visits in the {policy.period_days} days "
                f"from {begin:%Y-%m-%d %H:%M}; at most {policy.max_visits_per_period} are "
                f"allowed"]})
        in_period = [v for v in mine if begin <= v.start < begin + period]
        if in_period:  # none only when no visit at all is allowed
            return _merge(_nearest(in_period, proposed), proposed)
    return PlanOutcome("planned", replace(proposed, participants=list(proposed.participants)))


@dataclass
class VisitBook:
    """Every visit planned to one enterprise (`id` is the enterprise's id)."""

    id: str
    visits: list[Visit] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    def plan(self, proposed: Visit, policy: VisitPolicy = VisitPolicy(),
             required: bool = False) -> PlanOutcome:
        """Plan the proposal as `plan_visit` decides, keep it in the book and record
        visit.planned or visit.merged (about the proposal). Raises VisitRefused, changing
        nothing, past the limit, unless the proposal is `required`."""
        outcome = plan_visit(self.visits, proposed, policy, required)
        if outcome.kind == "merged":
            self.visits = [outcome.visit if v.id == outcome.visit.id else v
                           for v in self.visits]
            self.visits.append(outcome.absorbed)
            self._record(VisitMerged, outcome.absorbed)
        else:
            self.visits.append(outcome.visit)
            self._record(VisitPlanned, outcome.visit)
        return outcome

    def holds(self, visit_id: str) -> bool:
        """Whether a visit `visit_id` was planned in this book (on its own or merged)."""
        return any(v.id == visit_id for v in self.visits)

    def outcome_of(self, visit_id: str) -> PlanOutcome:
        """How the visit `visit_id` was planned: on its own, or merged into another."""
        visit = next(v for v in self.visits if v.id == visit_id)
        if visit.merged_into is None:
            return PlanOutcome("planned", visit)
        host = next(v for v in self.visits if v.id == visit.merged_into)
        return PlanOutcome("merged", host, visit)

    def _record(self, event_cls, visit: Visit) -> None:
        self.events.append(event_cls(visit.id, visit.enterprise_id, visit.officer_id,
                                     visit.purpose, visit.start, visit.end,
                                     list(visit.participants), visit.merged_into))


VERIFIER_SEATS = ("a_officer", "b_officer", "station_leader")


def verifying_officer(responders: dict, hazard_id: str) -> str:
    """Who verifies a hazard's rectification at an enterprise, from the registry's responders
    answer (a plain dict): the officer of the first filled seat of VERIFIER_SEATS, absent
    now or not (the check is at the order's deadline). InvalidVisit when none is filled."""
    by_seat = {seat["seat"]: seat["officer_id"] for seat in responders.get("seats", ())}
    officer_id = next((by_seat[seat] for seat in VERIFIER_SEATS if by_seat.get(seat)), None)
    if officer_id is None:
        raise InvalidVisit({"enterprise_id": [
            f"no A officer, B officer or station leader to verify hazard {hazard_id}"]})
    return officer_id


LEAD_CADENCE_DAYS = 30  # the project's lead visits monthly
LIAISON_CADENCE_DAYS = 7  # the assigned liaison officer revisits weekly


def _last_visit(officer_id: str | None, visits: list[Visit],
                period_end: datetime) -> datetime | None:
    if not officer_id:
        return None
    return max((v.start for v in visits if v.start <= period_end and officer_id in v.officers),
               default=None)


def cadence_compliance(enterprises, visits: list[Visit], period_end: datetime,
                       lead_days: int = LEAD_CADENCE_DAYS,
                       liaison_days: int = LIAISON_CADENCE_DAYS) -> list[dict]:
    """Per (enterprise_id, lead_officer_id, liaison_officer_id), in the order given: whether the
    lead visited in the `lead_days` and the liaison officer in the `liaison_days` up to and
    including `period_end`. A visit counts for every officer on it, from its start; records
    merged into another visit are skipped, since the visit they joined carries their
    officers. An enterprise without a lead or liaison officer is not compliant."""
    by_enterprise: dict[str, list[Visit]] = {}
    for visit in visits:
        if visit.merged_into is None:
            by_enterprise.setdefault(visit.enterprise_id, []).append(visit)
    rows = []
    for enterprise_id, lead_id, liaison_id in enterprises:
        mine = by_enterprise.get(enterprise_id, [])
        last_lead = _last_visit(lead_id, mine, period_end)
        last_liaison = _last_visit(liaison_id, mine, period_end)
        lead_ok = last_lead is not None and last_lead >= period_end - timedelta(days=lead_days)
        liaison_ok = (last_liaison is not None
                      and last_liaison >= period_end - timedelta(days=liaison_days))
        rows.append({
            "enterprise_id": enterprise_id,
            "lead_visited_this_month": lead_ok,
            "liaison_visited_this_week": liaison_ok,
            "last_lead_visit": last_lead,
            "last_liaison_visit": last_liaison,
            "compliant": lead_ok and liaison_ok,
        })
    return rows
