"""Broker restarts, on a platform of their own. Runs last in the e2e folder, since it stops
RabbitMQ for a while (`broker_stopped` always starts it again).

With acknowledgement deadlines pending: nothing accepted is lost and no failover happens
twice. Deadlines live in dispatch's store, so they fire while the broker is down; the pages
they produce wait in the incidents' outboxes and go out once the broker is back. Our
observer's queue is durable, as an agency's would be, so it keeps what was published before
the stop.

Under intake: every report is answered 201 or 503, each 503 within RPC_TIMEOUT plus a
second, no process exits, and a 503'd report retried with its Idempotency-Key ends as
exactly one incident.
"""
import itertools
import json
import shutil
import socket
import subprocess
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from functools import partial

import eventlet
import pytest
import requests
from kombu import Connection, Exchange, Queue

from gateway.auth import issue_token
from infra.launch import demo_platform, jwt_secret
from kit.testing import eventually

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None,
                       reason="rabbitmqctl is not installed: the broker cannot be restarted"),
]

WINDOW = 3
RPC_TIMEOUT = 5
RATE = 20  # reports a second through the gateway, whatever the answers take
wait_for = partial(eventually, every=0.3)


def broker_answers():
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 5672)) == 0


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


@contextmanager
def broker_stopped():
    """RabbitMQ stopped for the block; started again however the block ends."""
    rabbitmqctl("stop_app")
    try:
        yield
    finally:
        rabbitmqctl("start_app")
        assert wait_for(broker_answers, 60), "the broker did not come back"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with demo_platform(tmp_path_factory.mktemp("restart"), "e2e-restart",
                       {"RPC_TIMEOUT": str(RPC_TIMEOUT), "TOP_REPEATS": "0",
                        "ACK_WINDOW_HIGH": str(WINDOW)}) as platform:
        yield platform


@pytest.fixture(scope="module")
def session(platform):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + issue_token(
        jwt_secret(platform.data_dir), "supervisor", "e2e-restart")
    yield session
    session.close()


@pytest.fixture(scope="module")
def enterprises(platform, session):
    """Enterprises whose A and B officers are both available."""
    found = []
    for enterprise in session.get(platform.url + "/v1/enterprises?per_page=100",
                                  timeout=30).json()["items"]:
        responders = session.get(
            f"{platform.url}/v1/enterprises/{enterprise['id']}/responders", timeout=30).json()
        seats = {s["seat"]: s for s in responders["seats"]}
        if all(k in seats and seats[k]["available"] for k in ("a_officer", "b_officer")):
            found.append(enterprise["id"])
    return found


def test_deadlines_pending_across_a_broker_restart_fail_over_once(platform, session,
                                                                   enterprises):
    observer = Queue("e2e-restart-observer", Exchange("dispatch.events", type="topic",
                                                      durable=True),
                     routing_key="notification.issued", durable=True, auto_delete=False)
    with Connection(platform.amqp_uri) as connection:
        observer(connection.channel()).declare()
    incidents = []
    for i in range(20):
        response = session.post(platform.url + "/v1/incidents", timeout=30, json={
            "enterprise_id": enterprises[i % len(enterprises)], "category": "violence",
            "priority": "high", "description": f"restart {i}", "location": "门口"})
        assert response.status_code == 201, response.text
        incidents.append(response.json())

    with broker_stopped():  # every deadline still pending
        time.sleep(WINDOW + 2)  # ... and now every one has passed, broker down

    ids = {i["id"] for i in incidents}
    pages = []

    def every_incident_failed_over():
        with Connection(platform.amqp_uri) as connection:
            bound = observer(connection.channel())
            while (message := bound.get(no_ack=True)) is not None:
                pages.append(json.loads(message.body)["data"])
        return ids <= {p["incident_id"] for p in pages if p["reason"] == "failover"}

    assert wait_for(every_incident_failed_over, 90), \
        "not every failover was published after the broker came back"
    time.sleep(2)
    every_incident_failed_over()

    failovers = Counter(p["incident_id"] for p in {p["notification_id"]: p for p in pages
                                                   if p["reason"] == "failover"}.values())
    assert set(failovers) == ids and set(failovers.values()) == {1}
    pushes = Counter(p["incident_id"] for p in pages if p["reason"] in ("responsible", "duty",
                                                                        "station"))
    assert all(pushes[i] >= 3 for i in ids)  # the three pushes made before the stop too
    assert all(proc.poll() is None for proc in platform.procs.values())


class Intake:
    """Reports sent at RATE a second, each in a green thread of its own with its own
    Idempotency-Key, whatever the answers take; every answer is kept with its latency."""

    def __init__(self, platform, session, enterprises):
        self.url = platform.url + "/v1/incidents"
        self.auth = session.headers["Authorization"]
        self.enterprises = enterprises
        self.run = uuid.uuid4().hex[:6]
        self.sent = []  # (key, body, status, seconds, answer)
        self.pool = eventlet.GreenPool(10_000)
        self.driver = None
        self.stopping = False

    def report(self, n):
        return {"enterprise_id": self.enterprises[n % len(self.enterprises)],
                "category": "violence", "priority": "low", "location": "门口",
                "description": f"intake {self.run} #{n}"}

    def post(self, key, body):
        started = time.monotonic()
        try:
            response = requests.post(self.url, json=body, timeout=60, headers={
                "Authorization": self.auth, "Idempotency-Key": key})
            status, answer = response.status_code, response.json()
        except (requests.RequestException, ValueError) as error:
            status, answer = type(error).__name__, None
        return status, time.monotonic() - started, answer

    def _send(self, n):
        key, body = f"{self.run}-{n}", self.report(n)
        self.sent.append((key, body, *self.post(key, body)))

    def _drive(self):
        started = time.monotonic()
        for n in itertools.count():
            eventlet.sleep(max(0.0, started + n / RATE - time.monotonic()))
            if self.stopping:
                return
            self.pool.spawn_n(self._send, n)

    def __enter__(self):
        self.driver = eventlet.spawn(self._drive)
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.driver.wait()
        self.pool.waitall()


def ready(platform, session):
    return session.get(platform.url + "/readyz", timeout=30).status_code == 200


def test_intake_across_a_broker_restart_gives_201_or_a_prompt_503(platform, session,
                                                                   enterprises):
    # From a platform that works (the test before restarted the broker too).
    assert wait_for(lambda: ready(platform, session), 60)
    with Intake(platform, session, enterprises) as intake:
        time.sleep(3)
        with broker_stopped():
            time.sleep(4)
        # Until the platform has found the broker again, and a little after.
        assert wait_for(lambda: ready(platform, session), 60)
        time.sleep(3)

    statuses = Counter(status for _, _, status, _, _ in intake.sent)
    refused = [(key, body, seconds) for key, body, status, seconds, _ in intake.sent
               if status == 503]
    slowest = max((seconds for _, _, seconds in refused), default=0.0)
    taken = sorted(seconds for _, _, status, seconds, _ in intake.sent if status == 201)
    print(f"\n{len(intake.sent)} reports: {dict(statuses)}; slowest 503 after {slowest:.2f}s;"
          f" 201 median {taken[len(taken) // 2]:.2f}s, slowest {taken[-1]:.2f}s")
    assert set(statuses) <= {201, 503}, statuses
    assert statuses[201] and statuses[503], "the restart was not felt, or nothing got through"
    assert slowest <= RPC_TIMEOUT + 1, [r for r in refused if r[2] > RPC_TIMEOUT + 1][:5]
    assert all(proc.poll() is None for proc in platform.procs.values()), \
        {name: proc.returncode for name, proc in platform.procs.items()}

    made = {key: answer["id"] for key, _, status, _, answer in intake.sent if status == 201}
    for key, body, _ in refused:  # retried with the same key until taken in
        deadline = time.monotonic() + 60
        while True:
            status, _, answer = intake.post(key, body)
            if status == 201 or time.monotonic() > deadline:
                break
            assert status == 503, (status, answer)
            time.sleep(0.5)
        assert status == 201, (key, answer)
        made[key] = answer["id"]

    incidents = []
    page = 1
    while True:
        listing = session.get(platform.url + "/v1/incidents", timeout=30,
                              params={"page": page, "per_page": 500}).json()
        incidents += listing["items"]
        if page * listing["per_page"] >= listing["total"]:
            break
        page += 1
    mine = Counter(i["description"] for i in incidents
                   if i["description"].startswith(f"intake {intake.run} "))
    by_key = {key: body["description"] for key, body, *_ in intake.sent}
    assert set(made) == set(by_key)
    assert {by_key[key] for key in made} == set(mine)
    assert set(mine.values()) == {1}, [d for d, n in mine.items() if n > 1][:5]
    ids = {i["description"]: i["id"] for i in incidents}
    assert all(ids[by_key[key]] == incident_id for key, incident_id in made.items())
