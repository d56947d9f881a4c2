"""Mediation's entrypoints: schema in, handler, schema out; its deadlines on the kit's clock,
swept from the store; its metrics."""
import time
from datetime import timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer

from contracts.events import DISPATCH_EVENTS
from contracts.fields import utcnow
from kit.deadlines import Deadlines, deadline_reached
from kit.errors import RecordNotFound, ServiceUnavailable, ValidationFailed, raised_as
from kit.heap import SettledHeap
from kit.metrics import Metrics, counter, gauge, histogram
from kit.reliable import consume_reliably
from kit.rpc import TimedRpcProxy, rpc
from kit.schemas import dump, load, open_event, paged
from kit.storage import Storage

from . import handlers, schemas
from .domain import Timing
from .events import DisputeGraded, DisputeStep
from .exceptions import CaseNotFound, InvalidDispute
from .letters import render_letter
from .store import Repository

EXPECTED = (ValidationFailed, RecordNotFound, ServiceUnavailable)
SWEEP_SECONDS = 5.0
PLACE_TTL = 300.0  # seconds an enterprise's place is reused for counting its incidents
_places = {}  # enterprise id -> (when asked, place)
FULL_SWEEP = timedelta(seconds=60)

BY_GRADE = gauge("liaison_disputes", "Disputes by grade and status.", ["grade", "status"])
DEADLINES_PASSED = counter("liaison_dispute_deadlines_passed_total",
                           "Dispute deadlines that passed, by kind.", ["deadline"])
# The missed kinds are counted from zero at start, so that the first one of a process's life
# is an increase too (the alert LiaisonMediationDeadlinesPassed watches them).
for _missed in ("settle", "term", "letter"):
    DEADLINES_PASSED.labels(_missed)
ESCALATIONS = counter("liaison_dispute_escalations_total",
                      "Disputes moved up a tier, by the tier left and how.", ["tier", "how"])
RISKS = counter("liaison_dispute_risks_flagged_total",
                "Disputes whose grade rose to high, critical or a flag.", ["grade"])
TIME_TO_SETTLE = histogram("liaison_dispute_days_to_settle", "Days from intake to agreement.",
                           buckets=(1, 3, 7, 14, 30, 60, 90, 180, 365))


def timing(config):
    """MEDIATION_TIMING (days; fractions allowed) over the defaults."""
    given = dict(config.get("MEDIATION_TIMING") or {})
    if "follow_up_days" in given:
        given["follow_up_days"] = tuple(given["follow_up_days"])
    return Timing(**given)


def _count(events):
    for event in events:
        if isinstance(event, DisputeGraded) and event.type == "dispute.risk_flagged":
            RISKS.labels(event.grade).inc()
        elif isinstance(event, DisputeStep):
            if event.type == "dispute.deadline_passed":
                DEADLINES_PASSED.labels(event.detail.split(":")[0]).inc()
            elif event.type == "dispute.escalated":
                ESCALATIONS.labels(event.extra, event.detail).inc()


class MediationService:
    name = "mediation"

    store = Storage(Repository)
    metrics = Metrics()
    heap = SettledHeap()
    registry = TimedRpcProxy("enterprise")
    dispatch = TimedRpcProxy("dispatch")
    deadlines = Deadlines()
    config = Config()

    @rpc
    def ping(self):
        return "pong"

    # --- intake -----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def register_dispute(self, data, actor, request_key=None):
        data = load(schemas.DisputeInput, data)
        return self._done(handlers.register_dispute(
            self.store, self._place(data["enterprise_id"]), data, load(schemas.Actor, actor),
            timing(self.config), utcnow(), request_key))

    @consume_reliably("mediation.dispute_reports", max_attempts=5)
    def register_from_queue(self, body):
        """Disputes from other systems. A report that is refused, or fails five times, goes
        to mediation.dispute_reports.dead with its error."""
        report = load(schemas.ExternalDisputeReport, body)
        self._after(handlers.register_reported(self.store, self._place(report["enterprise_id"]),
                                               report, timing(self.config), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def dispute_from_case(self, case_kind, case_id, data, actor):
        """Turn incident or request `case_id` into a dispute (once, however often asked)."""
        data = load(schemas.FromCaseInput, data)
        case = self._case(case_kind, case_id)
        return self._done(handlers.from_case(
            self.store, {"kind": case_kind, "id": case_id,
                         "description": case.get("description") or ""},
            case_kind, self._place(case["enterprise_id"]),
            dict(data, enterprise_id=case["enterprise_id"]), load(schemas.Actor, actor),
            timing(self.config), utcnow()))

    @consume_reliably("mediation.incidents",
                      bindings=[("dispatch.events", "incident.reported")])
    def count_incident(self, envelope):
        """Every incident reported around an enterprise, for the statistics' year-on-year
        figure; counted once per event, by its id."""
        event = open_event(envelope, DISPATCH_EVENTS)
        data = event["data"]
        self.store.record_incident(event["id"], self._place(data["enterprise_id"], cached=True),
                                   data["reported_at"])

    # --- reading ----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def get_dispute(self, dispute_id):
        return dump(schemas.Dispute, self.store.disputes.get(dispute_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_disputes(self, query=None, filters=None):
        filters = load(schemas.DisputeFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list(skip, limit, **filters),
                     schemas.Dispute)

    @rpc(expected_exceptions=EXPECTED)
    def letter(self, dispute_id, letter_id):
        """The risk warning letter as printable HTML."""
        return render_letter(self.store.disputes.get(dispute_id), letter_id)

    @rpc(expected_exceptions=EXPECTED)
    def statistics(self, query):
        query = load(schemas.StatisticsQuery, query)
        area = {k: query[k] for k in ("station_id", "park_id", "grid_id") if query.get(k)}
        return dump(schemas.Statistics, handlers.statistics(self.store, query["start"],
                                                             query["end"], area or None))

    # --- grading rules ----------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def grading_rules(self):
        return dump(schemas.GradingRules, self.store.current_rules())

    @rpc(expected_exceptions=EXPECTED)
    def revise_grading_rules(self, changes):
        return dump(schemas.GradingRules, handlers.revise_rules(
            self.store, load(schemas.GradingRulesInput, changes)))

    # --- steps --------------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def regrade(self, dispute_id, data, actor):
        return self._done(handlers.regrade(self.store, dispute_id,
                                           load(schemas.RegradeInput, data),
                                           load(schemas.Actor, actor), timing(self.config),
                                           utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def escalate(self, dispute_id, data, actor):
        data, who = load(schemas.EscalationInput, data), load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.escalate(data["reason"], who,
                                                           timing(self.config), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def extend(self, dispute_id, data, actor):
        data, who = load(schemas.ExtensionInput, data), load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.extend(data["days"], data["consents"], who,
                                                         utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def exclude(self, dispute_id, data, actor):
        data, who = load(schemas.ExclusionInput, data), load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.exclude(data["ground"], data["referred_for"],
                                                          who, utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def refuse(self, dispute_id, data, actor):
        data, who = load(schemas.RefusalInput, data), load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.refuse(data["party"], data["next_step"], who,
                                                         utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def record_session(self, dispute_id, data, actor):
        data, who = load(schemas.SessionInput, data), load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.record_session(
            data["kind"], data["at"], data["place"], data["attendees"], data["outcome"],
            data["notes"], who, utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def agree(self, dispute_id, data, actor):
        data, who = load(schemas.AgreementInput, data), load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.agree(
            data["facts"], data["issues"], data["terms"], data["signatures"], who,
            timing(self.config), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def term_performed(self, dispute_id, term, actor):
        who = load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.term_performed(term, who, utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def letter_sent(self, dispute_id, letter_id, actor):
        who = load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.letter_sent(letter_id, who, utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def refer(self, dispute_id, data, actor):
        data, who = load(schemas.ReferralInput, data), load(schemas.Actor, actor)["id"]
        return self._step(dispute_id, lambda d: d.refer(data["agency"], who, utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def act_on_referral(self, dispute_id, referral_id, data, agency):
        data = load(schemas.ReferralAction, data)
        return self._step(dispute_id, lambda d: d.act_on_referral(
            referral_id, agency, data["action"], utcnow(), data["reason"], data["result"]))

    # --- deadlines -----------------------------------------------------------------------------

    @deadline_reached
    def deadline_reached(self, dispute_id):
        dispute, fired = handlers.fire_deadlines(self.store, dispute_id, timing(self.config),
                                                 utcnow())
        if fired:
            self._after(dispute)
        elif dispute.next_due is not None:
            self.deadlines.schedule(dispute.id, dispute.next_due)

    @timer(interval=SWEEP_SECONDS, eager=True)
    def sweep_deadlines(self):
        """Put what came due on the clock; at start and every FULL_SWEEP, every pending
        deadline at its due time (so a restart makes none late, and none fires twice: the
        handler decides from the store)."""
        self.deadlines.sweep(utcnow(), FULL_SWEEP, self.store.pending,
                             lambda now, since: self.store.due(now))

    @timer(interval=60, eager=True)
    def refresh_gauges(self):
        for (grade, status), count in self.store.figures().items():
            BY_GRADE.labels(grade, status).set(count)

    # --- helpers ------------------------------------------------------------------------------

    def _place(self, enterprise_id, cached=False):
        """Where the enterprise is, from the registry (station, park, grid). `cached`: as the
        registry said within PLACE_TTL (for counting incidents, not for taking a dispute
        in)."""
        if cached:
            known = _places.get(enterprise_id)
            if known is not None and time.monotonic() - known[0] < PLACE_TTL:
                return known[1]
        try:
            enterprise = self.registry.get_enterprise(enterprise_id)
        except Exception as error:
            if raised_as(error, "EnterpriseNotFound"):
                raise InvalidDispute({"enterprise_id": [f"no enterprise with id "
                                                        f"{enterprise_id}"]}) from None
            raise
        place = {"enterprise_id": enterprise_id, "station_id": enterprise["station_id"],
                 "park_id": enterprise.get("park_id"), "grid_id": enterprise.get("grid_id")}
        _places[enterprise_id] = (time.monotonic(), place)
        return place

    def _case(self, case_kind, case_id):
        getter = {"incident": self.dispatch.get_incident,
                  "request": self.dispatch.get_request}.get(case_kind)
        if getter is None:
            raise InvalidDispute({"case_kind": ["must be incident or request"]})
        try:
            return getter(case_id)
        except Exception as error:
            if raised_as(error, "IncidentNotFound") or raised_as(error, "RequestNotFound"):
                raise CaseNotFound(case_id) from None
            raise

    def _step(self, dispute_id, step):
        return self._done(handlers.change(self.store, dispute_id, step))

    def _done(self, dispute):
        self._after(dispute)
        return dump(schemas.Dispute, dispute)

    def _after(self, dispute):
        """Arm the dispute's next deadline on the clock; count what the worker wrote."""
        if dispute.next_due is not None:
            self.deadlines.schedule(dispute.id, dispute.next_due)
        _count(self.store.unit.events)
        for event in self.store.unit.events:
            if getattr(event, "type", "") == "dispute.agreed" and dispute.settled_at:
                TIME_TO_SETTLE.observe((dispute.settled_at - dispute.registered_at)
                                       .total_seconds() / 86400)
