"""The committed Grafana dashboard is what the code builds, and it queries only metrics that
exist: the platform's own (declared when its modules are imported) and those RabbitMQ's
prometheus plugin serves (listed in infra/grafana/rabbitmq_metrics.txt, checked against the
broker by tests/e2e/test_grafana_metrics_e2e.py)."""
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

import kit
import services
from infra.grafana import dashboard

RABBITMQ_METRICS = Path(dashboard.__file__).with_name("rabbitmq_metrics.txt")
DATASOURCE_UID = "${datasource}"

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",),
             "histogram": ("_bucket", "_sum", "_count", "_created"),
             "summary": ("", "_sum", "_count", "_created"), "info": ("_info",)}


def metric_names(expr):
    """The liaison_* and rabbitmq_* metric names a PromQL expression reads: identifiers outside
    string literals (so label values never count), whether followed by `{`, `[` or nothing."""
    bare = _STRING.sub('""', expr)
    return {name for name in _IDENTIFIER.findall(bare)
            if name.startswith(("liaison_", "rabbitmq_"))}


def _queries(document):
    """(where, PromQL) of every panel target and every query variable."""
    for panel in document["panels"]:
        for target in panel.get("targets") or []:
            yield panel["title"], target.get("expr", "")
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            yield f"variable {variable['name']}", (
                query["query"] if isinstance(query, dict) else query)


def _exposed_liaison_metrics():
    """Every series name the platform's processes can expose: families collected from the
    default registry once every service module, the gateway and the kit are imported, with
    the suffixes prometheus_client gives each type, plus every sample name seen."""
    modules = ["gateway.service"]
    modules += [f"services.{info.name}.service" for info in pkgutil.iter_modules(services.__path__)
                if info.ispkg]
    modules += [f"kit.{info.name}" for info in pkgutil.iter_modules(kit.__path__)]
    for module in modules:
        importlib.import_module(module)
    names = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return {name for name in names if name.startswith("liaison_")}


def _rabbitmq_metrics():
    lines = (line.strip() for line in RABBITMQ_METRICS.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


@pytest.fixture(scope="module")
def document():
    return dashboard.build()


def test_committed_dashboard_is_what_the_code_builds():
    assert dashboard.PATH.read_text() == dashboard.render(), (
        "infra/grafana/liaison.json is stale: run `python -m infra.grafana.dashboard`")


def test_every_panel_has_a_query(document):
    panels = [panel for panel in document["panels"] if panel["type"] != "row"]
    assert panels
    for panel in panels:
        targets = panel.get("targets") or []
        assert targets, f"panel {panel['title']!r} has no query"
        for target in targets:
            assert target.get("expr", "").strip(), f"panel {panel['title']!r}: empty query"
            assert target.get("refId"), f"panel {panel['title']!r}: a query without refId"


def test_panels_have_distinct_ids(document):
    ids = [panel["id"] for panel in document["panels"]]
    assert len(ids) == len(set(ids))


def test_metric_names_are_parsed_from_promql():
    expr = ('histogram_quantile(0.99, sum by (le) (rate(liaison_a_seconds_bucket{service='
            '"liaison_not_a_metric"}[5m]))) / liaison_b_total + rabbitmq_c{queue=~".+"}'
            ' or on() vector(0) * liaison_d')
    assert metric_names(expr) == {"liaison_a_seconds_bucket", "liaison_b_total", "rabbitmq_c",
                                  "liaison_d"}


def test_every_liaison_metric_queried_is_exposed_by_the_platform(document):
    exposed = _exposed_liaison_metrics()
    assert "liaison_entrypoint_duration_seconds_bucket" in exposed  # the kit's own, sanity
    used = {}
    for where, expr in _queries(document):
        for name in metric_names(expr):
            if name.startswith("liaison_"):
                used.setdefault(name, where)
    assert used
    unknown = {name: where for name, where in used.items() if name not in exposed}
    assert not unknown, f"queried but exposed by no process: {unknown}"


def test_every_rabbitmq_metric_queried_is_one_the_plugin_serves(document):
    served = _rabbitmq_metrics()
    used = {}
    for where, expr in _queries(document):
        for name in metric_names(expr):
            if name.startswith("rabbitmq_"):
                used.setdefault(name, where)
    assert used
    unknown = {name: where for name, where in used.items() if name not in served}
    assert not unknown, f"not in {RABBITMQ_METRICS.name}: {unknown}"


def _datasource_refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            yield from _datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _datasource_refs(item)


def test_the_datasource_is_a_variable_not_a_hard_coded_uid(document):
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in document["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
    refs = list(_datasource_refs(document))
    assert refs
    assert all(ref == {"type": "prometheus", "uid": DATASOURCE_UID} for ref in refs), refs
    assert "__inputs" not in document  # nothing to map at import


def test_service_variable_lists_the_services_that_report_entrypoints(document):
    variables = {v["name"]: v for v in document["templating"]["list"]}
    assert variables["service"]["type"] == "query"
    assert "liaison_entrypoint_requests_total" in variables["service"]["query"]
    service_panels = [p for p in document["panels"] if p["type"] != "row"
                      and any('service="$service"' in t["expr"] for t in p["targets"])]
    assert len(service_panels) >= 3
