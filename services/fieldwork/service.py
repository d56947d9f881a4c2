"""Field work's entrypoints: schema in, handler, schema out; its orders' deadlines on the kit's
clock, swept from the store; the work report's read model, kept from every service's events
as they arrive; its metrics."""
from datetime import timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer

from contracts.events import DISPATCH_EVENTS, EVENT_SCHEMAS
from contracts.fields import utcnow
from kit.deadlines import Deadlines, deadline_reached
from kit.errors import RecordNotFound, ServiceUnavailable, ValidationFailed
from kit.heap import SettledHeap
from kit.metrics import Metrics, counter, gauge
from kit.reliable import consume_in_batches, consume_reliably
from kit.rpc import TimedRpcProxy, rpc
from kit.schemas import dump, load, open_event, paged
from kit.storage import Storage

from . import handlers, schemas
from .dependencies import Places
from .figures import BINDINGS
from .store import Repository

EXPECTED = (ValidationFailed, RecordNotFound, ServiceUnavailable)
SWEEP_SECONDS = 5.0
FULL_SWEEP = timedelta(seconds=60)
DEFAULT_COUNTY = "county"

PATROLS = counter("liaison_patrols_recorded_total", "Patrols recorded, by kind.", ["kind"])
HAZARDS = counter("liaison_hazards_found_total", "Hazards found, by severity.", ["severity"])
OVERDUE = counter("liaison_hazard_orders_overdue_total",
                  "Rectification orders that passed their deadline unrectified.")
BY_STATUS = gauge("liaison_hazards", "Hazards by status.", ["status"])
FOLDED = counter("liaison_work_report_events_total",
                 "Events the work report's read model took in, by type.", ["type"])


def county(config):
    """This platform's county: what the work report's county figures are kept under."""
    return str(config.get("COUNTY") or DEFAULT_COUNTY)


class FieldworkService:
    name = "fieldwork"

    store = Storage(Repository)
    metrics = Metrics()
    heap = SettledHeap()
    registry = TimedRpcProxy("enterprise")
    deadlines = Deadlines()
    config = Config()

    @rpc
    def ping(self):
        return "pong"

    # --- the joint patrol team --------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def register_guard(self, data, actor, request_key=None):
        return dump(schemas.Guard, handlers.register_guard(
            self.store, Places(self.registry), load(schemas.GuardInput, data),
            load(schemas.Actor, actor)["id"], utcnow(), request_key))

    @rpc(expected_exceptions=EXPECTED)
    def get_guard(self, guard_id):
        return dump(schemas.Guard, self.store.guards.get(guard_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_guards(self, query=None, filters=None):
        filters = load(schemas.GuardFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list_guards(skip, limit, **filters),
                     schemas.Guard)

    # --- patrols ----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def record_patrol(self, data, actor, request_key=None):
        patrol = handlers.record_patrol(self.store, Places(self.registry),
                                        load(schemas.PatrolInput, data),
                                        load(schemas.Actor, actor)["id"], utcnow(), request_key)
        self._after()
        return dump(schemas.Patrol, patrol)

    @rpc(expected_exceptions=EXPECTED)
    def get_patrol(self, patrol_id):
        return dump(schemas.Patrol, self.store.patrols.get(patrol_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_patrols(self, query=None, filters=None):
        filters = load(schemas.PatrolFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list_patrols(skip, limit, **filters),
                     schemas.Patrol)

    # --- hazards ----------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def report_hazard(self, data, actor, request_key=None):
        hazard = handlers.report_hazard(self.store, Places(self.registry),
                                        load(schemas.HazardInput, data),
                                        load(schemas.Actor, actor), utcnow(), request_key)
        self._after()
        return dump(schemas.Hazard, hazard)

    @rpc(expected_exceptions=EXPECTED)
    def get_hazard(self, hazard_id):
        return dump(schemas.Hazard, self.store.hazards.get(hazard_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_hazards(self, query=None, filters=None):
        filters = load(schemas.HazardFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list_hazards(skip, limit, **filters),
                     schemas.Hazard)

    @rpc(expected_exceptions=EXPECTED)
    def report_rectified(self, hazard_id, actor):
        return dump(schemas.Hazard, handlers.report_rectified(
            self.store, hazard_id, load(schemas.Actor, actor)["id"], utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def verify_hazard(self, hazard_id, data, actor):
        hazard = handlers.verify_hazard(self.store, hazard_id,
                                        load(schemas.VerificationInput, data)["passed"],
                                        load(schemas.Actor, actor)["id"], utcnow())
        self._after(hazard)
        return dump(schemas.Hazard, hazard)

    @consume_reliably("fieldwork.verification_visits",
                      bindings=[("dispatch.events", "visit.planned"),
                                ("dispatch.events", "visit.merged")])
    def verification_visit(self, envelope):
        """Dispatch planned a visit: the hazard whose order asked for it keeps how it was
        planned (on its own, or merged into a visit already planned)."""
        handlers.verification_planned(self.store,
                                      open_event(envelope, DISPATCH_EVENTS)["data"])

    # --- outreach ---------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def record_outreach(self, data, actor, request_key=None):
        return dump(schemas.Outreach, handlers.record_outreach(
            self.store, Places(self.registry), load(schemas.OutreachInput, data),
            load(schemas.Actor, actor)["id"], utcnow(), request_key))

    @rpc(expected_exceptions=EXPECTED)
    def get_outreach(self, outreach_id):
        return dump(schemas.Outreach, self.store.outreach.get(outreach_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_outreach(self, query=None, filters=None):
        filters = load(schemas.OutreachFilter, filters or {})
        return paged(query, lambda skip, limit: self.store.list_outreach(skip, limit,
                                                                         **filters),
                     schemas.Outreach)

    # --- the work report --------------------------------------------------------------------

    @consume_in_batches("fieldwork.report_events", bindings=BINDINGS)
    def report_events(self, envelopes):
        """Every event the work report counts, from every service, folded into its read model
        as it arrives (those delivered together in one go); the same event twice counts once."""
        events = [open_event(envelope, EVENT_SCHEMAS) for envelope in envelopes]
        self.store.figures.apply(events, county(self.config),
                                 Places(self.registry).for_report)
        for event in events:
            FOLDED.labels(event["type"]).inc()

    @rpc(expected_exceptions=EXPECTED)
    def work_report(self, query):
        return dump(schemas.WorkReport, handlers.work_report(
            self.store, Places(self.registry), load(schemas.ReportQuery, query),
            county(self.config)))

    @rpc(expected_exceptions=EXPECTED)
    def work_report_document(self, query):
        """The report as printable HTML (the default) or PDF, labelled in Chinese or English."""
        return dump(schemas.Document, handlers.work_report_document(
            self.store, Places(self.registry), load(schemas.ReportDocumentQuery, query),
            county(self.config)))

    # --- deadlines ----------------------------------------------------------------------------

    @deadline_reached
    def deadline_reached(self, hazard_id):
        hazard, fired = handlers.fire_deadline(self.store, hazard_id, utcnow())
        if fired:
            OVERDUE.inc()
        elif hazard.next_due is not None:
            self.deadlines.schedule(hazard.id, hazard.next_due)

    @timer(interval=SWEEP_SECONDS, eager=True)
    def sweep_deadlines(self):
        """Put what came due on the clock; at start and every FULL_SWEEP, every pending
        order at its deadline (so a restart makes none late, and none fires twice: the
        handler decides from the store)."""
        self.deadlines.sweep(utcnow(), FULL_SWEEP, self.store.pending,
                             lambda now, since: self.store.due(now))

    @timer(interval=60, eager=True)
    def refresh_gauges(self):
        for status, count in self.store.hazard_counts().items():
            BY_STATUS.labels(status).set(count)

    # --- helpers ------------------------------------------------------------------------------

    def _after(self, hazard=None):
        """Arm each order's deadline (an order made, or `hazard`'s again after a failed
        verification); count what the worker wrote."""
        if hazard is not None and hazard.next_due is not None:
            self.deadlines.schedule(hazard.id, hazard.next_due)
        for event in self.store.unit.events:
            kind = getattr(event, "type", "")
            if kind == "patrol.recorded":
                PATROLS.labels(event.kind).inc()
            elif kind == "hazard.found":
                HAZARDS.labels(event.severity).inc()
            elif kind == "hazard.order_issued":
                self.deadlines.schedule(event.hazard_id, event.deadline)
