"""A broker restart with acknowledgement deadlines pending: nothing accepted is lost and no
failover happens twice. Runs last in the e2e folder, since it stops RabbitMQ for a while.

Deadlines live in dispatch's store, so they fire while the broker is down; the pages they
produce wait in the incidents' outboxes and go out once the broker is back. Our observer's
queue is durable, as an agency's would be, so it keeps what was published before the stop.
"""
import json
import shutil
import socket
import subprocess
import time
from collections import Counter

import pytest
import requests
from kombu import Connection, Exchange, Queue

from gateway.auth import issue_token
from infra.launch import Platform, jwt_secret
from infra.load_demo import load_demo
from infra.sandbox import create_vhost, delete_vhost, free_port

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None,
                       reason="rabbitmqctl is not installed: the broker cannot be restarted"),
]

WINDOW = 3


def broker_answers():
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", 5672)) == 0


def rabbitmqctl(*args):
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=120)


def wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.3)
    return False


def test_deadlines_pending_across_a_broker_restart_fail_over_once(tmp_path):
    vhost = create_vhost("e2e-restart")
    amqp_uri = f"amqp://guest:guest@localhost:5672/{vhost}"
    platform = Platform(tmp_path / "data", free_port(), free_port(span=13), amqp_uri=amqp_uri,
                        extra_env={"RPC_TIMEOUT": "5", "MONGO_URI": "", "TOP_REPEATS": "0",
                                   "ACK_WINDOW_HIGH": str(WINDOW)},
                        log_dir=tmp_path / "logs")
    observer = Queue("e2e-restart-observer", Exchange("dispatch.events", type="topic",
                                                      durable=True),
                     routing_key="notification.issued", durable=True, auto_delete=False)
    platform.start()
    try:
        platform.wait_ready(timeout=60)
        load_demo(amqp_uri)
        with Connection(amqp_uri) as connection:
            observer(connection.channel()).declare()
        session = requests.Session()
        session.headers["Authorization"] = "Bearer " + issue_token(
            jwt_secret(platform.data_dir), "supervisor", "e2e-restart")
        enterprises = []
        for enterprise in session.get(platform.url + "/v1/enterprises?per_page=100",
                                      timeout=30).json()["items"]:
            responders = session.get(
                f"{platform.url}/v1/enterprises/{enterprise['id']}/responders",
                timeout=30).json()
            seats = {s["seat"]: s for s in responders["seats"]}
            if all(k in seats and seats[k]["available"] for k in ("a_officer", "b_officer")):
                enterprises.append(enterprise["id"])
        incidents = []
        for i in range(20):
            response = session.post(platform.url + "/v1/incidents", timeout=30, json={
                "enterprise_id": enterprises[i % len(enterprises)], "category": "violence",
                "priority": "high", "description": f"restart {i}", "location": "门口"})
            assert response.status_code == 201, response.text
            incidents.append(response.json())

        rabbitmqctl("stop_app")  # every deadline still pending
        try:
            time.sleep(WINDOW + 2)  # ... and now every one has passed, broker down
        finally:
            rabbitmqctl("start_app")
        assert wait_for(broker_answers, 60), "the broker did not come back"

        ids = {i["id"] for i in incidents}
        pages = []

        def every_incident_failed_over():
            with Connection(amqp_uri) as connection:
                bound = observer(connection.channel())
                while (message := bound.get(no_ack=True)) is not None:
                    pages.append(json.loads(message.body)["data"])
            return ids <= {p["incident_id"] for p in pages if p["reason"] == "failover"}

        assert wait_for(every_incident_failed_over, 90), \
            "not every failover was published after the broker came back"
        time.sleep(2)
        every_incident_failed_over()
    finally:
        platform.stop()
        delete_vhost(vhost)

    failovers = Counter(p["incident_id"] for p in {p["notification_id"]: p for p in pages
                                                   if p["reason"] == "failover"}.values())
    assert set(failovers) == ids and set(failovers.values()) == {1}
    pushes = Counter(p["incident_id"] for p in pages if p["reason"] in ("responsible", "duty",
                                                                        "station"))
    assert all(pushes[i] >= 3 for i in ids)  # the three pushes made before the stop too
