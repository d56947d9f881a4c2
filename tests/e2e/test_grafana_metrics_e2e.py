"""The RabbitMQ metrics the dashboard may query (infra/grafana/rabbitmq_metrics.txt) are the
ones the broker's prometheus plugin really serves. Needs only the broker, with the plugin
enabled (the project's setup enables it)."""
import re
from pathlib import Path

import pytest
import requests

from infra.grafana import dashboard
from tests.unit.test_grafana_dashboard import metric_names

PROMETHEUS = "http://localhost:15692"
DETAILED = (f"{PROMETHEUS}/metrics/detailed"
            "?family=queue_coarse_metrics&family=queue_consumer_count")
ENDPOINTS = (DETAILED, f"{PROMETHEUS}/metrics")
LISTED = Path(dashboard.__file__).with_name("rabbitmq_metrics.txt")
_TYPE_LINE = re.compile(r"^# TYPE (\S+) ")
_SAMPLE_LINE = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)[{ ]")


def _served_names(text):
    names = set()
    for line in text.splitlines():
        match = _TYPE_LINE.match(line) or _SAMPLE_LINE.match(line)
        if match:
            names.add(match.group(1))
    return names


def _scrape(url):
    try:
        answer = requests.get(url, timeout=10)
    except requests.RequestException as error:
        pytest.fail(f"{url} does not answer ({type(error).__name__}): run "
                    "`rabbitmq-plugins enable rabbitmq_prometheus`")
    if answer.status_code != 200:
        pytest.fail(f"{url} answered {answer.status_code}: run "
                    "`rabbitmq-plugins enable rabbitmq_prometheus`")
    return answer.text


def _listed():
    lines = (line.strip() for line in LISTED.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def test_every_listed_rabbitmq_metric_is_served_by_the_broker():
    served = set()
    for url in ENDPOINTS:
        served |= _served_names(_scrape(url))
    listed = _listed()
    assert listed
    missing = sorted(listed - served)
    assert not missing, f"listed in {LISTED.name} but not served by the broker: {missing}"


def test_the_detailed_endpoint_serves_every_rabbitmq_metric_the_dashboard_queries():
    served = _served_names(_scrape(DETAILED))
    queried = {name for panel in dashboard.build()["panels"]
               for target in panel.get("targets") or []
               for name in metric_names(target["expr"]) if name.startswith("rabbitmq_")}
    assert queried
    assert not queried - served, sorted(queried - served)
