"""A real Prometheus beside the running platform (infra/prometheus.py): it scrapes every
process and the broker's queues of the platform's vhost, and the committed alerting rules
fire when dispatch is killed and clear when it is back.

The rules are the committed ones with every `for:` shortened to seconds, so that the test
does not wait minutes; their expressions are not touched. Prometheus comes with Debian's
prometheus package, which infra/setup installs: without it the test fails, as CI must run it.
"""
import shutil
from functools import partial

import pytest
import requests
import yaml
from nameko.standalone.rpc import ServiceRpcProxy

from infra.launch import PROCESSES, _vhost
from infra.prometheus import RULES, Prometheus
from kit.testing import eventually

pytestmark = pytest.mark.e2e

HOLD = "2s"  # every rule's `for:` in the test copy
TIMEOUT = 60
wait_for = partial(eventually, timeout=TIMEOUT, every=0.25,
                   ignoring=(requests.RequestException,))


def rules_held_for(path, hold):
    """A copy of the committed rules at `path` with every `for:` set to `hold`."""
    rules = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["for"] = hold
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


@pytest.fixture
def prometheus(platform, tmp_path):
    if shutil.which("prometheus") is None:
        pytest.fail("prometheus is not installed: infra/setup installs it (Debian's prometheus "
                    "package: apt-get install prometheus)", pytrace=False)
    server = Prometheus(platform, scrape_interval=1, evaluation_interval=1,
                        rule_files=[rules_held_for(tmp_path / "rules.yml", HOLD)])
    server.start()
    try:
        assert server.wait_ready(timeout=30), \
            (platform.log_dir / "prometheus.log").read_text(errors="replace")[-3000:]
        yield server
    finally:
        server.stop()


def process_down_alerts(prometheus):
    return {alert["labels"]["job"]: alert["state"] for alert in prometheus.api("alerts")["alerts"]
            if alert["labels"]["alertname"] == "LiaisonProcessDown"}


def dispatch_answers(platform):
    with ServiceRpcProxy("dispatch", {"AMQP_URI": platform.amqp_uri}, timeout=30) as dispatch:
        return dispatch.ping() == "pong"


def test_prometheus_scrapes_the_platform_and_sees_dispatch_go_and_come_back(platform,
                                                                          prometheus):
    # The committed rules are loaded, each with the test's short hold.
    committed = yaml.safe_load(RULES.read_text())["groups"]
    loaded = {rule["name"]: rule for group in prometheus.api("rules")["groups"]
              for rule in group["rules"]}
    assert set(loaded) == {rule["alert"] for group in committed for rule in group["rules"]}
    assert {rule["duration"] for rule in loaded.values()} == {2}

    # Every process's target, and the broker's, up.
    jobs = {name for name, _, _ in PROCESSES} | {"rabbitmq", "rabbitmq-queues"}

    def healthy():
        targets = prometheus.api("targets", state="active")["activeTargets"]
        return {t["labels"]["job"] for t in targets if t["health"] == "up"} >= jobs

    assert wait_for(healthy), prometheus.api("targets", state="active")
    ports = {t["labels"]["job"]: t["labels"]["instance"]
             for t in prometheus.api("targets", state="active")["activeTargets"]}
    assert ports["dispatch"] == f"127.0.0.1:{platform.metrics_port('dispatch')}"

    # The broker's per-queue series, of the platform's vhost only.
    vhost = _vhost(platform.amqp_uri)

    def query(expr):
        return prometheus.api("query", query=expr)["result"]

    assert wait_for(lambda: query(
        f'rabbitmq_detailed_queue_consumers{{vhost="{vhost}", queue="rpc-dispatch"}} >= 1'))
    assert query(f'rabbitmq_detailed_queue_messages_ready{{vhost="{vhost}", '
                 'queue="dispatch.incident_reports"}')
    assert query(f'rabbitmq_detailed_queue_messages_ready{{vhost!="{vhost}"}}') == []
    assert query('liaison_entrypoint_requests_total{job="gateway"}')  # the processes' own
    # counted from zero at start, so that the first one passing is an increase
    assert query('liaison_dispute_deadlines_passed_total{job="mediation", deadline="settle"}')
    assert process_down_alerts(prometheus) == {}

    killed = False
    try:
        platform.kill("dispatch")
        killed = True
        fired = wait_for(lambda: process_down_alerts(prometheus).get("dispatch") == "firing")
        assert fired, prometheus.api("alerts")
        assert process_down_alerts(prometheus) == {"dispatch": "firing"}  # no other process

        platform.start("dispatch")
        assert dispatch_answers(platform)
        killed = False
        assert wait_for(lambda: "dispatch" not in process_down_alerts(prometheus)), \
            prometheus.api("alerts")
        assert process_down_alerts(prometheus) == {}
    finally:
        if killed:  # the session's platform gets its dispatch back whatever failed
            platform.start("dispatch")
            dispatch_answers(platform)
