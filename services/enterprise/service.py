"""The enterprise registry's entrypoints: schema in, handler, schema out."""
from nameko.timer import timer

from contracts.events import REGISTRY_EVENTS
from contracts.fields import utcnow
from kit.errors import DuplicateRecord, RecordNotFound, ValidationFailed
from kit.heap import SettledHeap
from kit.metrics import Metrics, gauge
from kit.reliable import consume_reliably
from kit.rpc import rpc
from kit.schemas import dump, load, open_event, paged
from kit.storage import Storage

from . import handlers, imports, schemas
from .domain import Enterprise, Grid, Officer, Park, Station
from .exceptions import ChangedMeanwhile
from .store import Repository

EXPECTED = (ValidationFailed, RecordNotFound, DuplicateRecord, ChangedMeanwhile)

ENTERPRISES = gauge("liaison_enterprises", "Registered enterprises and projects.", ["level"])
ABSENT = gauge("liaison_officers_absent", "Officers absent (off duty or on leave) right now.")
GAPS = gauge("liaison_coverage_gaps", "Enterprises with a gap in their cover, by gap.", ["gap"])

_PLACES = {"station": (Station, schemas.StationInput, schemas.Station),
           "park": (Park, schemas.ParkInput, schemas.Park),
           "grid": (Grid, schemas.GridInput, schemas.Grid)}
_CREATE_PLACE = {"station": handlers.create_station, "park": handlers.create_park,
                 "grid": handlers.create_grid}


def _page(repo, record_cls, out_schema, query, filters=None):
    return paged(query, lambda skip, limit: repo.page(record_cls, skip, limit, **(filters or {})),
                 out_schema)


def _moment(at):
    """The `at` of a query (an empty value is refused as not a date-time), or now."""
    return load(schemas.ResponderQuery, {} if at is None else {"at": at})["at"] or utcnow()


FILED_EVENTS = ("enterprise.registered", "enterprise.updated", "assignment.changed")


class EnterpriseService:
    name = "enterprise"

    store = Storage(Repository)
    metrics = Metrics()
    heap = SettledHeap()

    @rpc
    def ping(self):
        return "pong"

    # --- stations, parks, grids: one set of entrypoints, `kind` says which ---------------

    @rpc(expected_exceptions=EXPECTED)
    def create_place(self, kind, data):
        _, in_schema, out_schema = _place(kind)
        place = _CREATE_PLACE[kind](self.store, load(in_schema, data))
        return dump(out_schema, place)

    @rpc(expected_exceptions=EXPECTED)
    def update_place(self, kind, place_id, changes):
        record_cls, in_schema, out_schema = _place(kind)
        changed = handlers.update_place(self.store, record_cls, place_id,
                                        load(in_schema, changes, partial=True))
        return dump(out_schema, changed)

    @rpc(expected_exceptions=EXPECTED)
    def get_place(self, kind, place_id):
        record_cls, _, out_schema = _place(kind)
        return dump(out_schema, self.store.of(record_cls).get(place_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_places(self, kind, query=None):
        record_cls, _, out_schema = _place(kind)
        return _page(self.store, record_cls, out_schema, query or {})

    # --- enterprises ----------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def register_enterprise(self, data):
        enterprise = handlers.register_enterprise(self.store,
                                                  load(schemas.EnterpriseInput, data))
        return dump(schemas.Enterprise, enterprise)

    @rpc(expected_exceptions=EXPECTED)
    def update_enterprise(self, enterprise_id, changes):
        enterprise = handlers.update_enterprise(
            self.store, enterprise_id, load(schemas.EnterpriseInput, changes, partial=True))
        return dump(schemas.Enterprise, enterprise)

    @rpc(expected_exceptions=EXPECTED)
    def get_enterprise(self, enterprise_id):
        return dump(schemas.Enterprise, self.store.enterprises.get(enterprise_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_enterprises(self, query=None, filters=None):
        return _page(self.store, Enterprise, schemas.Enterprise, query or {},
                     load(schemas.EnterpriseFilter, filters or {}))

    @rpc(expected_exceptions=EXPECTED)
    def enterprise_file(self, enterprise_id):
        return dump(schemas.EnterpriseFile, handlers.enterprise_file(self.store, enterprise_id,
                                                                  utcnow()))

    # --- officers -------------------------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def register_officer(self, data):
        officer = handlers.register_officer(self.store, load(schemas.OfficerInput, data))
        return dump(schemas.Officer, officer)

    @rpc(expected_exceptions=EXPECTED)
    def update_officer(self, officer_id, changes):
        officer = handlers.update_officer(
            self.store, officer_id, load(schemas.OfficerInput, changes, partial=True))
        return dump(schemas.Officer, officer)

    @rpc(expected_exceptions=EXPECTED)
    def get_officer(self, officer_id):
        return dump(schemas.Officer, self.store.officers.get(officer_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_officers(self, query=None, filters=None):
        return _page(self.store, Officer, schemas.Officer, query or {},
                     load(schemas.OfficerFilter, filters or {}))

    @rpc(expected_exceptions=EXPECTED)
    def change_availability(self, officer_id, command):
        officer = handlers.change_availability(
            self.store, officer_id, load(schemas.AvailabilityInput, command), utcnow())
        return dump(schemas.Officer, officer)

    # --- assignments and responders ------------------------------------------------------

    @rpc(expected_exceptions=EXPECTED)
    def assign(self, enterprise_id, command, actor=""):
        now = utcnow()
        history = handlers.assign(self.store, enterprise_id,
                                  load(schemas.AssignmentInput, command), actor, now)
        return dump(schemas.Assignments, handlers.assignments_view(history, now))

    @rpc(expected_exceptions=EXPECTED)
    def get_assignments(self, enterprise_id):
        return dump(schemas.Assignments,
                    handlers.assignments_of(self.store, enterprise_id, utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def current_assignments(self):
        """The assignment in force now for every enterprise that has one."""
        return [dict(dump(schemas.Assignment, version), enterprise_id=enterprise_id)
                for enterprise_id, version in handlers.assignments_in_force(self.store,
                                                                            utcnow())]

    @rpc(expected_exceptions=EXPECTED)
    def officer_reach(self, officer_id):
        """The seats an officer holds now, its departments and colleagues (for access checks)."""
        return dump(schemas.OfficerReach, handlers.officer_reach(self.store, officer_id,
                                                                 utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def responders(self, enterprise_id, at=None):
        """Who responds for the enterprise at `at` (default now): A, B, chiefs, station."""
        moment = _moment(at)
        return dump(schemas.Responders, handlers.responders(self.store, enterprise_id, moment))

    @rpc(expected_exceptions=EXPECTED)
    def coverage(self, at=None):
        moment = _moment(at)
        return dump(schemas.Coverage, handlers.coverage(self.store, moment))

    @rpc(expected_exceptions=EXPECTED)
    def import_csv(self, command, actor=""):
        command = load(schemas.ImportInput, command)
        report = imports.import_csv(self.store, command["kind"], command["text"],
                                    command["mode"], actor, utcnow())
        return dump(schemas.ImportReport, report)

    # --- the enterprise file records the registry's own events ---------------------------

    @consume_reliably("enterprise.file", bindings=[("enterprise.events", kind)
                                                   for kind in FILED_EVENTS])
    def file_event(self, envelope):
        """A registration, update or assignment change goes on the enterprise's file; an
        event that cannot be filed goes to enterprise.file.dead with its error."""
        self._file(envelope)

    def _file(self, envelope):
        """Idempotent: the event id is the timeline entry's key."""
        opened = open_event(envelope, REGISTRY_EVENTS)
        handlers.record_on_file(self.store, envelope, opened)

    # --- domain gauges -------------------------------------------------------------------

    @timer(interval=15)  # a few counts on the indexes (handlers.registry_figures)
    def refresh_gauges(self):
        figures = handlers.registry_figures(self.store, utcnow())
        for level, count in figures["enterprises_by_level"].items():
            ENTERPRISES.labels(level).set(count)
        ABSENT.set(figures["officers_absent"])
        for gap, count in figures["coverage_gaps"].items():
            GAPS.labels(gap).set(count)


def _place(kind):
    try:
        return _PLACES[kind]
    except KeyError:
        raise ValidationFailed({"kind": [f"must be one of {', '.join(_PLACES)}"]}) from None
