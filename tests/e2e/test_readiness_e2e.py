"""A gateway that cannot reach the services yet: not ready, and refuses every API request
with 503 (nothing is taken in) until it has reached them; then it serves by itself. A gateway
whose every worker waits on a stopped service refuses at once rather than queue requests."""
import signal
import time
import uuid
from functools import partial

import eventlet
import pytest
import requests

from gateway.auth import issue_token
from infra.launch import PROCESSES, Platform, jwt_secret
from infra.load_demo import load_demo
from infra.sandbox import create_vhost, delete_vhost, free_port
from kit.testing import eventually

pytestmark = pytest.mark.e2e

RPC_TIMEOUT = 4
wait_for = partial(eventually, ignoring=(requests.RequestException,))


@pytest.fixture
def platform(tmp_path):
    """platform(**env): one on a vhost of its own; started by the test, stopped after."""
    vhost = create_vhost("e2e-ready")
    made = []

    def make(**env):
        made.append(Platform(tmp_path / "data", free_port(), free_port(span=13),
                             amqp_uri=f"amqp://guest:guest@localhost:5672/{vhost}",
                             extra_env={"RPC_TIMEOUT": str(RPC_TIMEOUT), "MONGO_URI": "",
                                        **env},
                             log_dir=tmp_path / "logs"))
        return made[-1]

    try:
        yield make
    finally:
        for platform in made:
            platform.stop()
        delete_vhost(vhost)


def supervisor(platform):
    http = requests.Session()
    http.headers["Authorization"] = "Bearer " + issue_token(
        jwt_secret(platform.data_dir), "supervisor", "e2e-readiness")
    return http


def test_a_gateway_refuses_until_it_has_reached_the_services(platform):
    platform = platform()
    platform.start("gateway")  # alone: nothing answers on its vhost
    http = supervisor(platform)
    assert wait_for(lambda: http.get(platform.url + "/healthz", timeout=5).ok, 60), \
        "the gateway did not start"

    ready = http.get(platform.url + "/readyz", timeout=30)
    assert ready.status_code == 503, ready.text
    assert ready.json()["status"] == "unavailable"
    assert http.get(platform.url + "/v1/openapi.json", timeout=30).status_code == 200

    key = {"Idempotency-Key": uuid.uuid4().hex}
    report = {"enterprise_id": "none-yet", "category": "violence", "priority": "high",
              "description": "before the services", "location": "门口"}
    started = time.monotonic()
    refused = http.post(platform.url + "/v1/incidents", json=report, headers=key, timeout=30)
    assert refused.status_code == 503, refused.text
    assert refused.json()["error"] == "SERVICE_UNAVAILABLE"
    # Refused up front, not after a call to dispatch went unanswered for RPC_TIMEOUT.
    assert time.monotonic() - started < RPC_TIMEOUT
    listing = http.get(platform.url + "/v1/enterprises", timeout=30)
    assert listing.status_code == 503, listing.text

    for name, _, _ in PROCESSES:
        if name != "gateway":
            platform.start(name)
    # Nobody asks /readyz from here on: the gateway finds the services by itself.
    assert wait_for(lambda: http.get(platform.url + "/v1/enterprises",
                                     timeout=30).status_code == 200, 60), \
        "the gateway did not become ready once the services ran"
    assert http.get(platform.url + "/readyz", timeout=30).json()["status"] == "ready"

    load_demo(platform.amqp_uri)
    enterprise = http.get(platform.url + "/v1/enterprises?per_page=1",
                          timeout=30).json()["items"][0]
    # The refused report left nothing behind: the same key now takes a report in.
    taken = http.post(platform.url + "/v1/incidents", headers=key, timeout=30,
                      json=dict(report, enterprise_id=enterprise["id"]))
    assert taken.status_code == 201, taken.text
    assert all(proc.poll() is None for proc in platform.procs.values())


def test_a_gateway_whose_workers_all_wait_refuses_at_once(platform):
    platform = platform(MAX_WORKERS="2")
    platform.start()
    platform.wait_ready(timeout=60)
    http = supervisor(platform)
    pool = eventlet.GreenPool()
    platform.procs["dispatch"].send_signal(signal.SIGSTOP)  # takes calls, never answers
    try:
        waiting = [pool.spawn(http.get, platform.url + "/v1/incidents", timeout=30)
                   for _ in range(2)]
        time.sleep(1)  # both gateway workers now wait on dispatch

        started = time.monotonic()
        busy = http.get(platform.url + "/v1/enterprises", timeout=30)
        assert busy.status_code == 503, busy.text
        assert busy.json()["error"] == "SERVICE_UNAVAILABLE"
        # Refused up front, not queued until a worker's call timed out.
        assert time.monotonic() - started < RPC_TIMEOUT - 1
        assert [w.wait().status_code for w in waiting] == [503, 503]
    finally:
        platform.procs["dispatch"].send_signal(signal.SIGCONT)
    assert wait_for(lambda: http.get(platform.url + "/v1/enterprises",
                                     timeout=30).status_code == 200, 60)
