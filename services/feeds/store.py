"""The feeds component's own database: subscriptions (kit collection), the delivery audit
(which event went to which agency, when) and the position in the archive the live fan-out
has reached.

The audit is append-only, indexed by subscription and time, and pruned after the configured
period; the position is one document, written after each batch is delivered, so a restart
resumes after the last batch it finished (what was in flight is delivered again, with the
same event ids).
"""
import uuid

from contracts.events import CATALOGUE
from kit.collection import Collection, Events, Kind, UnitOfWork
from kit.tables import DuplicateKey

from .domain import ACTIVE, Subscription
from .exceptions import AgencySubscribed, SubscriptionChangedMeanwhile, SubscriptionNotFound

SUBSCRIPTIONS = Kind(
    "subscriptions", Subscription, not_found=SubscriptionNotFound,
    exists=lambda s: AgencySubscribed(s.agency),
    changed_meanwhile=SubscriptionChangedMeanwhile,
    indexed=lambda s: {"agency": s.agency, "state": s.state, "created_at": s.created_at},
    indexes=(([("state", 1), ("agency", 1)], False), ([("created_at", -1)], False)))
EVENTS = Events("/services/feeds", {})  # it records no events of its own
POSITION = "live"


class Repository:
    def __init__(self, database, unit=None):
        self.unit = unit if unit is not None else UnitOfWork()
        self.subscriptions = Collection(database.table(SUBSCRIPTIONS.table), SUBSCRIPTIONS,
                                        EVENTS, self.unit)
        self.deliveries = database.table("deliveries")
        self.positions = database.table("positions")
        self.checkpoints = database.table("checkpoints")

    def ensure_indexes(self):
        self.subscriptions.ensure_indexes()
        self.deliveries.ensure_index([("subscription_ids", 1), ("delivered_at", 1),
                                      ("offset", 1)])
        self.deliveries.ensure_index([("delivered_at", 1)])
        self.checkpoints.ensure_index([("at", 1), ("offset", 1)])

    def outbox_tables(self):
        return [self.subscriptions.table]

    def active(self):
        return self.subscriptions.all({"state": ACTIVE})

    def active_for(self, agency):
        return self.subscriptions.all({"state": ACTIVE, "agency": agency})

    # --- the live position -----------------------------------------------------------------

    def next_offset(self):
        """The first archive offset the live fan-out has not finished (0 at first)."""
        row = self.positions.get(POSITION)
        return row["next"] if row else 0

    def advance(self, first, next_offset, now):
        """The live fan-out finished offsets [first, next_offset) at `now`: a checkpoint says
        where in the archive it stood when (a replay from T starts at the first offset done at
        or after T), and the position moves."""
        self.checkpoints.update({"_id": f"{first:016d}"},
                                {"$setOnInsert": {"offset": first, "at": now}}, upsert=True)
        self.positions.update({"_id": POSITION}, {"$set": {"next": next_offset}}, upsert=True)

    def first_done_since(self, moment):
        """The first archive offset the live fan-out finished at or after `moment`, or None:
        no event with a time at or after `moment` lies before it (an event is done after it
        happened)."""
        rows = self.checkpoints.find({"at": {"$gte": moment}}, sort=[("at", 1), ("offset", 1)],
                                     limit=1)
        return rows[0]["offset"] if rows else None

    # --- the delivery audit ----------------------------------------------------------------

    def record_deliveries(self, rows):
        """Keep the audit rows of a batch: one per event, naming every subscription it went to
        (a redelivery after a crash is a row of its own: it was delivered twice)."""
        rows = [dict(row, _id=uuid.uuid4().hex) for row in rows]
        if not rows:
            return 0
        try:
            return self.deliveries.insert_all(rows)
        except DuplicateKey:  # not expected with fresh ids; keep what can be kept
            return sum(self._insert_one(row) for row in rows)

    def _insert_one(self, row):
        try:
            self.deliveries.insert(row)
            return 1
        except DuplicateKey:
            return 0

    def deliveries_of(self, subscription_id, since=None, until=None, skip=0, limit=100):
        query = {"subscription_ids": subscription_id}
        span = {**({"$gte": since} if since else {}), **({"$lt": until} if until else {})}
        if span:
            query["delivered_at"] = span
        total = self.deliveries.count(query)
        rows = self.deliveries.find(query, sort=[("delivered_at", 1), ("offset", 1)],
                                    skip=skip, limit=limit) if limit else []
        return rows, total

    def prune_deliveries(self, before):
        self.checkpoints.delete_all({"at": {"$lt": before}})
        return self.deliveries.delete_all({"delivered_at": {"$lt": before}})


def known_types():
    return sorted(t for events in CATALOGUE.values() for t in events)
