"""The registry's records in the kit's versioned collections, and the enterprise file's
timeline.

Every record kind is a kit Collection (see kit.collection): a change is written only if the
record is still the version it was loaded at, together with the events it recorded; a taken
unique field (credit code, badge number, grid code) is refused with the registry's own error
and writes nothing. Ids are strings (new ones from `new_id`).
"""
from bson import ObjectId

from contracts.events import REGISTRY_EVENTS, REGISTRY_SOURCE
from kit.collection import Collection, Events, Kind, UnitOfWork
from kit.errors import DuplicateRecord

from . import exceptions
from .domain import AssignmentHistory, Enterprise, Grid, Officer, Park, Station
from .responders import COVERAGE_GAPS, both_absent, coverage_gaps, seat_gaps


def _exists(record):
    return DuplicateRecord("id", record.id)


def _kind(table, record, not_found, indexed=lambda r: {}, indexes=(), duplicate=None):
    return Kind(table, record, not_found=not_found, exists=_exists,
                changed_meanwhile=exceptions.ChangedMeanwhile,
                indexed=indexed, indexes=indexes, duplicate=duplicate)


STATIONS = _kind("stations", Station, exceptions.StationNotFound)
PARKS = _kind("parks", Park, exceptions.ParkNotFound,
              indexed=lambda p: {"station_id": p.station_id}, indexes=(("station_id", False),))
GRIDS = _kind("grids", Grid, exceptions.GridNotFound,
              indexed=lambda g: {"code": g.code, "station_id": g.station_id},
              indexes=(("code", True), ("station_id", False)),
              duplicate=lambda g: exceptions.DuplicateGridCode("code", g.code))
ENTERPRISES = _kind(
    "enterprises", Enterprise, exceptions.EnterpriseNotFound,
    indexed=lambda e: {"credit_code": e.credit_code, "station_id": e.station_id,
                       "grid_id": e.grid_id, "level": e.level, "kind": e.kind},
    indexes=(("credit_code", True), ("station_id", False), ("grid_id", False),
             ("level", False)),
    duplicate=lambda e: exceptions.DuplicateCreditCode("credit_code", e.credit_code))
OFFICERS = _kind(
    "officers", Officer, exceptions.OfficerNotFound,
    indexed=lambda o: {"badge_number": o.badge_number, "station_id": o.station_id,
                       "role": o.role, "absent_until": o.absent_until()},
    indexes=(("badge_number", True), ("station_id", False), ("role", False),
             ("absent_until", False)),
    duplicate=lambda o: exceptions.DuplicateBadgeNumber("badge_number", o.badge_number))
# One document per enterprise: its whole assignment history. `holders` is indexed to find
# "which enterprises may this officer be responsible for" without a scan; `gaps` (the empty
# seats of the last version) and `latest_from` (when that version took effect) to count the
# coverage gaps for the gauges on the index.
ASSIGNMENTS = Kind("assignments", AssignmentHistory, not_found=exceptions.EnterpriseNotFound,
                   exists=_exists, changed_meanwhile=exceptions.AssignmentChangedMeanwhile,
                   indexed=lambda h: {"holders": list(h.holders),
                                      "gaps": seat_gaps(h.current()),
                                      "latest_from": h.current() and h.current().valid_from},
                   indexes=(("holders", False), ("gaps", False), ("latest_from", False)))

EVENTS = Events(REGISTRY_SOURCE, REGISTRY_EVENTS)
TIMELINE = "timeline"
_BY_ID = [("_id", 1)]  # ids from ObjectId sort in the order they were made


class Repository:
    """The registry's records, one collection per kind (`stations`, `parks`, `grids`,
    `enterprises`, `officers`, `assignments`), over a kit.tables database; their writes
    report the events they stored to `unit`."""

    def __init__(self, database, unit=None, events=EVENTS):
        self.unit = unit or UnitOfWork()

        def collection(kind):
            return Collection(database.table(kind.table), kind, events, self.unit)

        self.stations, self.parks, self.grids = (collection(STATIONS), collection(PARKS),
                                                 collection(GRIDS))
        self.enterprises, self.officers = collection(ENTERPRISES), collection(OFFICERS)
        self.assignments = collection(ASSIGNMENTS)
        self._timeline = database.table(TIMELINE)
        self._by_record = {Station: self.stations, Park: self.parks, Grid: self.grids,
                           Enterprise: self.enterprises, Officer: self.officers}

    def ensure_indexes(self):
        for collection in self._collections():
            collection.ensure_indexes()
        self._timeline.ensure_index([("enterprise_id", 1), ("time", -1)])

    def outbox_tables(self):
        return [collection.table for collection in self._collections()]

    def _collections(self):
        return (*self._by_record.values(), self.assignments)

    @staticmethod
    def new_id():
        return str(ObjectId())

    def of(self, record_cls):
        """The collection of a record kind (Station, Park, Grid, Enterprise, Officer)."""
        return self._by_record[record_cls]

    def page(self, record_cls, skip=0, limit=50, ids=None, **filters):
        """One page of records matching `filters` (None values ignored) and, given, `ids`,
        in the order they were made; and the total."""
        query = {name: value for name, value in filters.items() if value is not None}
        if ids is not None:
            query["_id"] = {"$in": list(ids)}
        return self.of(record_cls).list(query, sort=_BY_ID, skip=skip, limit=limit)

    def all(self, record_cls):
        return self.of(record_cls).all(sort=_BY_ID)

    # The reads below serve `responders` and `officer_reach`, which dispatch and the gateway
    # call on nearly every request: one query each, served by an index.

    def get_officers(self, officer_ids):
        """The officers among `officer_ids` that exist, by id."""
        wanted = [i for i in set(officer_ids) if i]
        if not wanted:
            return {}
        return {o.id: o for o in self.officers.all({"_id": {"$in": wanted}})}

    def officers_of_station(self, station_id, roles=None):
        query = {"station_id": station_id}
        if roles is not None:
            query["role"] = {"$in": list(roles)}
        return self.officers.all(query)

    def all_officers(self):
        return {o.id: o for o in self.officers.all()}

    def find_officer_by_badge(self, badge_number):
        return next(iter(self.officers.all({"badge_number": badge_number})), None)

    def find_enterprise_by_credit_code(self, credit_code):
        return next(iter(self.enterprises.all({"credit_code": credit_code})), None)

    # --- assignments ---------------------------------------------------------------------

    def history(self, enterprise_id):
        """The enterprise's assignment history (empty, version 0, before its first)."""
        history = self.assignments.find(enterprise_id)
        return AssignmentHistory(enterprise_id) if history is None else history

    def all_assignments(self):
        return {history.id: history for history in self.assignments.all()}

    def gap_figures(self, at, absent):
        """How many enterprises have each coverage gap at `at` (`absent`: the officers absent
        then, by id), counted on the indexes: the seat gaps of every history whose last
        version is in force, then, one by one, only the histories that changed after `at` and
        those held by an absent officer."""
        counts = {gap: self.assignments.count({"gaps": gap, "latest_from": {"$lte": at}})
                  for gap in COVERAGE_GAPS[:3]}
        unassigned = self.enterprises.count() - self.assignments.count()
        for gap in COVERAGE_GAPS[:3]:
            counts[gap] += unassigned
        counts["a_and_b_absent"] = 0
        for history in self.assignments.all({"latest_from": {"$gt": at}}):
            version = history.at(at)
            officers = self.get_officers(version.officer_ids() if version else ())
            for gap in coverage_gaps(version, officers, at):
                counts[gap] += 1
        if absent:
            for history in self.assignments.all({"holders": {"$in": sorted(absent)},
                                                 "latest_from": {"$lte": at}}):
                if both_absent(history.current(), absent, at):
                    counts["a_and_b_absent"] += 1
        return counts

    def officers_absent(self, at):
        """The officers absent at `at`, by id: among those absent until later, on the index."""
        return {o.id: o for o in self.officers.all({"absent_until": {"$gt": at}})
                if o.absent_at(at)}

    def assignments_held_by(self, officer_id):
        """The assignment histories that index `officer_id` as a holder."""
        return self.assignments.all({"holders": officer_id})

    # --- the enterprise file's timeline ----------------------------------------------------

    def record_timeline(self, envelope, enterprise_id, time):
        """Record an event on an enterprise's file; recording the same event twice (the same
        envelope id) is a no-op."""
        self._timeline.update(
            {"_id": envelope["id"]},
            {"$setOnInsert": {"enterprise_id": enterprise_id, "time": time,
                              "type": envelope["type"], "source": envelope["source"],
                              "data": envelope["data"]}},
            upsert=True)

    def timeline(self, enterprise_id, limit=200):
        """The enterprise's file entries, newest first."""
        rows = self._timeline.find({"enterprise_id": enterprise_id}, sort=[("time", -1)],
                                   limit=limit)
        return [{"event_id": r["_id"], "time": r["time"], "type": r["type"],
                 "source": r["source"], "data": r["data"]} for r in rows]
