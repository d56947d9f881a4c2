"""What the platform-wide fault suite needs: a client that insists as a careful one does (the
same Idempotency-Key again after a 503, a 409 REQUEST_IN_PROGRESS or no answer at all), queue
readers that outlive a broker restart, the broker restart itself, and a readiness probe that
says when the platform serves again after a fault.

The broker on localhost:5672 is restarted with `rabbitmqctl stop_app` / `start_app`, as
tests/e2e/test_restart_broker.py does, and is always started again, however the test ends.
"""
import json
import socket
import subprocess
import threading
import time
import uuid
from functools import partial
from urllib.parse import unquote, urlsplit

import amqp
import eventlet
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from kit.testing import eventually

BROKER = ("127.0.0.1", 5672)
HTTP_TIMEOUT = 15
NO_ANSWER = "no answer"  # refused, cut off, or timed out: the outcome is unknown
# A service's cheap read through the gateway, and the services the gateway itself pings.
CHEAP_READS = {
    "enterprise": "/v1/enterprises?per_page=1",
    "dispatch": "/v1/incidents?per_page=1",
    "mediation": "/v1/disputes?per_page=1",
    "appraisal": "/v1/appraisal/invitations?per_page=1",
    "feeds": "/v1/subscriptions?per_page=1",
    "fieldwork": "/v1/patrols?per_page=1",
}
SERVICES = tuple(CHEAP_READS)
SUMMARY = []  # lines the terminal summary prints (conftest.py): the time-to-ready table


# --- waiting -----------------------------------------------------------------------------------

# True-ish as soon as a condition holds (any exception counts as not yet), else False-ish
wait_for = partial(eventually, every=0.3, ignoring=(Exception,))


# --- HTTP ----------------------------------------------------------------------------------------


class Client:
    """Calls the gateway and keeps every attempt (monotonic time, method, path, status) for the
    fault table. `insist` sends the same request, with the same Idempotency-Key, until it is
    answered with something other than "try again"."""

    RETRY_CODES = ("REQUEST_IN_PROGRESS", "CHANGED_MEANWHILE")

    def __init__(self, url):
        self.url = url
        self.attempts = []
        self.lock = threading.Lock()
        self.abandoned = threading.Event()  # set: insist no more (the platform is gone)

    def call(self, method, path, token=None, json_body=None, key=None, timeout=HTTP_TIMEOUT):
        headers = {}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            response = requests.request(method, self.url + path, json=json_body,
                                        headers=headers, timeout=timeout)
            status = response.status_code
            try:
                body = response.json()
            except ValueError:
                body = {"text": response.text[:200]}
        except requests.RequestException:
            status, body = NO_ANSWER, None
        with self.lock:
            self.attempts.append((time.monotonic(), method, path.split("?")[0], status))
        return status, body

    def again(self, status, body):
        if status in (NO_ANSWER, 502, 503, 504):
            return True
        return status == 409 and (body or {}).get("error") in self.RETRY_CODES

    def insist(self, method, path, token, json_body=None, key=None, within=180, pause=0.5):
        """(status, body, tries): the first answer that is not "try again", or the last one
        after `within` seconds."""
        deadline = time.monotonic() + within
        tries = 0
        while True:
            tries += 1
            status, body = self.call(method, path, token, json_body, key)
            if (not self.again(status, body) or time.monotonic() > deadline
                    or self.abandoned.is_set()):
                return status, body, tries
            time.sleep(pause)

    def listing(self, path, token, per_page=500):
        """Every item of a paged listing (each page insisted on)."""
        items, page = [], 1
        separator = "&" if "?" in path else "?"
        while True:
            status, body, _ = self.insist("GET", f"{path}{separator}page={page}"
                                                 f"&per_page={per_page}", token)
            assert status == 200, (path, status, body)
            items += body["items"]
            if page * body["per_page"] >= body["total"]:
                return items
            page += 1


# --- the broker ----------------------------------------------------------------------------------


def broker_answers():
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(BROKER) == 0


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def restart_broker(down_for):
    """Stop the broker's application, leave it down `down_for` seconds, start it again.
    Returns the monotonic time `start_app` was issued. The broker is started again however
    this ends."""
    rabbitmqctl("stop_app")
    try:
        assert wait_for(lambda: not broker_answers(), 15), \
            "stop_app did not stop the broker on 5672"
        time.sleep(down_for)
    finally:
        restarted = time.monotonic()
        rabbitmqctl("start_app")
    assert wait_for(broker_answers, 60), "the broker did not come back"
    return restarted


def vhost_of(amqp_uri):
    return unquote(urlsplit(amqp_uri).path[1:]) or "/"


def declare_observer(amqp_uri, exchange, routing_keys):
    """A durable queue of our own bound to topic exchange `exchange` (an agency's queue is
    durable too): it keeps what is published while its reader is away, a broker restart
    included. Returns its name; it goes with the vhost."""
    name = f"faults-observer-{uuid.uuid4().hex[:8]}"
    parts = urlsplit(amqp_uri)
    connection = amqp.Connection(f"{parts.hostname}:{parts.port or 5672}",
                                 userid=unquote(parts.username), password=unquote(parts.password),
                                 virtual_host=vhost_of(amqp_uri), connect_timeout=5)
    connection.connect()
    try:
        channel = connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        channel.queue_declare(name, durable=True, auto_delete=False)
        for key in routing_keys:
            channel.queue_bind(name, exchange, key)
    finally:
        connection.close()
    return name


class Reader:
    """Reads `queue` as `user` in a thread of its own, acknowledging each message once kept,
    and connects again whenever the connection is lost (a broker restart): every message the
    queue got is in `envelopes` (as parsed JSON) at least once."""

    def __init__(self, vhost, user, password, queue, host="localhost", port=5672):
        self.args = dict(host=f"{host}:{port}", userid=user, password=password,
                         virtual_host=vhost, connect_timeout=5)
        self.queue = queue
        self.envelopes = []
        self.reconnects = 0
        self.lock = threading.Lock()
        self.running = True
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"reader-{queue}")
        self.thread.start()

    def _run(self):
        while self.running:
            connection = None
            try:
                connection = amqp.Connection(**self.args)
                connection.connect()
                channel = connection.channel()
                channel.basic_qos(0, 500, False)

                def take(message, channel=channel):
                    envelope = json.loads(message.body)
                    with self.lock:
                        self.envelopes.append(envelope)
                    channel.basic_ack(message.delivery_tag)

                channel.basic_consume(self.queue, callback=take)
                while self.running:
                    try:
                        connection.drain_events(timeout=0.3)
                    except TimeoutError:
                        continue
            except Exception:
                if self.running:
                    self.reconnects += 1
                    time.sleep(0.5)
            finally:
                if connection is not None:
                    try:
                        connection.collect()
                    except Exception:
                        pass

    def snapshot(self):
        with self.lock:
            return list(self.envelopes)

    def wait(self, condition, timeout):
        return wait_for(lambda: condition(self.snapshot()), timeout, every=0.2) \
            or condition(self.snapshot())

    def close(self):
        self.running = False
        self.thread.join(timeout=5)


# --- readiness ---------------------------------------------------------------------------------


def rpc_ping(amqp_uri, service, timeout=3):
    """True if `service` answers its `ping` RPC within `timeout` seconds."""
    with eventlet.Timeout(timeout + 3, False):
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as cluster:
            getattr(cluster, service).ping()
            return True
    return False


def serving(platform, client, admin, services):
    """The platform serves: the gateway is ready (/readyz 200: it reached the services it
    pings), and each of `services` answers its RPC ping and a cheap read through the
    gateway."""
    status, _ = client.call("GET", "/readyz", timeout=5)
    if status != 200:
        return False
    for service in services:
        if not rpc_ping(platform.amqp_uri, service):
            return False
        status, _ = client.call("GET", CHEAP_READS[service], admin, timeout=5)
        if status != 200:
            return False
    return True


def time_to_ready(platform, client, admin, services, since, timeout):
    """Seconds from `since` (monotonic) until the platform serves `services` again, or None
    if it did not within `timeout` seconds."""
    if wait_for(lambda: serving(platform, client, admin, services), timeout, every=0.1):
        return time.monotonic() - since
    return None
