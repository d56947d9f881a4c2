"""Mediation's disputes and grading rules in its own database (see kit.collection for the
guarantees).

Indexed: what listings filter on (enterprise, status, grade, tier, the agencies referred to),
what a sweep looks for (`next_due`, the earliest pending deadline), the parties' keys (for
repeated disputes between the same parties) and what the statistics count per area and
period, so that the Weng'an table for a province-year is a few counts on the indexes.
"""
from dataclasses import asdict
from datetime import datetime

from contracts.events import MEDIATION_EVENTS, MEDIATION_SOURCE
from contracts.vocabulary import DISPUTE_STATUSES
from kit.collection import Collection, Events, Kind, UnitOfWork
from kit.tables import DuplicateKey

from .domain import SETTLED, Dispute
from .exceptions import DisputeChangedMeanwhile, DisputeExists, DisputeNotFound
from .grading import RuleSet

AREAS = ("station_id", "park_id", "grid_id")
COUNTED = ("status", "risk", "meetings", "at_start_tier", "days_to_settle", "kept")
_EPOCH = datetime(1970, 1, 1)


def _indexed(d: Dispute) -> dict:
    settled = d.status in SETTLED and d.settled_at is not None
    return {"enterprise_id": d.enterprise_id, "station_id": d.station_id,
            "park_id": d.park_id, "grid_id": d.grid_id, "registered_at": d.registered_at,
            "status": d.status, "grade": d.grade.grade, "tier": d.tier,
            "next_due": d.next_due, "party_keys": sorted({p.key() for p in d.parties}),
            "agencies": sorted({r.agency for r in d.referrals}),
            "risk": d.risk_found,
            "at_start_tier": (d.agreement.tier == d.start_tier) if settled and d.agreement
            else None,
            "days_to_settle": (d.settled_at - d.registered_at).days if settled else None,
            "kept": d.kept_on_time(),
            "meetings": sum(1 for s in d.sessions if s.kind == "analysis_meeting")}


DISPUTES = Kind(
    "disputes", Dispute, not_found=DisputeNotFound, exists=lambda d: DisputeExists(d.id),
    changed_meanwhile=DisputeChangedMeanwhile, indexed=_indexed,
    indexes=(([("enterprise_id", 1), ("registered_at", -1)], False),
             ([("registered_at", -1)], False),
             *(([(area, 1), ("registered_at", -1)], False) for area in AREAS),
             ("status", False), ("grade", False), ("tier", False), ("next_due", False),
             ("party_keys", False), ("agencies", False), ("risk", False),
             # covers every count of the statistics over a period: answered from the index
             # alone, without reading the disputes (a covered query on MongoDB too)
             ([(field, 1) for field in ("registered_at", *COUNTED)], False)))
EVENTS = Events(MEDIATION_SOURCE, MEDIATION_EVENTS)
NEWEST_FIRST = [("registered_at", -1)]


class Repository:
    def __init__(self, database, unit=None):
        self.unit = unit if unit is not None else UnitOfWork()
        self.disputes = Collection(database.table(DISPUTES.table), DISPUTES, EVENTS, self.unit)
        self.rules = database.table("grading_rules")
        self.incidents = database.table("incidents")

    def ensure_indexes(self):
        self.disputes.ensure_indexes()
        self.incidents.ensure_index([("reported_at", 1)])
        for area in AREAS:
            self.incidents.ensure_index([(area, 1), ("reported_at", 1)])

    # --- incidents around the enterprises (from dispatch's events) -------------------------

    def record_incident(self, event_id, place, reported_at):
        """Count an incident reported on an enterprise at `place`; the same event twice
        counts once (its id is the row's)."""
        self.incidents.update({"_id": event_id},
                              {"$setOnInsert": {**{a: place.get(a) for a in AREAS},
                                                "enterprise_id": place["enterprise_id"],
                                                "reported_at": reported_at}}, upsert=True)

    def incidents_between(self, start, end, area=None):
        return self.incidents.count(dict(area or {},
                                         reported_at={"$gte": start, "$lt": end}))

    def outbox_tables(self):
        return [self.disputes.table]

    # --- grading rules --------------------------------------------------------------------

    def current_rules(self) -> RuleSet:
        """The newest version of the grading rules (version 1, the defaults, until revised)."""
        rows = self.rules.find({}, sort=[("_id", -1)], limit=1)
        return _rules(rows[0]["rules"]) if rows else RuleSet()

    def store_rules(self, rules: RuleSet) -> bool:
        """Keep a new version; False if that version was stored meanwhile."""
        try:
            self.rules.insert({"_id": rules.version, "rules": _plain(asdict(rules))})
        except DuplicateKey:
            return False
        return True

    # --- reads ----------------------------------------------------------------------------

    def earlier_between(self, parties, since, until=None, but=None) -> int:
        """How many disputes taken in during [since, until) had a party of each side in
        common with `parties` (party.key())."""
        sides = {side: {p.key() for p in parties if p.side == side}
                 for side in ("applicant", "respondent")}
        found = 0
        for dispute in self.disputes.all({"party_keys": {"$in": sorted(sides["applicant"])},
                                          "registered_at": {"$gte": since,
                                                            **({"$lt": until} if until
                                                               else {})}}):
            theirs = {side: {p.key() for p in dispute.parties if p.side == side}
                      for side in ("applicant", "respondent")}
            same = (sides["applicant"] & theirs["applicant"]
                    and sides["respondent"] & theirs["respondent"]) or \
                (sides["applicant"] & theirs["respondent"]
                 and sides["respondent"] & theirs["applicant"])
            if same and dispute.id != but:
                found += 1
        return found

    def due(self, now, limit=500):
        """Ids of disputes with a deadline due by `now`, earliest first (on the index)."""
        rows = self.disputes.table.find({"next_due": {"$lte": now}}, sort=[("next_due", 1)],
                                        limit=limit)
        return [row["_id"] for row in rows]

    def pending(self):
        """(id, next due) of every dispute with a deadline pending: to put on the clock."""
        return [(row["_id"], row["next_due"]) for row in
                self.disputes.table.find({"next_due": {"$gte": _EPOCH}})]

    def figures(self):
        """How many disputes there are of each (grade, status), for the gauges: one count
        on the indexes per status."""
        return {(grade, status): n for status in DISPUTE_STATUSES
                for grade, n in self.disputes.table.tally({"status": status}, "grade").items()}

    def list(self, skip, limit, **filters):
        return self.disputes.list(_query(filters), sort=NEWEST_FIRST, skip=skip, limit=limit)

    def statistics(self, start, end, area=None):
        """Counts for the Weng'an table over disputes taken in during [start, end) in `area`
        ({station_id | park_id | grid_id: id} or None for everything)."""
        scope = dict(area or {}, registered_at={"$gte": start, "$lt": end})
        counts = {"by_status": {}, "risks": {}, "meetings": {}, "at_start_tier": {},
                  "days_to_settle": {}, "kept": {}}

        def add(name, key, n):
            counts[name][key] = counts[name].get(key, 0) + n

        # one pass over the covering index, every figure from its groups
        for (status, risk, meetings, at_start, days, kept), n in \
                self.disputes.table.tally(scope, COUNTED).items():
            add("by_status", status, n)
            if risk:
                add("risks", status, n)
            if meetings:
                add("meetings", meetings, n)
            if status in SETTLED:
                add("at_start_tier", at_start, n)
                add("days_to_settle", days, n)
            if status == "closed":
                add("kept", kept, n)
        return counts


def _query(filters):
    query = {}
    for name in ("enterprise_id", "status", "grade", "tier"):
        if filters.get(name) is not None:
            query[name] = filters[name]
    if filters.get("enterprise_ids") is not None:
        ids = list(filters["enterprise_ids"])
        query["enterprise_id"] = {"$in": ids} if "enterprise_id" not in query else \
            (query["enterprise_id"] if query["enterprise_id"] in ids else {"$in": []})
    if filters.get("agency") is not None:
        query["agencies"] = filters["agency"]
    return query


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _rules(data) -> RuleSet:
    data = dict(data)
    data["park_kinds"] = tuple(data["park_kinds"])
    data["signals"] = {k: (v[0], tuple(v[1])) for k, v in data["signals"].items()}
    return RuleSet(**data)
