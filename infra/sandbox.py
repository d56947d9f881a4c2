"""A private corner of the broker and free local ports, for tests and benchmarks that run
the whole platform beside anything else on this machine.

RPC queues are named after the service (`rpc-enterprise`), so a platform on the default
vhost would answer another platform's calls; each run therefore gets a vhost of its own,
created and deleted through the RabbitMQ management API.
"""
import json
import os
import socket
import threading
import time
import uuid

import requests
from kombu import Connection, Consumer, Exchange, Queue

from contracts.envelope import CONTENT_TYPE

MANAGEMENT = os.environ.get("RABBIT_MANAGEMENT", "http://localhost:15672/api")
MANAGEMENT_AUTH = ("guest", "guest")


def free_port(span=1):
    """A TCP port nothing listens on, and the `span - 1` ports after it free too (the
    platform's metrics ports are a base and offsets from it)."""
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
        if port + span <= 65535 and all(_is_free(p) for p in range(port, port + span)):
            return port
    raise RuntimeError("no free port found")


def _is_free(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def create_vhost(prefix="sandbox"):
    """A fresh vhost that guest may use fully; returns its name."""
    name = f"{prefix}-{uuid.uuid4().hex[:10]}"
    requests.put(f"{MANAGEMENT}/vhosts/{name}", auth=MANAGEMENT_AUTH,
                 timeout=10).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{name}/guest", auth=MANAGEMENT_AUTH, timeout=10,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    return name


def delete_vhost(name):
    requests.delete(f"{MANAGEMENT}/vhosts/{name}", auth=MANAGEMENT_AUTH, timeout=10)


class EventTap:
    """A separate consumer of the events on topic exchange `exchange` that match
    `routing_key`, read in a background thread: every event published after it was made, at
    least once. `on_event(envelope, perf, wall)` is called as each arrives (perf_counter and
    time.time() of its receipt), under the tap's lock."""

    def __init__(self, amqp_uri, exchange, routing_key="#", on_event=None):
        self.connection = Connection(amqp_uri)
        self.connection.connect()
        self.queue = Queue(f"tap-{uuid.uuid4().hex[:8]}",
                           Exchange(exchange, type="topic", durable=True),
                           routing_key=routing_key, auto_delete=True, exclusive=True)
        channel = self.connection.channel()
        self.queue(channel).declare()
        self.on_event = on_event
        self.events = []
        self.lock = threading.Lock()
        self.running = True
        self.consumer = Consumer(channel, queues=[self.queue], on_message=self._on_message,
                                 accept=[CONTENT_TYPE], no_ack=True, prefetch_count=500)
        self.consumer.consume()
        self.thread = threading.Thread(target=self._run, daemon=True, name="event-tap")
        self.thread.start()

    def _on_message(self, message):
        perf, wall = time.perf_counter(), time.time()
        envelope = json.loads(message.body)
        with self.lock:
            self.events.append(envelope)
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
        with self.lock:
            return list(self.events)

    def wait(self, condition, timeout):
        """True once `condition(events so far)` holds; False if it still does not after
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition(self.snapshot()):
                return True
            time.sleep(0.1)
        return condition(self.snapshot())

    def close(self):
        self.running = False
        self.thread.join(timeout=5)
        self.connection.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
