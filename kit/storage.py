"""Each service's own database, and the outbox that makes its events impossible to lose.

`MONGO_URI` selects a real MongoDB (one database per service: `liaison_<service>`); without
it an embedded store persists to `DATA_DIR/<service>` on disk and survives restarts.

Outbox: a repository writes an aggregate's new events into the aggregate's own document, in
the same single-document write as the change (atomic on MongoDB and on the embedded store).
The `Storage` provider publishes them after the worker and removes them once the broker has
confirmed them; a sweeper publishes whatever a killed process left behind. Delivery is
therefore at least once: consumers deduplicate on the envelope `id`.
"""
import logging
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


def connect(service_name, mongo_uri=None, data_dir="data"):
    """Register the mongoengine alias `service_name` on that service's own database."""
    mongoengine.disconnect(alias=service_name)
    db_name = f"liaison_{service_name}"
    if mongo_uri:
        mongoengine.connect(db=db_name, alias=service_name, host=mongo_uri, tz_aware=False,
                            uuidRepresentation="standard")
        return
    path = Path(data_dir).absolute() / service_name
    mongoengine.connect(db=db_name, alias=service_name, uuidRepresentation="standard",
                        mongo_client_class=_embedded_client(path))


def _embedded_client(path):
    import litemongo

    class EmbeddedClient(litemongo.MongoClient):
        """A pymongo-compatible client over SQLite files under `path`."""

        def __init__(self, *args, **kwargs):
            super().__init__(str(path))

    return EmbeddedClient


def stamp(document, envelopes):
    """Put `envelopes` in the document's outbox, to be written with the change itself."""
    pending = list(getattr(document, OUTBOX_FIELD) or [])
    pending.extend(envelopes)
    setattr(document, OUTBOX_FIELD, pending)


def drain(collection, publish, ids=None):
    """Publish the outbox of each document (those in `ids`, or all), then clear what was sent.

    Returns how many envelopes were published. An envelope is removed only after `publish`
    returned, so a crash in between publishes it again on the next drain.
    """
    query = {f"{OUTBOX_FIELD}.id": {"$exists": True}}  # served by the sparse OUTBOX_INDEX
    if ids is not None:
        query["_id"] = {"$in": list(ids)}
    sent = 0
    for doc in collection.find(query, {OUTBOX_FIELD: 1}):
        envelopes = doc.get(OUTBOX_FIELD) or []
        for envelope in envelopes:
            publish(envelope)
        collection.update_one(
            {"_id": doc["_id"]},
            {"$pull": {OUTBOX_FIELD: {"id": {"$in": [e["id"] for e in envelopes]}}}})
        sent += len(envelopes)
    return sent


class UnitOfWork:
    """What one worker wrote: which documents of which collections now carry events."""

    def __init__(self):
        self.touched = {}

    def touch(self, collection, doc_id):
        self.touched.setdefault(collection.name, (collection, set()))[1].add(doc_id)


class Storage(DependencyProvider):
    """Injects `repository_cls(unit_of_work)` bound to this service's own database.

    Connects in `setup()`; after each worker publishes the events it stored (on the service's
    `<service>.events` exchange, routing key = event type) and sweeps for leftovers every
    `sweep_interval` seconds.
    """

    def __init__(self, repository_cls, sweep_interval=5.0):
        self.repository_cls = repository_cls
        self.sweep_interval = sweep_interval
        self.units = {}

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

    def get_dependency(self, worker_ctx):
        unit = self.units[worker_ctx] = UnitOfWork()
        return self.repository_cls(unit)

    def worker_teardown(self, worker_ctx):
        unit = self.units.pop(worker_ctx, None)
        if unit is None:
            return
        try:
            for collection, ids in unit.touched.values():
                drain(collection, self.publish, ids)
        except Exception:  # the sweeper retries; the change itself is already durable
            log.exception("publishing events after %s failed", worker_ctx.entrypoint.method_name)

    def publish(self, envelope):
        self.publisher.publish(envelope, exchange=self.exchange, routing_key=envelope["type"])

    def sweep(self):
        return sum(drain(c, self.publish) for c in self.repository_cls.outbox_collections())

    def _sweep(self):
        while True:
            eventlet.sleep(self.sweep_interval)
            try:
                self.sweep()
            except Exception:
                log.exception("outbox sweep failed; retrying in %ss", self.sweep_interval)
