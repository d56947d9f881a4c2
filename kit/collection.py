"""A versioned collection of aggregates: the one way every service stores what it owns.

An aggregate is a dataclass with an `id`, a `version` (0 until first stored) and `events`: the
typed domain events it recorded since it was loaded. Each event has a `type` (its contract's
name) and is dumped through that type's schema: the event itself, or `event.facts` when the
event carries a record whose facts its contract publishes (a `*.created` event carries the
record created). Its subject is the aggregate's id.

Guarantees, on every backend (see kit.tables):
- `add` stores a new aggregate at version 1, or raises the kind's `exists` (same id) or
  `duplicate` (a unique field taken) error and writes nothing.
- `save` writes an aggregate only if the stored version is still the one it was loaded at
  (save-if-unchanged) and bumps it; False, with nothing written, if another change won.
- The events an aggregate recorded are written into the same document, in the same write,
  as its outbox entries (kit.storage publishes them); a change cannot be stored without its
  events, nor its events without the change. They leave `aggregate.events` once written.
- `change` retries a lost race from the new state (and, given `new`, starts an aggregate that
  is not stored yet), `create_once` makes a second try of the same creation find the first
  one: the same policy for every service.
"""
from dataclasses import dataclass
from typing import Callable

from contracts.envelope import encode, make_envelope
from contracts.fields import utcnow

from .records import plain, rebuild
from .tables import DuplicateKey

OUTBOX = "outbox"
# True on a document whose outbox holds entries (set in the write that queues them, cleared
# once it is empty), so a sweep asks for the documents with unsent events by equality on an
# index: cheap on MongoDB and on the embedded store alike, however many documents there are.
UNSENT = "unsent"
ATTEMPTS = 20
_NOT_STORED = ("events", "version")


@dataclass(frozen=True)
class Kind:
    """How one aggregate type is stored.

    `indexed(aggregate)` gives the top-level fields queries and indexes use (the whole
    aggregate is stored under `body`); `indexes` lists them as (keys, unique) pairs. The
    error factories name what went wrong in the service's own terms."""

    table: str
    record: type
    not_found: Callable
    exists: Callable
    changed_meanwhile: Callable
    indexed: Callable = lambda aggregate: {}
    indexes: tuple = ()
    duplicate: Callable | None = None


@dataclass(frozen=True)
class Events:
    """Where a service's events go: its CloudEvents `source` and its schema catalogue."""

    source: str
    catalogue: dict
    clock: Callable = utcnow


class Collection:
    """Aggregates of one `Kind` in one table; writes report their events to `unit`."""

    def __init__(self, table, kind, events, unit):
        self.table = table
        self.kind = kind
        self.events = events
        self.unit = unit

    def ensure_indexes(self):
        self.table.ensure_index(UNSENT)
        for keys, unique in self.kind.indexes:
            self.table.ensure_index(keys, unique=unique)

    # --- reads ---------------------------------------------------------------------------

    def get(self, aggregate_id):
        row = self.table.get(aggregate_id)
        if row is None:
            raise self.kind.not_found(aggregate_id)
        return self._load(row)

    def find(self, aggregate_id):
        """The aggregate, or None."""
        row = self.table.get(aggregate_id)
        return None if row is None else self._load(row)

    def list(self, query=None, sort=None, skip=0, limit=50):
        """One page of the aggregates matching `query` (on indexed fields), and the total."""
        total = self.table.count(query)
        rows = self.table.find(query, sort=sort, skip=skip, limit=limit) if limit else []
        return [self._load(r) for r in rows], total

    def all(self, query=None, sort=None):
        return [self._load(r) for r in self.table.find(query, sort=sort)]

    def count(self, query=None):
        return self.table.count(query)

    # --- writes --------------------------------------------------------------------------

    def add(self, aggregate):
        """Store a new aggregate (its id already chosen) with its events."""
        if not self._insert(aggregate):
            raise self.kind.exists(aggregate)
        return aggregate

    def save(self, aggregate):
        """Write the aggregate if it is still at the version it was loaded at (a version-0
        aggregate: if nobody stored one with its id meanwhile). False if another change won."""
        if aggregate.version == 0:
            return self._insert(aggregate)
        entries = self._entries(aggregate)
        try:
            changed = self.table.update(
                {"_id": aggregate.id, "version": aggregate.version},
                {"$set": {"version": aggregate.version + 1, **self.kind.indexed(aggregate),
                          "body": plain(aggregate, _NOT_STORED),
                          **({UNSENT: True} if entries else {})},
                 "$push": {OUTBOX: {"$each": entries}}})
        except DuplicateKey:
            raise self.kind.duplicate(aggregate) from None
        if changed:
            self._written(aggregate, aggregate.version + 1, entries)
        return changed

    def _insert(self, aggregate):
        """True if stored; False if an aggregate with its id is stored already. A unique
        field taken raises the kind's `duplicate` error."""
        entries = self._entries(aggregate)
        row = self.row_of(aggregate, entries)
        try:
            self.table.insert(row)
        except DuplicateKey:
            if self.kind.duplicate is None or self.table.get(aggregate.id) is not None:
                return False
            raise self.kind.duplicate(aggregate) from None
        self._written(aggregate, 1, entries)
        return True

    def change(self, aggregate_id, change, attempts=ATTEMPTS, new=None):
        """Load, apply `change(aggregate)` and save, again from the new state while another
        change wins the race. `change` returning False means there is nothing to do: nothing
        is written. Returns the aggregate as stored. With `new`, an aggregate not stored yet
        is `new(aggregate_id)` (version 0), created by the save: two first changes at once
        are a race like any other; without it, the kind's `not_found`."""
        for _ in range(attempts):
            aggregate = self.get(aggregate_id) if new is None else self.find(aggregate_id)
            if aggregate is None:
                aggregate = new(aggregate_id)
            if change(aggregate) is False:
                aggregate.events.clear()
                return aggregate
            if self.save(aggregate):
                return aggregate
        raise self.kind.changed_meanwhile(aggregate_id)

    def create_once(self, aggregate_id, create, expect_new=False):
        """(aggregate, created): the one stored under `aggregate_id`, made by `create()` if
        there is none yet. Two tries at once (a retried or redelivered request) make one.
        `expect_new`: a repeat is rare and `create()` pure, so try the insert first (a repeat
        then costs a refused insert, instead of every first time a read)."""
        existing = None if expect_new else self.find(aggregate_id)
        if existing is not None:
            return existing, False
        aggregate = create()
        if self._insert(aggregate):
            return aggregate, True
        return self.get(aggregate_id), False

    def create_all_once(self, creations):
        """`create_once` for each (aggregate id, create) pair, with one read and one bulk
        insert for the lot; the aggregates created. Should another try store one of them
        meanwhile, each is then created once by itself."""
        creations = dict(creations)  # the same id twice in one go is one creation
        stored = {row["_id"] for row in self.table.find({"_id": {"$in": list(creations)}})}
        made = [create() for aggregate_id, create in creations.items()
                if aggregate_id not in stored]
        entries = [self._entries(aggregate) for aggregate in made]
        try:
            self.table.insert_all([self.row_of(a, e) for a, e in zip(made, entries)])
        except DuplicateKey:
            return [aggregate for aggregate_id, create in creations.items()
                    if aggregate_id not in stored
                    for aggregate, created in [self.create_once(aggregate_id, create)]
                    if created]
        for aggregate, queued in zip(made, entries):
            self._written(aggregate, 1, queued)
        return made

    # --- rows and events ---------------------------------------------------------------------

    def row_of(self, aggregate, entries=()):
        """The document a new aggregate is stored as (at version 1, with outbox `entries`)."""
        return {"_id": aggregate.id, "version": 1, **self.kind.indexed(aggregate),
                "body": plain(aggregate, _NOT_STORED), OUTBOX: list(entries),
                UNSENT: bool(entries)}

    def _load(self, row):
        return rebuild(self.kind.record, row["body"], version=row["version"])

    def _entries(self, aggregate):
        now = self.events.clock()
        envelopes = [make_envelope(e.type, self.events.source,
                                   getattr(e, "subject", None) or aggregate.id,
                                   getattr(e, "facts", e), self.events.catalogue, now=now)
                     for e in aggregate.events]
        return [{"id": e["id"], "queued_at": now, "type": e["type"], "message": encode(e)}
                for e in envelopes]

    def _written(self, aggregate, version, entries):
        aggregate.version = version
        self.unit.touch(self.table, aggregate.id, entries, aggregate.events)
        aggregate.events.clear()


class UnitOfWork:
    """What one worker wrote: the outbox entries it queued, by table and document, in the
    order it queued them, and every event it wrote (`written`, kept for the worker's life;
    `events`, the same as the aggregates recorded them)."""

    def __init__(self):
        self.touched = {}
        self.written = []
        self.events = []

    def touch(self, table, doc_id, entries, events=()):
        self.events.extend(events)
        if entries:
            docs = self.touched.setdefault(table.name, (table, {}))[1]
            docs.setdefault(doc_id, []).extend(entries)
            self.written.extend(entries)

    def envelopes(self):
        from contracts.envelope import decode
        return [decode(e["message"]) for e in self.written]
