"""Dispatch's repository: incidents, service requests and visit books as kit collections, and
the `deadlines` index table.

Guarantees, on every backend (kit.tables), beside the collections' own (kit.collection: a
change is written only if the aggregate is still at the version it was loaded at, with its
events, so an acknowledgement and a deadline never both win):
- Each pending acknowledgement deadline has a row in `deadlines` (a small table, swept
  periodically) that is never later than the incident's own deadline: it is written before
  the incident on intake (only ever moved earlier there) and moved after it on change. A
  stale row is harmless: the sweep finds the incident has nothing due and corrects or drops
  it (handlers.fire_deadline).
- Listings are newest first and filter on indexed fields only.
- The incidents in each state (for the gauges) are kept in one `figures` document, moved
  after each write that changes a state, so nothing counts the incidents (on the embedded
  store a count reads every document it matches). Not in the incident's own write: a process
  killed between the two leaves the figures off by that one change.
"""
from contracts.clock import epoch_seconds
from contracts.events import DISPATCH_EVENTS, DISPATCH_SOURCE
from kit.collection import Collection, Events, Kind, UnitOfWork
from kit.errors import RecordNotFound

from .domain import STATES, Incident
from .exceptions import (ChangedMeanwhile, IncidentExists, IncidentNotFound, RequestExists,
                         RequestNotFound)
from .service_requests import ServiceRequest
from .visits import VisitBook

EVENTS = Events(DISPATCH_SOURCE, DISPATCH_EVENTS)


def _busy(field):
    return lambda aggregate_id: ChangedMeanwhile({field: ["too many concurrent changes; "
                                                          "try again"]})


INCIDENTS = Kind(
    "incidents", Incident, not_found=IncidentNotFound,
    exists=lambda i: IncidentExists({"id": [f"incident {i.id} already exists"]}),
    changed_meanwhile=_busy("incident_id"),
    indexed=lambda i: {"enterprise_id": i.enterprise_id, "state": i.state,
                       "reported_at": i.reported_at,
                       "officer_ids": sorted(i.notified_officer_ids())},
    indexes=(([("enterprise_id", 1), ("reported_at", -1)], False),
             ([("reported_at", -1)], False), ("officer_ids", False), ("state", False)))


def _routed_officer(request):
    routed = request.routed_to
    return routed.target if routed is not None and routed.kind == "officer" else None


REQUESTS = Kind(
    "requests", ServiceRequest, not_found=RequestNotFound,
    exists=lambda r: RequestExists({"id": [f"request {r.id} already exists"]}),
    changed_meanwhile=_busy("request_id"),
    indexed=lambda r: {"enterprise_id": r.enterprise_id, "status": r.status,
                       "requested_at": r.requested_at, "routed_officer": _routed_officer(r)},
    indexes=(([("enterprise_id", 1), ("requested_at", -1)], False),
             ([("requested_at", -1)], False), ("status", False), ("routed_officer", False)))

# A book is always changed with `create`, never looked up or added on its own.
VISIT_BOOKS = Kind(
    "visit_books", VisitBook, not_found=RecordNotFound,
    exists=lambda b: ChangedMeanwhile({"enterprise_id": ["planned meanwhile; try again"]}),
    changed_meanwhile=_busy("enterprise_id"))

MAX_SLOTS = 600  # a longer look back is one range query instead


class Deadlines:
    """One row per incident waiting for an acknowledgement: when its deadline is due, and the
    same as a whole second (`slot`), so "what came due in the last few seconds" is a few exact
    lookups on an index rather than a range (see `due`)."""

    def __init__(self, table):
        self.table = table

    def ensure_indexes(self):
        self.table.ensure_index("due")
        self.table.ensure_index("slot")

    def set(self, incident_id, due, only_earlier=False):
        """Set the row to `due`; `only_earlier`: only where no row is due as early (the slot
        grows with the due time, so the smaller of each is the same row's)."""
        row = {"due": due, "slot": _slot(due)}
        self.table.update({"_id": incident_id}, {"$min" if only_earlier else "$set": row},
                          upsert=True)

    def follow(self, incident):
        """Put the row where the stored incident's deadline is (none: no row)."""
        if incident.deadline is not None:
            self.set(incident.id, incident.deadline)
        else:
            self.drop(incident.id)

    def drop(self, incident_id):
        self.table.delete({"_id": incident_id})

    def due(self, now, limit=1000, since=None):
        """Incident ids whose row has come due, earliest first. With `since`, only rows that
        came due from then on (to the second): one lookup on the `slot` index per second,
        which stays cheap however many deadlines are pending; a sweep without `since` (a
        range on `due`) finds the rest."""
        if since is None or _slot(now) - _slot(since) > MAX_SLOTS:
            rows = self.table.find({"due": {"$lte": now}}, sort=[("due", 1)], limit=limit)
            return [r["_id"] for r in rows]
        rows = [r for slot in range(_slot(since), _slot(now) + 1)
                for r in self.table.find({"slot": slot}) if r["due"] <= now]
        return [r["_id"] for r in sorted(rows, key=lambda r: r["due"])[:limit]]

    def pending(self):
        """Every row's due time, by incident id."""
        return {r["_id"]: r["due"] for r in self.table.find()}


def _slot(moment):
    """The whole UTC second of a naive UTC datetime."""
    return epoch_seconds(moment)


class Incidents(Collection):
    """The incidents collection, keeping each incident's deadline row in step with it: every
    insert (add, create_once, a first save) goes through `_insert`, every change through
    `save`."""

    def __init__(self, table, deadlines, figures, unit):
        super().__init__(table, INCIDENTS, EVENTS, unit)
        self.deadlines = deadlines
        self.figures = figures
        self.loaded_states = {}  # (id, version) -> the state it was loaded in

    def _load(self, row):
        self.loaded_states[(row["_id"], row["version"])] = row["state"]
        return super()._load(row)

    def _insert(self, incident):
        if incident.deadline is not None:  # before the incident, never later than its own
            self.deadlines.set(incident.id, incident.deadline, only_earlier=True)
        inserted = super()._insert(incident)
        if inserted:
            self.figures.moved(None, incident.state)
        return inserted

    def save(self, incident):
        if incident.version == 0:
            return self._insert(incident)
        before = self.loaded_states.pop((incident.id, incident.version), None)
        saved = super().save(incident)
        if saved:
            self.deadlines.follow(incident)
            if before is not None and before != incident.state:
                self.figures.moved(before, incident.state)
        return saved


class Figures:
    """How many incidents are in each state, kept in one document rather than counted."""

    KEY = "incidents"

    def __init__(self, table):
        self.table = table

    def moved(self, before, after):
        """One incident went from state `before` (None: a new one) to `after`."""
        change = {f"states.{after}": 1}
        if before is not None:
            change[f"states.{before}"] = -1
        self.table.update({"_id": self.KEY}, {"$inc": change}, upsert=True)

    def states(self):
        row = self.table.get(self.KEY) or {}
        return {state: (row.get("states") or {}).get(state, 0) for state in STATES}

    def count_once(self, incidents):
        """Count the incidents, once, where the figures were never kept (a store from before
        them): the one time every incident is read."""
        if self.table.get(self.KEY) is not None:
            return
        counted = dict.fromkeys(STATES, 0)
        for row in incidents.find():
            counted[row["state"]] = counted.get(row["state"], 0) + 1
        self.table.update({"_id": self.KEY}, {"$setOnInsert": {"states": counted}},
                          upsert=True)


class Repository:
    """Dispatch's storage over one database (kit.tables); writes report to `unit`."""

    def __init__(self, database, unit=None):
        self.unit = unit if unit is not None else UnitOfWork()
        self.deadlines = Deadlines(database.table("deadlines"))
        self.figures = Figures(database.table("figures"))
        self.incidents = Incidents(database.table(INCIDENTS.table), self.deadlines,
                                   self.figures, self.unit)
        self.requests = Collection(database.table(REQUESTS.table), REQUESTS, EVENTS, self.unit)
        self.visit_books = Collection(database.table(VISIT_BOOKS.table), VISIT_BOOKS, EVENTS,
                                      self.unit)

    def ensure_indexes(self):
        self.deadlines.ensure_indexes()
        for collection in self._collections():
            collection.ensure_indexes()
        self.figures.count_once(self.incidents.table)

    def outbox_tables(self):
        return [collection.table for collection in self._collections()]

    def _collections(self):
        return (self.incidents, self.requests, self.visit_books)

    # --- incidents -----------------------------------------------------------------------

    def list_incidents(self, skip=0, limit=50, enterprise_id=None, officer_id=None,
                       state=None, reach=None):
        """Newest first. `reach` ({enterprise_ids, officer_id}) keeps only the incidents of
        those enterprises or paged to that officer; it narrows the other filters, never
        widens them."""
        query = _reach(reach, "officer_ids")
        query.update({k: v for k, v in (("enterprise_id", enterprise_id),
                                        ("officer_ids", officer_id), ("state", state))
                      if v is not None})
        return self.incidents.list(query, sort=[("reported_at", -1)], skip=skip, limit=limit)

    def incident_figures(self):
        """How many incidents are in each state (every state, zeros too), for the gauges: one
        document read (see Figures)."""
        return self.figures.states()

    # --- requests and visits ---------------------------------------------------------------

    def list_requests(self, skip=0, limit=50, enterprise_id=None, status=None, reach=None):
        """Newest first. `reach` ({enterprise_ids, officer_id}) keeps only the requests of
        those enterprises or routed to that officer."""
        query = _reach(reach, "routed_officer")
        query.update({k: v for k, v in (("enterprise_id", enterprise_id), ("status", status))
                      if v is not None})
        return self.requests.list(query, sort=[("requested_at", -1)], skip=skip, limit=limit)

    def visits_to(self, enterprise_id):
        """The visits planned to one enterprise (none yet: an empty list)."""
        book = self.visit_books.find(enterprise_id)
        return book.visits if book is not None else []

    def all_visits(self):
        return [visit for book in self.visit_books.all() for visit in book.visits]


def _reach(reach, officer_field):
    """The query part that keeps a listing to what a caller's scope reaches."""
    if reach is None:
        return {}
    either = [{"enterprise_id": {"$in": list(reach.get("enterprise_ids") or [])}}]
    if reach.get("officer_id"):
        either.append({officer_field: reach["officer_id"]})
    return {"$or": either}
