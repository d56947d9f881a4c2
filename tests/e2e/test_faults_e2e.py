"""A gateway that cannot reach the services yet: not ready, and refuses every API request
with 503 (nothing is taken in) until it has reached them; then it serves by itself."""
import time
import uuid

import pytest
import requests

from gateway.auth import issue_token
from infra.launch import Platform, jwt_secret
from infra.load_demo import load_demo
from infra.sandbox import create_vhost, delete_vhost, free_port

pytestmark = pytest.mark.e2e

RPC_TIMEOUT = 4


def wait_for(condition, timeout, every=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return True
        except requests.RequestException:
            pass
        time.sleep(every)
    return False


@pytest.fixture
def platform(tmp_path):
    vhost = create_vhost("e2e-ready")
    platform = Platform(tmp_path / "data", free_port(), free_port(span=13),
                        amqp_uri=f"amqp://guest:guest@localhost:5672/{vhost}",
                        extra_env={"RPC_TIMEOUT": str(RPC_TIMEOUT), "MONGO_URI": ""},
                        log_dir=tmp_path / "logs")
    try:
        yield platform
    finally:
        platform.stop()
        delete_vhost(vhost)


def test_a_gateway_refuses_until_it_has_reached_the_services(platform):
    platform.start("gateway")  # alone: nothing answers on its vhost
    http = requests.Session()
    assert wait_for(lambda: http.get(platform.url + "/healthz", timeout=5).ok, 60), \
        "the gateway did not start"
    http.headers["Authorization"] = "Bearer " + issue_token(
        jwt_secret(platform.data_dir), "supervisor", "e2e-readiness")

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

    platform.start("enterprise")
    platform.start("dispatch")
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
