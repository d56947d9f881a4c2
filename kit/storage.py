"""Each service's own database, and the outbox that makes its events impossible to lose.

`MONGO_URI` selects a real MongoDB (one database per service: `liaison_<service>`); without
it an embedded store persists to `DATA_DIR/<service>` on disk and survives restarts.

Outbox: a repository writes an aggregate's new events into the aggregate's own document, in
the same single-document write as the change (atomic on MongoDB and on the embedded store).
The `Storage` provider publishes the entries its worker queued, after the worker, and removes
them once the broker has confirmed them; a sweeper publishes entries older than `STALE_AFTER`,
which only a killed process leaves behind. Delivery is therefore at least once (exactly once
while no process dies): consumers deduplicate on the envelope `id`.

Conditional updates ("change it only if it is still version 7") are atomic on MongoDB by
itself. The embedded store evaluates them in Python, so `exclusive(service)` makes the
read-modify-write atomic across processes with a file lock; on MongoDB it does nothing.
"""
import fcntl
import logging
import os
import threading
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import eventlet
import mongoengine
from nameko.amqp.publish import Publisher
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange

log = logging.getLogger(__name__)

OUTBOX_FIELD = "outbox"
# Only documents with unsent events are in this index, so a sweep reads only those.
OUTBOX_INDEX = {"fields": [f"{OUTBOX_FIELD}.id"], "sparse": True}

# Events travel as CloudEvents structured JSON (content type application/cloudevents+json).
# A nameko process that consumes events merges this into its config (infra/config.yaml does).
SERIALIZATION_CONFIG = {
    "SERIALIZERS": {"cloudevents": {"encoder": "contracts.envelope.encode",
                                    "decoder": "contracts.envelope.decode",
                                    "content_type": "application/cloudevents+json",
                                    "content_encoding": "utf-8"}},
    "ACCEPT": ["json", "cloudevents"],
}


STALE_AFTER = timedelta(seconds=5)
_embedded_paths = {}


def connect(service_name, mongo_uri=None, data_dir="data"):
    """Register the mongoengine alias `service_name` on that service's own database."""
    mongoengine.disconnect(alias=service_name)
    _embedded_paths.pop(service_name, None)
    db_name = f"liaison_{service_name}"
    if mongo_uri:
        mongoengine.connect(db=db_name, alias=service_name, host=mongo_uri, tz_aware=False,
                            uuidRepresentation="standard")
        return
    path = Path(data_dir).absolute() / service_name
    path.mkdir(parents=True, exist_ok=True)
    _embedded_paths[service_name] = path
    mongoengine.connect(db=db_name, alias=service_name, uuidRepresentation="standard",
                        mongo_client_class=_embedded_client(path))


def _embedded_client(path):
    import litemongo

    class EmbeddedClient(litemongo.MongoClient):
        """A pymongo-compatible client over SQLite files under `path`."""

        def __init__(self, *args, **kwargs):
            super().__init__(str(path))

    return EmbeddedClient


_local_lock = threading.RLock()
_lock_files = {}


@contextmanager
def exclusive(service_name):
    """Hold the service's write lock (embedded store only) for a read-modify-write."""
    path = _embedded_paths.get(service_name)
    if path is None:  # MongoDB: a filtered update_one is atomic by itself
        yield
        return
    with _local_lock:
        fd = _lock_files.get(path)
        if fd is None:
            fd = _lock_files[path] = os.open(path / ".write.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _now():
    return datetime.now(timezone.utc).replace(tzinfo=None)


def queued(envelopes, now=None):
    """Outbox entries for `envelopes`, as stored in a document's outbox."""
    at = now or _now()
    return [{"id": e["id"], "queued_at": at, "envelope": e} for e in envelopes]


def stamp(document, entries):
    """Put outbox `entries` (see `queued`) in the document, to be written with the change."""
    pending = list(getattr(document, OUTBOX_FIELD) or [])
    pending.extend(entries)
    setattr(document, OUTBOX_FIELD, pending)


def drain(collection, publish, only=None, stale_before=None, service_name=None):
    """Publish outbox entries, then remove the ones sent. Returns how many were published.

    `only` ({doc id: entry ids}) limits it to what one worker queued; `stale_before` to
    entries queued before then (what a dead process left). With neither: everything.
    An entry is removed only after `publish` returned: a crash in between publishes it again.
    The removal holds the service's write lock (see `exclusive`), so it cannot undo a change
    another process writes to the same document meanwhile.
    """
    query = {f"{OUTBOX_FIELD}.id": {"$exists": True}}  # served by the sparse OUTBOX_INDEX
    if only is not None:
        query["_id"] = {"$in": list(only)}
    if stale_before is not None:
        query[f"{OUTBOX_FIELD}.queued_at"] = {"$lte": stale_before}
    sent = 0
    for doc in collection.find(query, {OUTBOX_FIELD: 1}):
        entries = [e for e in doc.get(OUTBOX_FIELD) or []
                   if (only is None or e["id"] in only[doc["_id"]])
                   and (stale_before is None or e["queued_at"] <= stale_before)]
        for entry in entries:
            publish(entry["envelope"])
        if entries:
            with exclusive(service_name):
                collection.update_one(
                    {"_id": doc["_id"]},
                    {"$pull": {OUTBOX_FIELD: {"id": {"$in": [e["id"] for e in entries]}}}})
        sent += len(entries)
    return sent


class UnitOfWork:
    """What one worker wrote: which outbox entries it queued, in which documents."""

    def __init__(self):
        self.touched = {}

    def touch(self, collection, doc_id, entries):
        if entries:
            docs = self.touched.setdefault(collection.name, (collection, {}))[1]
            docs.setdefault(doc_id, set()).update(e["id"] for e in entries)


class Storage(DependencyProvider):
    """Injects `repository_cls(unit_of_work)` bound to this service's own database.

    Connects in `setup()`; after each worker publishes the events it stored (on the service's
    `<service>.events` exchange, routing key = event type). Sweeps for what a dead process
    left (entries older than STALE_AFTER: a live sibling process publishes its own well
    within that): at start, STALE_AFTER later, then every `sweep_interval` seconds.
    A sweep reads every document with an outbox entry: indexed on MongoDB, a scan on the
    embedded store, hence not more often.
    """

    def __init__(self, repository_cls, sweep_interval=60.0, retry_interval=1.0):
        self.repository_cls = repository_cls
        self.sweep_interval = sweep_interval
        self.retry_interval = retry_interval
        self.units = {}
        self.unsent = []  # (collection, {doc id: entry ids}) this process failed to publish

    def setup(self):
        config = self.container.config
        service = self.container.service_name
        connect(service, config.get("MONGO_URI") or None, config.get("DATA_DIR") or "data")
        self.exchange = get_event_exchange(service, config)
        if "cloudevents" not in config.get("SERIALIZERS", {}):
            raise RuntimeError("events need the cloudevents serializer: merge "
                               "kit.storage.SERIALIZATION_CONFIG into the config")
        self.publisher = Publisher(config["AMQP_URI"], serializer="cloudevents",
                                   exchange=self.exchange, declare=[self.exchange])

    def start(self):
        self.repository_cls.ensure_indexes()
        self.container.spawn_managed_thread(self._sweep)
        self.container.spawn_managed_thread(self._retry)

    def get_dependency(self, worker_ctx):
        unit = self.units[worker_ctx] = UnitOfWork()
        return self.repository_cls(unit)

    def worker_teardown(self, worker_ctx):
        unit = self.units.pop(worker_ctx, None)
        if unit is not None:
            self._publish(list(unit.touched.values()))

    def _publish(self, batches):
        """Publish what workers of this process queued; keep what failed (the broker is
        away) to try again every `retry_interval` seconds. The changes are durable already."""
        for collection, entries in batches:
            try:
                drain(collection, self.publish, only=entries,
                      service_name=self.container.service_name)
            except Exception as error:
                log.warning("publishing events failed (%s); retrying in %ss", error,
                            self.retry_interval)
                self.unsent.append((collection, entries))

    def publish(self, envelope):
        self.publisher.publish(envelope, exchange=self.exchange, routing_key=envelope["type"])

    def sweep(self, stale_before=None):
        """Publish what a dead process left: entries queued before `stale_before` (default:
        older than STALE_AFTER)."""
        cutoff = stale_before or _now() - STALE_AFTER
        return sum(drain(c, self.publish, stale_before=cutoff,
                         service_name=self.container.service_name)
                   for c in self.repository_cls.outbox_collections())

    def _retry(self):
        while True:
            eventlet.sleep(self.retry_interval)
            batches, self.unsent = self.unsent, []
            self._publish(batches)

    def _sweep(self):
        pause = STALE_AFTER.total_seconds()  # soon after start: a previous life's last entries
        while True:
            try:
                self.sweep()
            except Exception:
                log.exception("outbox sweep failed; retrying in %ss", self.sweep_interval)
            eventlet.sleep(pause)
            pause = self.sweep_interval
