"""Field work's guards, patrols, hazards and outreach in its own database (see kit.collection
for the guarantees), and the work report's read model (services.fieldwork.figures).

Indexed: what listings filter on (enterprise, station, area, status, severity, a patrol's
members), what the deadline sweep looks for (`next_due`: an order's deadline while it awaits
rectification) and the verification visit a hazard's order asked dispatch to plan.
"""
from datetime import datetime

from contracts.events import FIELDWORK_EVENTS, FIELDWORK_SOURCE
from kit.collection import Collection, Events, Kind, UnitOfWork

from .domain import Guard, Hazard, Outreach, Patrol
from .figures import Figures
from .exceptions import (GuardNotFound, HazardNotFound, OutreachNotFound, PatrolNotFound,
                         RecordChangedMeanwhile, RecordExists)

_BY_DUE = [("next_due", 1)]
_EPOCH = datetime(1970, 1, 1)  # every deadline is after it: a range on the index


def _kind(table, record, not_found, indexed, indexes):
    return Kind(table, record, not_found=not_found, exists=lambda r: RecordExists(r.id),
                changed_meanwhile=RecordChangedMeanwhile, indexed=indexed, indexes=indexes)


GUARDS = _kind("guards", Guard, GuardNotFound,
               lambda g: {"enterprise_id": g.enterprise_id, "registered_at": g.registered_at},
               (([("enterprise_id", 1), ("registered_at", -1)], False),
                ([("registered_at", -1)], False)))
PATROLS = _kind("patrols", Patrol, PatrolNotFound,
                lambda p: {"kind": p.kind, "station_id": p.place.station_id,
                           "area_id": p.area_id, "start": p.start,
                           "member_ids": sorted({m.id for m in p.members})},
                (([("start", -1)], False), ([("station_id", 1), ("start", -1)], False),
                 ([("area_id", 1), ("start", -1)], False), ("member_ids", False),
                 ("kind", False)))
HAZARDS = _kind("hazards", Hazard, HazardNotFound,
                lambda h: {"enterprise_id": h.enterprise_id, "status": h.status,
                           "severity": h.severity, "found_at": h.found_at,
                           "next_due": h.next_due,
                           "visit_id": h.order.visit_id if h.order else None},
                (([("enterprise_id", 1), ("found_at", -1)], False), ([("found_at", -1)], False),
                 ("status", False), ("severity", False), ("next_due", False),
                 ("visit_id", False)))
OUTREACH = _kind("outreach", Outreach, OutreachNotFound,
                 lambda o: {"kind": o.kind, "station_id": o.place.station_id, "at": o.at},
                 (([("at", -1)], False), ([("station_id", 1), ("at", -1)], False),
                  ("kind", False)))
EVENTS = Events(FIELDWORK_SOURCE, FIELDWORK_EVENTS)


class Repository:
    def __init__(self, database, unit=None):
        self.unit = unit if unit is not None else UnitOfWork()
        self.guards = Collection(database.table(GUARDS.table), GUARDS, EVENTS, self.unit)
        self.patrols = Collection(database.table(PATROLS.table), PATROLS, EVENTS, self.unit)
        self.hazards = Collection(database.table(HAZARDS.table), HAZARDS, EVENTS, self.unit)
        self.outreach = Collection(database.table(OUTREACH.table), OUTREACH, EVENTS, self.unit)
        self.figures = Figures(database)

    def ensure_indexes(self):
        for collection in (self.guards, self.patrols, self.hazards, self.outreach):
            collection.ensure_indexes()
        self.figures.ensure_indexes()

    def outbox_tables(self):
        return [c.table for c in (self.guards, self.patrols, self.hazards, self.outreach)]

    # --- reads ----------------------------------------------------------------------------

    def list_guards(self, skip, limit, enterprise_id=None, enterprise_ids=None):
        return self.guards.list(_enterprise(enterprise_id, enterprise_ids),
                                sort=[("registered_at", -1)], skip=skip, limit=limit)

    def list_patrols(self, skip, limit, kind=None, station_id=None, area_id=None,
                     officer_id=None):
        query = {k: v for k, v in (("kind", kind), ("station_id", station_id),
                                   ("area_id", area_id), ("member_ids", officer_id)) if v}
        return self.patrols.list(query, sort=[("start", -1)], skip=skip, limit=limit)

    def list_hazards(self, skip, limit, enterprise_id=None, enterprise_ids=None, status=None,
                     severity=None):
        query = _enterprise(enterprise_id, enterprise_ids)
        query.update({k: v for k, v in (("status", status), ("severity", severity)) if v})
        return self.hazards.list(query, sort=[("found_at", -1)], skip=skip, limit=limit)

    def list_outreach(self, skip, limit, kind=None, station_id=None):
        query = {k: v for k, v in (("kind", kind), ("station_id", station_id)) if v}
        return self.outreach.list(query, sort=[("at", -1)], skip=skip, limit=limit)

    def guards_named(self, guard_ids):
        """The guards among `guard_ids` that are registered, by id."""
        return {g.id: g for g in self.guards.all({"_id": {"$in": sorted(set(guard_ids))}})}

    def hazard_verified_by_visit(self, visit_id):
        """The id of the hazard whose order asked for visit `visit_id`, or None."""
        rows = self.hazards.table.find({"visit_id": visit_id}, limit=1)
        return rows[0]["_id"] if rows else None

    def due(self, now, limit=500):
        """Ids of hazards whose order's deadline has come by `now`, earliest first."""
        rows = self.hazards.table.find({"next_due": {"$lte": now}}, sort=_BY_DUE,
                                       limit=limit)
        return [row["_id"] for row in rows]

    def pending(self):
        """(id, deadline) of every order awaiting rectification: to put on the clock."""
        return [(row["_id"], row["next_due"]) for row in
                self.hazards.table.find({"next_due": {"$gte": _EPOCH}})]

    def hazard_counts(self):
        """How many hazards there are in each status, for the gauges."""
        return self.hazards.table.tally({}, "status")


def _enterprise(enterprise_id, enterprise_ids):
    if enterprise_ids is None:
        return {"enterprise_id": enterprise_id} if enterprise_id else {}
    ids = sorted(set(enterprise_ids))
    if enterprise_id:
        ids = [enterprise_id] if enterprise_id in ids else []
    return {"enterprise_id": {"$in": ids}}
