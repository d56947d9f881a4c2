"""Each service's own database, and the outbox that makes its events impossible to lose.

`MONGO_URI` selects a real MongoDB (one database per service: `liaison_<service>`); without
it the embedded store (kit.sqlite, indexed like MongoDB) persists to `DATA_DIR/<service>` on
disk and survives restarts.

Outbox: a repository writes an aggregate's new events into the aggregate's own document, in
the same single-document write as the change (atomic on MongoDB and on the embedded store).
The `Storage` provider publishes the entries its worker queued, before an RPC answers
(kit.rpc) or else after the worker, and removes them once the broker has confirmed them all;
the entries of workers that finish together go out as one batch (one relay per process), and
are cleared from their documents in one write; a sweeper publishes entries older than `STALE_AFTER`, which only a killed process
(or a broker outage longer than that) leaves behind. Delivery is therefore at least once
(exactly once while no process dies): consumers deduplicate on the envelope `id`.

An entry leaves the outbox only once the broker confirmed it and a queue took it: an event
no queue takes (its type is not catalogued, so not even the archive is bound to it) is
returned by the broker (kit.publishing) and stays, to be sent again until a queue is bound
for it. The entries published with it in the same batch that went through are cleared, not
sent again.

Conditional updates ("change it only if it is still version 7") are atomic on both: on
MongoDB by itself, on the embedded store as one SQLite transaction.

`connect` and `exclusive` serve the gateway's idempotency store, which still speaks
mongoengine (embedded: a pymongo-compatible client over SQLite, under a file lock).
"""
import fcntl
import logging
import os
import threading
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import eventlet
import mongoengine
from eventlet.event import Event
from eventlet.queue import Empty, LightQueue
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange

from contracts.envelope import decode, encode
from contracts.fields import utcnow
from contracts.topology import DEFAULT_RETENTION

from .collection import OUTBOX, UNSENT, UnitOfWork
from .publishing import BatchPublisher, PublishFailed
from .sqlite import FILE as SQLITE_FILE, SqliteDatabase
from .tables import MongoDatabase

log = logging.getLogger(__name__)

OUTBOX_FIELD = OUTBOX
UNSENT_FIELD = UNSENT

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
RELAY_BATCH = 200  # workers' flushes the relay takes into one batch at most
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
        _lock(fd)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _lock(fd):
    """Take the file lock without blocking the process: a blocking flock would stop every
    green thread while another process holds the lock."""
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            eventlet.sleep(0.0005)


def messages_of(entries):
    """(routing key, body) of each outbox entry, as `publish_all` takes them. An entry of the
    first outbox format holds the envelope itself instead of its body."""
    return [(e["type"], e["message"]) if "message" in e
            else (e["envelope"]["type"], encode(e["envelope"])) for e in entries]


def opened(messages):
    """The envelopes of (routing key, body) messages."""
    return [decode(body) for _, body in messages]


class OutboxKept(Exception):
    """`drain` published what it read but `kept` ({doc id: entry ids}): entries the broker
    refused or returned (no queue takes them), left in the outbox. `sent` went out."""

    def __init__(self, kept, sent, errors):
        super().__init__(f"{sum(map(len, kept.values()))} outbox entries kept: "
                         + "; ".join(sorted(set(map(str, errors)))))
        self.kept = kept
        self.sent = sent


def drain(table, publish_all, only=None, stale_before=None):
    """Publish outbox entries read from the store, then remove the ones sent. Returns how
    many were published.

    `only` ({doc id: entry ids}) limits it to what one worker queued; `stale_before` to
    entries queued before then (what a dead process left). With neither: everything.
    `publish_all(messages)` takes (routing key, body) pairs and returns once the broker has
    confirmed them all. When it names the messages that did not go through (a PublishFailed
    with `failed`: refused, or returned because no queue takes them) the others are removed,
    those stay, the next documents are still drained, and OutboxKept names what stayed at
    the end; any other error stops the drain and is raised as it is.
    """
    query = {UNSENT: True}  # by equality on its index: only documents with unsent entries
    if only is not None:
        query["_id"] = {"$in": list(only)}
    sent, kept, errors = 0, {}, []
    for doc in table.find(query):
        try:
            entries = [e for e in doc.get(OUTBOX_FIELD) or []
                       if (only is None or e["id"] in only[doc["_id"]])
                       and (stale_before is None or e["queued_at"] <= stale_before)]
            messages = messages_of(entries)
        except (KeyError, TypeError):  # one unreadable outbox must not hold up the others
            log.exception("an outbox entry of %s %s cannot be read; left where it is",
                          table.name, doc["_id"])
            continue
        if entries:
            try:
                publish_all(messages)
            except PublishFailed as error:
                if error.failed is None:
                    raise
                failed = set(error.failed)
                kept[doc["_id"]] = [e["id"] for i, e in enumerate(entries) if i in failed]
                errors.append(error)
                entries = [e for i, e in enumerate(entries) if i not in failed]
            if entries:
                remove_sent(table, doc["_id"], [e["id"] for e in entries])
        elif not doc.get(OUTBOX_FIELD):  # marked, but nothing left to send
            table.update({"_id": doc["_id"], OUTBOX_FIELD: {"$size": 0}},
                         {"$set": {UNSENT: False}})
        sent += len(entries)
    if kept:
        raise OutboxKept(kept, sent, errors)
    return sent


def clear_sent(table, docs):
    """`remove_sent` for many documents ({doc id: entry ids}): the usual case, where the
    entries sent are all a document's outbox holds, for all of them in one `empty_lists`;
    the others one by one."""
    docs = {doc_id: list(ids) for doc_id, ids in docs.items()}
    emptied = table.empty_lists(OUTBOX_FIELD, UNSENT, docs)
    for (doc_id, ids), done in zip(docs.items(), emptied):
        if not done:
            remove_sent(table, doc_id, ids)


def remove_sent(table, doc_id, entry_ids):
    """Take published entries out of a document's outbox. An entry is removed only after the
    broker confirmed it: a crash in between publishes it again. The removal is one atomic
    update of the document, so it cannot undo
    a change another process writes to the same document meanwhile. When the entries sent are
    all the outbox holds (the usual case) one write empties it and clears its mark; otherwise
    they are pulled, and the mark cleared if nothing is left."""
    if table.update({"_id": doc_id, OUTBOX_FIELD: {"$size": len(entry_ids)},
                     f"{OUTBOX_FIELD}.id": {"$all": list(entry_ids)}},
                    {"$set": {OUTBOX_FIELD: [], UNSENT: False}}):
        return
    table.update({"_id": doc_id}, {"$pull": {OUTBOX_FIELD: {"id": {"$in": entry_ids}}}})
    table.update({"_id": doc_id, OUTBOX_FIELD: {"$size": 0}}, {"$set": {UNSENT: False}})


def open_database(service_name, mongo_uri=None, data_dir="data"):
    """The service's own database as kit.tables: `liaison_<service>` on MongoDB, or the
    embedded store (kit.sqlite) in `data_dir/<service>`."""
    if mongo_uri:
        connect(service_name, mongo_uri)
        return MongoDatabase(mongoengine.get_db(service_name))
    path = Path(data_dir).absolute() / service_name
    path.mkdir(parents=True, exist_ok=True)
    return SqliteDatabase(path / SQLITE_FILE)


class Storage(DependencyProvider):
    """Injects `repository_cls(database, unit_of_work)` over this service's own database.

    A repository gives `ensure_indexes()` and `outbox_tables()` (the tables whose documents
    carry an outbox).

    Connects in `setup()`. The events a worker stored are published (on the service's
    `<service>.events` exchange, routing key = event type) by `flush`: before an RPC answers
    (see kit.rpc.rpc), otherwise after the worker; `flush` returns once the broker confirmed
    them (or they were kept to try again). Then they are taken out of the outbox. One relay
    green thread does the publishing for every worker: what workers flush while it waits
    for the broker goes out in its next batch, with one wait for confirms and one write to
    clear it, so many workers cost little more than one. Sweeps for what a dead process left (entries older than STALE_AFTER:
    a live sibling process publishes its own well within that): at start, STALE_AFTER later,
    then every `sweep_interval` seconds. A sweep reads the documents with an outbox entry, by
    the `unsent` index.
    """

    def __init__(self, repository_cls, sweep_interval=60.0, retry_interval=1.0):
        self.repository_cls = repository_cls
        self.sweep_interval = sweep_interval
        self.retry_interval = retry_interval
        self.units = {}
        self.unsent = []  # (collection, {doc id: entry ids}) this process failed to publish
        self.relaying = None  # the relay's queue of (touched, done) once it runs

    def setup(self):
        config = self.container.config
        service = self.container.service_name
        self.database = open_database(service, config.get("MONGO_URI") or None,
                                      config.get("DATA_DIR") or "data")
        self.exchange = get_event_exchange(service, config).name
        if "cloudevents" not in config.get("SERIALIZERS", {}):
            raise RuntimeError("events need the cloudevents serializer: merge "
                               "kit.storage.SERIALIZATION_CONFIG into the config")
        self.publisher = BatchPublisher(config["AMQP_URI"], self.exchange,
                                        retention=config.get("FEEDS_RETENTION")
                                        or DEFAULT_RETENTION)

    def start(self):
        self.repository_cls(self.database).ensure_indexes()
        self.relaying = LightQueue()
        self.container.spawn_managed_thread(self._relay)
        self.container.spawn_managed_thread(self._sweep)
        self.container.spawn_managed_thread(self._retry)

    def stop(self):
        self.publisher.close()

    def get_dependency(self, worker_ctx):
        unit = self.units[worker_ctx] = UnitOfWork()
        return self.repository_cls(self.database, unit)

    def flush(self, worker_ctx):
        """Publish what the worker stored so far (its changes are durable already)."""
        unit = self.units.get(worker_ctx)
        if unit is not None and unit.touched:
            touched, unit.touched = unit.touched, {}
            self._publish(touched)

    def worker_teardown(self, worker_ctx):
        self.flush(worker_ctx)
        self.units.pop(worker_ctx, None)

    def _publish(self, touched):
        """Hand one worker's entries to the relay and wait until it sent them (or kept them
        to try again); without a running relay, send them here."""
        if self.relaying is None:
            return self._send([touched])
        done = Event()
        self.relaying.put((touched, done))
        done.wait()

    def _relay(self):
        while True:
            waiting = [self.relaying.get()]
            while len(waiting) < RELAY_BATCH:
                try:
                    waiting.append(self.relaying.get_nowait())
                except Empty:
                    break
            try:
                self._send([touched for touched, _ in waiting])
            except Exception:  # kept in the outbox: the sweep sends it
                log.exception("relaying events failed")
            for _, done in waiting:
                done.send()

    def _send(self, batch):
        """Publish the entries of several workers from memory in one batch, then clear them
        from the outbox in one write per table. What fails is kept, to be tried again from
        the store every `retry_interval` seconds: the whole batch when the broker is away,
        only the entries it refused or returned when it names them (the others went
        through and are cleared)."""
        placed = [(name, table, doc_id, e) for touched in batch
                  for name, (table, docs) in touched.items()
                  for doc_id, entries in docs.items() for e in entries]
        failed = ()
        try:
            self.publisher.publish_all(messages_of(e for *_, e in placed))
        except Exception as error:
            failed = getattr(error, "failed", None)
            failed = set(range(len(placed)) if failed is None else failed)
            log.warning("publishing %d of %d events failed (%s); retrying in %ss",
                        len(failed), len(placed), error, self.retry_interval)
        sent, unsent = {}, {}
        for i, (name, table, doc_id, entry) in enumerate(placed):
            docs = (unsent if i in failed else sent).setdefault(name, (table, {}))[1]
            docs.setdefault(doc_id, []).append(entry["id"])
        self.unsent.extend((table, {doc_id: set(ids) for doc_id, ids in docs.items()})
                           for table, docs in unsent.values())
        if not sent:
            return
        try:
            for table, docs in sent.values():
                clear_sent(table, docs)
        except Exception:  # left in the outbox: the sweep sends them again (at least once)
            log.exception("clearing published events from the outbox failed")

    def sweep(self, stale_before=None):
        """Publish what a dead process left: entries queued before `stale_before` (default:
        older than STALE_AFTER)."""
        cutoff = stale_before or utcnow() - STALE_AFTER
        sent = 0
        for table in self.repository_cls(self.database).outbox_tables():
            try:
                sent += drain(table, self.publisher.publish_all, stale_before=cutoff)
            except OutboxKept as kept:  # not taken yet: left for the next sweep
                log.warning("outbox sweep of %s: %s", table.name, kept)
                sent += kept.sent
        return sent

    def _retry(self):
        while True:
            eventlet.sleep(self.retry_interval)
            batches, self.unsent = self.unsent, []
            for table, entries in batches:
                try:
                    drain(table, self.publisher.publish_all, only=entries)
                except OutboxKept as kept:  # the rest went out; these are tried again
                    log.warning("publishing events failed (%s); retrying in %ss", kept,
                                self.retry_interval)
                    self.unsent.append((table, kept.kept))
                except Exception as error:
                    log.warning("publishing events failed (%s); retrying in %ss", error,
                                self.retry_interval)
                    self.unsent.append((table, entries))

    def _sweep(self):
        pause = STALE_AFTER.total_seconds()  # soon after start: a previous life's last entries
        while True:
            try:
                self.sweep()
            except Exception:
                log.exception("outbox sweep failed; retrying in %ss", self.sweep_interval)
            eventlet.sleep(pause)
            pause = self.sweep_interval
