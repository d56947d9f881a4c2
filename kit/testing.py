"""What every service's tests need from the kit: the storage backends a contract suite runs
on (the in-memory fake, the embedded store, MongoDB when `MONGO_URI` names one kept for
tests), what a repository's writes would publish, and the one tap on the events a running
service publishes.

`backend_fixture(service)` in a test module or conftest gives tests a `Backend` whose
`database` is that service's database on each of the three backends.
"""
import json
import os
import threading
import time
import uuid

import mongoengine
from kombu import Connection, Consumer, Exchange, Queue

from contracts.envelope import CONTENT_TYPE, decode, open_envelope

from .storage import open_database
from .tables import MemoryDatabase

BACKENDS = ("memory", "embedded", "mongodb")


class Backend:
    """One place a service's documents can live. `reopen()` drops the connection and opens
    a new one on the same data (the fake keeps its data in the process)."""

    def __init__(self, name, service, mongo_uri=None, data_dir=None):
        self.name = name
        self.service = service
        self.mongo_uri = mongo_uri
        self.data_dir = data_dir
        self.database = MemoryDatabase() if name == "memory" else self._open()

    def _open(self):
        return open_database(self.service, self.mongo_uri, self.data_dir)

    def reopen(self):
        if self.name != "memory":
            self.close()
            self.database = self._open()
        return self.database

    def drop(self):
        if self.name == "mongodb":
            mongoengine.get_connection(self.service).drop_database(f"liaison_{self.service}")

    def close(self):
        if self.name == "embedded":
            self.database.close()
        elif self.name == "mongodb":
            mongoengine.disconnect(alias=self.service)


def open_backend(name, service, tmp_path):
    """A fresh `Backend`; skips the test for MongoDB when `MONGO_URI` is not set."""
    if name == "memory":
        return Backend("memory", service)
    if name == "embedded":
        return Backend("embedded", service, data_dir=tmp_path / "data")
    import pytest

    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        pytest.skip("MONGO_URI is not set: the MongoDB run of the storage contract is skipped")
    backend = Backend("mongodb", service, mongo_uri=mongo_uri)
    backend.drop()  # a run that was killed may have left data behind
    backend.reopen()
    return backend


def backend_fixture(service, names=BACKENDS):
    """A pytest fixture giving a `Backend` of `service` on each of `names`, fresh per test."""
    import pytest

    @pytest.fixture(params=names)
    def backend(request, tmp_path):
        opened = open_backend(request.param, service, tmp_path)
        yield opened
        opened.drop()
        opened.close()

    return backend


def eventually(condition, timeout, every=0.2, ignoring=()):
    """The first true value of `condition()` within `timeout` seconds (an exception of a type
    in `ignoring` counts as not yet), else its last value: what tests of running processes
    wait with, instead of sleeping for a guessed time."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except ignoring:
            value = None
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def published(unit):
    """The envelopes a unit of work's writes queued, in order (what the worker publishes)."""
    return [decode(entry["message"]) for entry in unit.written]


def of_type(envelopes, event_type):
    return [e for e in envelopes if e["type"] == event_type]


class EventTap:
    """A queue of its own bound to topic exchange `exchange` (`routing_key`: which types), read
    by a background thread: every event published there after the tap was made arrives, at
    least once, in `events` (the envelopes) and `messages` ((routing key, content type, body)
    as they travelled). Given `schemas` ({type: schema}, e.g. contracts.events.EVENT_SCHEMAS),
    each is opened through its contract, and one that does not honour it is kept in `broken`
    with the error. `on_event(envelope, perf, wall)` is called as each arrives (perf_counter
    and time.time() of its receipt), under the tap's `lock`."""

    def __init__(self, amqp_uri, exchange, routing_key="#", on_event=None, schemas=None):
        self.connection = Connection(amqp_uri)
        self.connection.connect()
        self.queue = Queue(f"tap-{uuid.uuid4().hex[:8]}",
                           Exchange(exchange, type="topic", durable=True),
                           routing_key=routing_key, auto_delete=True, exclusive=True)
        channel = self.connection.channel()
        self.queue(channel).declare()
        self.on_event = on_event
        self.schemas = schemas
        self.events, self.messages, self.broken = [], [], []
        self.lock = threading.Lock()
        self.running = True
        self.consumer = Consumer(channel, queues=[self.queue], on_message=self._on_message,
                                 accept=[CONTENT_TYPE], no_ack=True, prefetch_count=500)
        self.consumer.consume()
        self.thread = threading.Thread(target=self._run, daemon=True, name="event-tap")
        self.thread.start()

    def _on_message(self, message):
        perf, wall = time.perf_counter(), time.time()
        try:
            envelope = json.loads(message.body)
            if self.schemas is not None:
                open_envelope(envelope, self.schemas)
        except Exception as error:  # kept for the test to see, not raised in the tap's thread
            with self.lock:
                self.broken.append((message.body, error))
            return
        with self.lock:
            self.events.append(envelope)
            self.messages.append((message.delivery_info.get("routing_key"),
                                  message.content_type, message.body))
            if self.on_event is not None:
                self.on_event(envelope, perf, wall)

    def _run(self):
        while self.running:
            try:
                self.connection.drain_events(timeout=0.2)
            except TimeoutError:
                continue
            except OSError:
                if self.running:
                    raise

    def snapshot(self):
        """The envelopes received so far, oldest first."""
        with self.lock:
            return list(self.events)

    def of_type(self, event_type):
        return of_type(self.snapshot(), event_type)

    def wait(self, condition, timeout):
        """True once `condition(envelopes so far)` holds; False if it still does not after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self.snapshot()):
                return True
            time.sleep(0.05)
        return condition(self.snapshot())

    def forget(self):
        """Drop what was received so far (events of an earlier step); returns the envelopes."""
        with self.lock:
            dropped, self.events, self.messages = self.events, [], []
            return dropped

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.connection.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
