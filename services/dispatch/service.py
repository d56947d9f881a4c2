"""Dispatch's entrypoints: schema in, handler, schema out."""
import uuid
from datetime import timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer

from contracts.events import FIELDWORK_EVENTS, MEDIATION_EVENTS
from contracts.fields import utcnow
from kit.deadlines import Deadlines, deadline_reached
from kit.errors import RecordNotFound, ServiceUnavailable, ValidationFailed
from kit.heap import SettledHeap
from kit.reliable import consume_reliably
from kit.metrics import Metrics, counter, gauge, histogram
from kit.rpc import TimedRpcProxy, rpc
from kit.schemas import dump, load, open_event, paged
from kit.storage import Storage

from . import handlers, schemas
from .catalogue import SERVICES
from .dependencies import WhoResponds
from .domain import Policy
from .events import (Escalated, FailedOver, IncidentAcknowledged, NotificationIssued,
                     PageMissed)
from .store import Repository
from .visits import VisitPolicy

EXPECTED = (ValidationFailed, RecordNotFound, ServiceUnavailable)
SWEEP_SECONDS = 2.0
FULL_SWEEP = timedelta(seconds=60)

NOTIFICATIONS = counter("liaison_notifications_sent_total", "Notifications issued, by the "
                        "recipient's role in the case.", ["role"])
ACK_LATENCY = histogram("liaison_acknowledgement_latency_seconds",
                        "From a page to its acknowledgement, by role.", ["role"],
                        buckets=(1, 5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600))
MISSES = counter("liaison_pages_missed_total", "Pages not acknowledged in time, by role.",
                 ["role"])
FAILOVERS = counter("liaison_failovers_total", "Cases handed from A to B on a missed page.")
ESCALATIONS = counter("liaison_escalations_total", "Cases escalated up the ladder.")
OPEN_CASES = gauge("liaison_incidents", "Incidents by state.", ["state"])
OVERDUE = gauge("liaison_incidents_overdue", "Incidents whose acknowledgement deadline has "
                                             "passed without being acted on.")


def policy(config):
    """The acknowledgement windows (ACK_WINDOWS, seconds per priority) and TOP_REPEATS."""
    defaults = Policy()
    windows = dict(defaults.windows, **(config.get("ACK_WINDOWS") or {}))
    return Policy(windows, int(config.get("TOP_REPEATS", defaults.top_repeats)))


def _count(events):
    """Count what the events a worker wrote say happened."""
    for event in events:
        if isinstance(event, NotificationIssued):
            NOTIFICATIONS.labels(event.recipient.role).inc()
        elif isinstance(event, IncidentAcknowledged) and event.latency_seconds is not None:
            ACK_LATENCY.labels(event.role).observe(event.latency_seconds)
        elif isinstance(event, PageMissed):
            MISSES.labels(event.role).inc()
        elif isinstance(event, FailedOver):
            FAILOVERS.inc()
        elif isinstance(event, Escalated):
            ESCALATIONS.inc()


class DispatchService:
    name = "dispatch"

    store = Storage(Repository)
    metrics = Metrics()
    heap = SettledHeap()
    registry = TimedRpcProxy("enterprise")
    who_responds = WhoResponds()
    deadlines = Deadlines()
    config = Config()

    @rpc
    def ping(self):
        return "pong"

    # --- incidents ---------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def report_incident(self, data, reporter, request_key=None):
        """`request_key` (the caller's identity and Idempotency-Key) makes a retry of the same
        report, even one sent after its first try timed out, find the incident it made."""
        return self._done(handlers.report_incident(
            self.store, self.who_responds(self.registry.responders),
            load(schemas.IncidentInput, data), policy(self.config), utcnow(),
            load(schemas.Actor, reporter), request_key))

    @consume_reliably("dispatch.incident_reports", max_attempts=5)
    def report_from_queue(self, body):
        """Reports from other systems (JSON: the incident fields plus source and reference).
        A report that is refused, or fails five times, goes to dispatch.incident_reports.dead
        with its error."""
        self._after(handlers.report_incident(
            self.store, self.who_responds(self.registry.responders),
            load(schemas.ExternalReport, body), policy(self.config), utcnow()))

    @consume_reliably("dispatch.dispute_risks",
                      bindings=[("mediation.events", "dispute.risk_flagged")])
    def page_dispute_risk(self, envelope):
        """A dispute whose risk rose pages the station's leader (see
        handlers.report_dispute_risk); an event that cannot be read goes to
        dispatch.dispute_risks.dead with its error."""
        event = open_event(envelope, MEDIATION_EVENTS)
        self._after(handlers.report_dispute_risk(
            self.store, self.who_responds(self.registry.responders), event,
            policy(self.config), utcnow()))

    @consume_reliably("dispatch.dispute_links",
                      bindings=[("mediation.events", "dispute.registered")])
    def link_dispute(self, envelope):
        """A dispute made of an incident or a request is linked from it; an event naming a
        case that does not exist goes to dispatch.dispute_links.dead with its error."""
        event = open_event(envelope, MEDIATION_EVENTS)
        handlers.link_dispute(self.store, event, utcnow())

    @consume_reliably("dispatch.patrol_incidents",
                      bindings=[("fieldwork.events", "patrol.incident_raised")])
    def take_in_patrol_incident(self, envelope):
        """A patrol's finding is taken in as an incident reported by field work (see
        handlers.take_in_patrol_incident); an event that cannot be read, or names an
        enterprise the registry does not know, goes to dispatch.patrol_incidents.dead with
        its error."""
        event = open_event(envelope, FIELDWORK_EVENTS)
        self._after(handlers.take_in_patrol_incident(
            self.store, self.who_responds(self.registry.responders), event,
            policy(self.config), utcnow()))

    @consume_reliably("dispatch.overdue_orders",
                      bindings=[("fieldwork.events", "hazard.order_overdue")])
    def page_overdue_order(self, envelope):
        """A hazard's order past its deadline pages the station's leader (see
        handlers.report_overdue_order); an event that cannot be read goes to
        dispatch.overdue_orders.dead with its error."""
        event = open_event(envelope, FIELDWORK_EVENTS)
        self._after(handlers.report_overdue_order(
            self.store, self.who_responds(self.registry.responders), event,
            policy(self.config), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def get_incident(self, incident_id):
        return dump(schemas.Incident, self.store.incidents.get(incident_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_incidents(self, query=None, filters=None):
        filters = load(schemas.IncidentFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list_incidents(skip, limit, **filters),
                     schemas.Incident)

    @rpc(expected_exceptions=EXPECTED)
    def acknowledge(self, incident_id, command, officer_id):
        notification_id = load(schemas.AcknowledgementInput, command)["notification_id"]
        return self._done(handlers.acknowledge(self.store, incident_id, notification_id,
                                               officer_id, utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def move_incident(self, incident_id, command, actor):
        command = load(schemas.TransitionInput, command)
        return self._done(handlers.move_incident(
            self.store, incident_id, command["state"], load(schemas.Actor, actor),
            command["note"], utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def call_departments(self, incident_id, command, actor):
        return self._done(handlers.call_departments(
            self.store, incident_id, load(schemas.DepartmentsInput, command)["departments"],
            load(schemas.Actor, actor), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def department_acknowledges(self, incident_id, department, actor):
        return self._done(handlers.department_acknowledges(
            self.store, incident_id, department, load(schemas.Actor, actor), utcnow()))

    # --- enterprise requests (Open311-style) ---------------------------------------------

    @rpc
    def services(self):
        """The service catalogue: what an enterprise can ask for, with typed attributes."""
        return dump(schemas.ServiceDefinition, list(SERVICES.values()), many=True)

    @rpc(expected_exceptions=EXPECTED)
    def submit_request(self, data, actor, request_key=None):
        """`request_key` as for report_incident: a retry finds the request it made."""
        request = handlers.submit_request(
            self.store, self.who_responds(self.registry.responders),
            load(schemas.RequestInput, data), load(schemas.Actor, actor), utcnow(),
            request_key)
        return dump(schemas.ServiceRequest, request)

    @rpc(expected_exceptions=EXPECTED)
    def get_request(self, request_id):
        return dump(schemas.ServiceRequest, self.store.requests.get(request_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_requests(self, query=None, filters=None):
        filters = load(schemas.RequestFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list_requests(skip, limit, **filters),
                     schemas.ServiceRequest)

    @rpc(expected_exceptions=EXPECTED)
    def request_step(self, request_id, command, actor):
        request = handlers.request_step(self.store, request_id,
                                        load(schemas.RequestStepInput, command),
                                        load(schemas.Actor, actor), utcnow())
        return dump(schemas.ServiceRequest, request)

    # --- visits ("reachable when needed, no visits when not") --------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def plan_visit(self, data, officer_id):
        outcome = handlers.plan_visit(self.store, str(uuid.uuid4()),
                                      load(schemas.VisitInput, data), officer_id,
                                      VisitPolicy())
        return dump(schemas.VisitOutcome, {"outcome": outcome.kind,
                                           "visit": outcome.visit})

    @consume_reliably("dispatch.hazard_verifications",
                      bindings=[("fieldwork.events", "hazard.order_issued")])
    def plan_verification(self, envelope):
        """A hazard's order has its verification planned as a visit, never refused (see
        handlers.plan_verification); an event that cannot be read, or for an enterprise
        without an officer to verify it, goes to dispatch.hazard_verifications.dead with its
        error."""
        event = open_event(envelope, FIELDWORK_EVENTS)
        handlers.plan_verification(self.store, self.who_responds(self.registry.responders),
                                   event, VisitPolicy())

    @rpc(expected_exceptions=EXPECTED)
    def visits(self, enterprise_id):
        return dump(schemas.Visit, self.store.visits_to(enterprise_id), many=True)

    @rpc(expected_exceptions=EXPECTED)
    def visit_cadence(self):
        rows = handlers.cadence(self.store, self.registry.current_assignments(), utcnow())
        return dump(schemas.CadenceRow, rows, many=True)

    # --- deadlines: on time from the in-process clock, and swept from the store --------

    @deadline_reached
    def deadline_reached(self, incident_id):
        self._fire(incident_id)

    @timer(interval=SWEEP_SECONDS, eager=True)
    def sweep_deadlines(self):
        """Every deadline that came due and was not acted on (one set by another dispatch
        process) goes on the clock, to be acted on in a worker of its own, so each incident's
        pages go out as soon as its change is written. A sweep reads what came due since the
        previous one. The first (at start) and one every FULL_SWEEP put every pending
        deadline on the clock at its due time, due or not yet, so a restart makes none late."""
        self.deadlines.sweep(utcnow(), FULL_SWEEP,
                             lambda: self.store.deadlines.pending().items(),
                             lambda now, since: self.store.deadlines.due(now, since=since))

    def _fire(self, incident_id):
        incident = handlers.fire_deadline(self.store, incident_id, policy(self.config),
                                          utcnow())
        if incident is not None:
            self._after(incident)

    @timer(interval=60)
    def refresh_gauges(self):
        for state, count in self.store.incident_figures().items():
            OPEN_CASES.labels(state).set(count)
        OVERDUE.set(len(self.store.deadlines.due(utcnow())))

    def _done(self, incident):
        """After a change: the incident as an RPC answers it."""
        self._after(incident)
        return dump(schemas.Incident, incident)

    def _after(self, incident):
        """Arm the incident's next deadline on the clock and count what the worker wrote."""
        if incident.deadline is not None:
            self.deadlines.schedule(incident.id, incident.deadline)
        _count(self.store.unit.events)
