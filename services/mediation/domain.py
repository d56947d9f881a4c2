"""Disputes: graded for risk, mediated at the lowest tier that can settle them, escalated by a
recorded decision or a passed deadline, settled by an agreement whose terms are followed up.
Pure Python; time is always a parameter.

A dispute records the events of what happens to it (`events`, services.mediation.events) and
an audit entry (who, when, what) for every step; the store writes them with the change, so a
dispute cannot change without its events going out. Its pending deadlines are kept with it
(`deadlines`: name -> due); `next_due` is the earliest, which the store indexes so a sweep
finds what came due without reading every dispute.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from contracts.vocabulary import (EXCLUSION_GROUNDS, PANEL_AGENCIES, REFERRAL_REASONS,
                                  SESSION_OUTCOMES)

from .events import (DisputeGraded, DisputeRegistered, DisputeStep, ReferralStep,
                     WarningLetterIssued)
from .exceptions import (ConsentMissing, DisputeClosed, LetterNotFound, NotAllowed,
                         ReferralNotFound)
from .grading import GRADES, TIERS, Facts, Grade

OPEN = ("mediating", "agreed")
SETTLED = ("agreed", "closed")


@dataclass(frozen=True)
class Timing:
    """How long things may take (configuration: MEDIATION_TIMING)."""

    settle_days: int = 30             # per tier
    letter_days: int = 1              # to send a risk warning letter
    confirmation_days: int = 30       # to apply jointly for judicial confirmation (Art. 33)
    confirmation_reminder_days: int = 23
    follow_up_days: tuple = (7, 30)   # visits after an agreement

    def days(self, n) -> timedelta:
        return timedelta(days=n)


@dataclass(frozen=True)
class Party:
    kind: str            # enterprise, workers, individual, company
    side: str            # applicant, respondent
    name: str
    contact: str = ""
    id_number: str = ""
    headcount: int = 1

    def key(self) -> str:
        """Who the party is, to find earlier disputes between the same parties."""
        return (self.id_number or self.name).strip().lower()


@dataclass(frozen=True)
class Session:
    kind: str            # mediation, analysis_meeting
    at: datetime
    place: str
    attendees: tuple[str, ...]
    outcome: str
    notes: str
    tier: str
    recorded_by: str


@dataclass(frozen=True)
class Term:
    party: int           # index in `parties`
    obligation: str
    due: datetime
    performed_at: datetime | None = None


@dataclass(frozen=True)
class Signature:
    party: int
    at: datetime


@dataclass(frozen=True)
class Agreement:
    facts: str
    issues: str
    terms: tuple[Term, ...]
    signatures: tuple[Signature, ...]
    signed_at: datetime
    tier: str


@dataclass(frozen=True)
class Referral:
    id: str
    agency: str
    state: str                      # pending, accepted, declined, done
    referred_at: datetime
    referred_by: str
    reason: str = ""                # declined: why; done: the reason from the list
    result: str | None = None       # successful, not_successful
    acted_at: datetime | None = None


@dataclass(frozen=True)
class Letter:
    id: str
    grade: str
    flags: tuple[str, ...]
    reasons: tuple[str, ...]
    issued_at: datetime
    due: datetime
    sent_at: datetime | None = None
    sent_by: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    who: str
    what: str
    detail: str = ""


@dataclass
class Dispute:
    id: str
    enterprise_id: str
    station_id: str
    park_id: str | None
    grid_id: str | None
    kind: str
    parties: tuple[Party, ...]
    amount_at_stake: int
    description: str
    source: str
    source_ref: str | None
    signals: tuple[str, ...]
    registered_by: str
    registered_at: datetime
    grade: Grade
    tier: str
    start_tier: str
    status: str = "mediating"
    repeats: int = 0
    tier_since: datetime | None = None
    exclusion: str | None = None
    referred_for: str | None = None
    sessions: list[Session] = field(default_factory=list)
    agreement: Agreement | None = None
    referrals: list[Referral] = field(default_factory=list)
    letters: list[Letter] = field(default_factory=list)
    deadlines: dict[str, datetime] = field(default_factory=dict)
    settled_at: datetime | None = None
    closed_at: datetime | None = None
    audit: list[AuditEntry] = field(default_factory=list)
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    # --- intake ---------------------------------------------------------------------------

    @classmethod
    def register(cls, dispute_id, place, data, rules, repeats, actor, timing: Timing,
                 now) -> "Dispute":
        """A new dispute at `place` (enterprise_id, station_id, park_id, grid_id from the
        registry), graded by `rules` (a grading.RuleSet); `repeats`: earlier disputes between
        the same parties within the rules' window."""
        parties = tuple(Party(**p) for p in data["parties"])
        grade = rules.grade(_facts(data["amount_at_stake"], parties, data["signals"],
                                   repeats, data["kind"]))
        dispute = cls(dispute_id, place["enterprise_id"], place["station_id"],
                      place.get("park_id"), place.get("grid_id"), data["kind"], parties,
                      data["amount_at_stake"], data["description"], data["source"],
                      data.get("source_ref"), tuple(sorted(set(data["signals"]))), actor, now,
                      grade, grade.start_tier, grade.start_tier, repeats=repeats, tier_since=now)
        dispute._audit(now, actor, "registered", f"at the {grade.start_tier} tier")
        dispute.events.append(DisputeRegistered(
            dispute_id, dispute.enterprise_id, dispute.station_id, dispute.park_id,
            dispute.grid_id, dispute.kind, dispute.amount_at_stake, dispute.source,
            dispute.source_ref, dispute.tier, now))
        dispute.deadlines["settle"] = now + timing.days(timing.settle_days)
        dispute._graded(grade, None, actor, timing, now)
        if data.get("exclusion"):
            dispute.exclude(data["exclusion"], data.get("referred_for") or "police_case",
                            actor, now)
        return dispute

    def regrade(self, rules, actor, timing: Timing, now, amount=None, signals=None,
                repeats=None) -> bool:
        """Grade again after a change (of the amount, the reported signals) or under new
        rules; False if nothing changed."""
        self._open()
        if amount is not None:
            self.amount_at_stake = amount
        if signals is not None:
            self.signals = tuple(sorted(set(self.signals) | set(signals)))
        if repeats is not None:
            self.repeats = repeats
        grade = rules.grade(_facts(self.amount_at_stake, self.parties, self.signals,
                                   self.repeats, self.kind))
        if (grade.grade, grade.flags, grade.rule_version) == \
                (self.grade.grade, self.grade.flags, self.grade.rule_version):
            return False
        self._graded(grade, self.grade, actor, timing, now)
        return True

    def _graded(self, grade: Grade, before: Grade | None, actor, timing, now):
        """Record a grade; a raised one that is high, critical or flagged alarms: the
        station's leader is paged (by dispatch, on `dispute.risk_flagged`) and a warning
        letter is issued to the township government, with a deadline to send it."""
        raised = before is None or GRADES.index(grade.grade) > GRADES.index(before.grade) \
            or set(grade.flags) - set(before.flags)
        self.grade = grade
        self._audit(now, actor, "graded", f"{grade.grade} {' '.join(grade.flags)} "
                                          f"(rules v{grade.rule_version}): "
                                          + "; ".join(grade.reasons))
        self.events.append(DisputeGraded("dispute.graded", *self._where(), grade.grade,
                                         grade.flags, grade.rule_version, grade.reasons, now))
        if grade.alarming and raised:
            self.events.append(DisputeGraded("dispute.risk_flagged", *self._where(),
                                             grade.grade, grade.flags, grade.rule_version,
                                             grade.reasons, now))
            letter = Letter(f"{self.id}-L{len(self.letters) + 1}", grade.grade, grade.flags,
                            grade.reasons, now, now + timing.days(timing.letter_days))
            self.letters.append(letter)
            self.deadlines[f"letter:{len(self.letters)}"] = letter.due
            self.events.append(WarningLetterIssued("dispute.warning_letter_issued",
                                                   *self._where(), letter.id, letter.grade,
                                                   letter.flags, letter.due, now))

    def letter_sent(self, letter_id, actor, now):
        for i, letter in enumerate(self.letters):
            if letter.id == letter_id:
                if letter.sent_at is not None:
                    return False
                self.letters[i] = replace(letter, sent_at=now, sent_by=actor)
                self.deadlines.pop(f"letter:{i + 1}", None)
                self._audit(now, actor, "letter_sent", letter_id)
                self.events.append(WarningLetterIssued("dispute.warning_letter_sent",
                                                       *self._where(), letter.id, letter.grade,
                                                       letter.flags, letter.due, now))
                return True
        raise LetterNotFound(letter_id)

    @property
    def risk_found(self) -> bool:
        """Its grade rose to high, critical or a flag at least once (each time a letter went
        out): a risk the statistics count, defused or still watched."""
        return bool(self.letters)

    # --- the tiers ------------------------------------------------------------------------

    def escalate(self, reason, actor, timing, now, by_deadline=False):
        """Up one tier, by a recorded decision with `reason` (or because the tier's deadline
        passed); a new deadline to settle there."""
        self._open("mediating")
        if self.tier == TIERS[-1]:
            raise NotAllowed("tier", "the panel is the highest tier")
        before, self.tier = self.tier, TIERS[TIERS.index(self.tier) + 1]
        self.tier_since = now
        self.deadlines["settle"] = now + timing.days(timing.settle_days)
        self._audit(now, actor, "escalated", f"{before} -> {self.tier}: {reason}")
        self._step("dispute.escalated", now, actor,
                   "deadline" if by_deadline else "decision", before)

    def extend(self, days, consents, actor, now):
        """Move the deadline to settle `days` later: only with every party's consent."""
        self._open("mediating")
        missing = [i for i in range(len(self.parties)) if i not in set(consents)]
        if missing:
            raise ConsentMissing(missing)
        self.deadlines["settle"] = self.deadlines.get("settle", now) + timedelta(days=days)
        self._audit(now, actor, "extended", f"{days} days, every party consenting")
        self._step("dispute.extended", now, actor, str(days))

    def exclude(self, ground, referred_for, actor, now):
        """Police mediation does not apply (a ground of the procedure rules): refused, the
        ground recorded, the case referred for handling."""
        self._open("mediating")
        if ground not in EXCLUSION_GROUNDS:
            raise NotAllowed("ground", f"must be one of {', '.join(EXCLUSION_GROUNDS)}")
        self.status, self.exclusion, self.referred_for = "excluded", ground, referred_for
        self._end(now)
        self._audit(now, actor, "excluded", f"{ground}; referred for {referred_for}")
        self._step("dispute.excluded", now, actor, ground)

    def refuse(self, party, next_step, actor, now):
        """A party refuses mediation (Art. 17): it does not go ahead."""
        self._open("mediating")
        self._party(party)
        self.status, self.referred_for = "refused", next_step
        self._end(now)
        self._audit(now, actor, "refused", f"party {party} refused; next: {next_step}")
        self._step("dispute.refused", now, actor, next_step)

    def record_session(self, kind, at, place, attendees, outcome, notes, actor, now):
        self._open()
        if outcome not in SESSION_OUTCOMES:
            raise NotAllowed("outcome", f"must be one of {', '.join(SESSION_OUTCOMES)}")
        self.sessions.append(Session(kind, at, place, tuple(attendees), outcome, notes,
                                     self.tier, actor))
        self._audit(now, actor, "session", f"{kind} at {at.isoformat()}: {outcome}")
        self._step("dispute.session_recorded", now, actor, kind, outcome)
        if outcome == "confrontation" and self.status == "mediating":
            self.exclude("confrontation", "police_case", actor, now)
        elif outcome == "party_refused" and self.status == "mediating":
            self.refuse(0, "litigation_or_arbitration", actor, now)

    # --- agreement and follow-up -------------------------------------------------------------

    def agree(self, facts, issues, terms, signatures, actor, timing, now):
        """A written agreement (Arts. 28-29): in force once every party has signed."""
        self._open("mediating")
        for term in terms:
            self._party(term["party"])
        signed = {s["party"] for s in signatures}
        unsigned = [i for i in range(len(self.parties)) if i not in signed]
        if unsigned:
            raise NotAllowed("signatures", "every party signs: missing "
                             + ", ".join(f"party {i}" for i in unsigned))
        signed_at = max(s["at"] for s in signatures)
        self.agreement = Agreement(facts, issues,
                                   tuple(Term(t["party"], t["obligation"], t["due"])
                                         for t in terms),
                                   tuple(Signature(s["party"], s["at"]) for s in signatures),
                                   signed_at, self.tier)
        self.status, self.settled_at = "agreed", now
        self.deadlines.pop("settle", None)
        self.deadlines["confirmation"] = signed_at + timing.days(timing.confirmation_days)
        self.deadlines["confirmation_reminder"] = signed_at + timing.days(
            timing.confirmation_reminder_days)
        for days in timing.follow_up_days:
            self.deadlines[f"follow_up:{days}"] = signed_at + timing.days(days)
        for i, term in enumerate(self.agreement.terms):
            self.deadlines[f"term:{i}"] = term.due
        self._audit(now, actor, "agreed", f"{len(terms)} terms, signed {signed_at.isoformat()}")
        self._step("dispute.agreed", now, actor, str(len(terms)))
        if not terms:
            self._close(actor, now)

    def term_performed(self, index, actor, now):
        self._open("agreed")
        if self.agreement is None or not 0 <= index < len(self.agreement.terms):
            raise NotAllowed("term", f"the agreement has no term {index}")
        terms = list(self.agreement.terms)
        if terms[index].performed_at is not None:
            return False
        terms[index] = replace(terms[index], performed_at=now)
        self.agreement = replace(self.agreement, terms=tuple(terms))
        self.deadlines.pop(f"term:{index}", None)
        self._audit(now, actor, "term_performed", str(index))
        self._step("dispute.term_performed", now, actor, str(index))
        if all(t.performed_at is not None for t in terms):
            self._close(actor, now)
        return True

    def _close(self, actor, now):
        self.status, self.closed_at = "closed", now
        self.deadlines.pop("settle", None)
        self._audit(now, actor, "closed", "every term performed")
        self._step("dispute.closed", now, actor, "performed")

    def kept_on_time(self) -> bool | None:
        """Whether every term of the agreement was performed by its due date (None without
        an agreement, or while one is still running and not late)."""
        if self.agreement is None:
            return None
        terms = self.agreement.terms
        if any(t.performed_at is not None and t.performed_at > t.due for t in terms):
            return False
        if all(t.performed_at is not None for t in terms):
            return True
        return None

    # --- deadlines ------------------------------------------------------------------------

    @property
    def next_due(self) -> datetime | None:
        return min(self.deadlines.values(), default=None)

    def deadlines_passed(self, timing, now) -> list[str]:
        """Act on every deadline due by `now`, each once: a tier's target passed without
        agreement escalates (at the panel it stays, flagged); an overdue term reopens the
        dispute at its tier; the others are events (a reminder, a follow-up visit due, a
        letter not sent). Returns the names acted on."""
        due = sorted((when, name) for name, when in self.deadlines.items() if when <= now)
        for when, name in due:
            del self.deadlines[name]
            self._audit(now, "deadline", "deadline_passed", name)
            self._step("dispute.deadline_passed", now, "deadline", name)
            if name == "settle" and self.status == "mediating":
                if self.tier != TIERS[-1]:
                    self.escalate("the tier's deadline to settle passed", "deadline", timing,
                                  now, by_deadline=True)
            elif name.startswith("term:") and self.status == "agreed":
                self.status = "mediating"
                self.tier_since = now
                self.deadlines["settle"] = now + timing.days(timing.settle_days)
                self._audit(now, "deadline", "reopened", f"{name} not performed in time")
                self._step("dispute.reopened", now, "deadline", name)
        return [name for _, name in due]

    # --- referrals to agencies (the panel) --------------------------------------------------

    def refer(self, agency, actor, now) -> Referral:
        self._open("mediating")
        if self.tier != "panel":
            raise NotAllowed("tier", "agencies are referred to from the panel tier")
        if agency not in PANEL_AGENCIES:
            raise NotAllowed("agency", f"must be one of {', '.join(PANEL_AGENCIES)}")
        if any(r.agency == agency and r.state in ("pending", "accepted")
               for r in self.referrals):
            raise NotAllowed("agency", f"{agency} already holds a referral of this dispute")
        referral = Referral(f"{self.id}-R{len(self.referrals) + 1}", agency, "pending", now,
                            actor)
        self.referrals.append(referral)
        self._audit(now, actor, "referred", agency)
        self._referral_step("referral.created", referral, now)
        return referral

    def act_on_referral(self, referral_id, agency, action, now, reason="", result=None):
        """The agency accepts, declines (with a reason) or reports done (successful or not,
        with a reason from the list)."""
        i, referral = self._referral(referral_id)
        if referral.agency != agency:
            raise ReferralNotFound(referral_id)
        allowed = {"accept": "pending", "decline": "pending", "done": "accepted"}
        if referral.state != allowed[action]:
            raise NotAllowed("action", f"a {referral.state} referral cannot be {action}ed"
                             if action != "done" else
                             f"only an accepted referral can be done (this one is "
                             f"{referral.state})")
        if action == "decline" and not reason.strip():
            raise NotAllowed("reason", "a declined referral says why")
        if action == "done":
            if result not in ("successful", "not_successful"):
                raise NotAllowed("result", "must be successful or not_successful")
            if reason not in REFERRAL_REASONS:
                raise NotAllowed("reason", f"must be one of {', '.join(REFERRAL_REASONS)}")
        state = {"accept": "accepted", "decline": "declined", "done": "done"}[action]
        referral = replace(referral, state=state, reason=reason, result=result, acted_at=now)
        self.referrals[i] = referral
        self._audit(now, agency, f"referral_{state}", f"{referral_id} {reason}".strip())
        self._referral_step(f"referral.{state}", referral, now)
        return referral

    def holds_referral(self, agency) -> bool:
        """An agency sees the parties only while it holds an accepted referral."""
        return any(r.agency == agency and r.state == "accepted" for r in self.referrals)

    def _referral(self, referral_id):
        for i, referral in enumerate(self.referrals):
            if referral.id == referral_id:
                return i, referral
        raise ReferralNotFound(referral_id)

    # --- helpers ----------------------------------------------------------------------------

    def _open(self, *statuses):
        if self.status not in (statuses or OPEN):
            if self.status not in OPEN:
                raise DisputeClosed(self.id, self.status)
            raise NotAllowed("status", f"not while the dispute is {self.status}")

    def _party(self, index):
        if not isinstance(index, int) or not 0 <= index < len(self.parties):
            raise NotAllowed("party", f"the dispute has no party {index}")

    def _end(self, now):
        self.closed_at = now
        self.deadlines = {k: v for k, v in self.deadlines.items() if k.startswith("letter:")}

    def _where(self):
        return self.id, self.enterprise_id, self.station_id

    def _audit(self, at, who, what, detail=""):
        self.audit.append(AuditEntry(at, who, what, detail))

    def _step(self, event_type, now, actor, detail, extra=""):
        self.events.append(DisputeStep(event_type, *self._where(), self.tier, self.status,
                                       detail, extra, actor, now))

    def _referral_step(self, event_type, referral, now):
        self.events.append(ReferralStep(event_type, self.id, self.enterprise_id, referral.id,
                                        referral.agency, referral.state,
                                        referral.reason if referral.state == "done" else "",
                                        referral.result, now))


def _facts(amount, parties, signals, repeats, kind) -> Facts:
    people = sum(p.headcount for p in parties if p.kind in ("workers", "individual"))
    return Facts(amount, people, frozenset(signals), repeats, kind)
