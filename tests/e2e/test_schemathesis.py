"""Schemathesis drives every operation of /v1/openapi.json against the running platform, as a
supervisor, an officer, an enterprise and an agency: no answer may be a server error, an
undocumented status or content type, or a body that does not match its documented schema; no
operation that needs a token may answer without one, and a method a path does not take gets
405.

Bounded and reproducible: a fixed number of derandomised examples per operation (the
deterministic coverage phase, which walks each schema's boundaries and wrong types, for the
supervisor only), no shrinking. Real ids of the demo county are offered to read operations
and to the reports and requests that name an enterprise, so answers with records in them are
checked, not only 404s; operations that change a record get generated ids only, so the demo
county is not rewritten for the tests after this one.
"""
import hashlib
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from schemathesis.hooks import GLOBAL_HOOK_DISPATCHER

from services.enterprise.domain import DEPARTMENTS

pytestmark = pytest.mark.e2e

ROLES = ("supervisor", "officer", "mediator", "enterprise", "agency")
CHECKS = ("not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance",
          "ignored_auth",  # each operation that needs a token refuses one left out or forged
          "unsupported_method")  # a method the path does not take: 405 in the error shape
MAX_EXAMPLES = 25
ID_CHANCE = 0.6  # how often a generated id is replaced by a real one
# parameter -> the dictionary of real ids offered for it, in read operations
READ_BINDINGS = {
    "path.enterprise_id": "enterprises", "path.officer_id": "officers",
    "path.place_id": "places", "path.incident_id": "incidents",
    "path.request_id": "requests", "path.dispute_id": "disputes",
    "query.enterprise_id": "enterprises",
    "query.station_id": "stations", "query.grid_id": "grids", "query.officer_id": "officers",
}
# ... and in operations that report or ask for an enterprise (they add records, change none)
CREATE_BINDINGS = {"body.enterprise_id": "enterprises"}
CREATES = ("/v1/incidents", "/v1/requests", "/v1/visits", "/v1/disputes")


@dataclass
class Figures:
    role: str
    operations: set = field(default_factory=set)
    cases: int = 0
    checks: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    failures: dict = field(default_factory=lambda: defaultdict(set))
    errors: list = field(default_factory=list)
    seconds: float = 0.0

    def line(self):
        failed = {name: len(self.failures.get(name, ())) for name in CHECKS}
        return (f"schemathesis {self.role}: {len(self.operations)} operations, {self.cases} "
                f"cases, {sum(self.checks.values())} checks in {self.seconds:.0f} s; failures "
                + ", ".join(f"{name} {count}" for name, count in failed.items())
                + f"; errors {len(self.errors)}; answers "
                + " ".join(f"{status}x{count}" for status, count in sorted(self.statuses.items())))

    def report(self):
        lines = [self.line()]
        for name, found in sorted(self.failures.items()):
            for label, title, message in sorted(found)[:40]:
                lines.append(f"  {name} {label}: {title}: {' '.join(message.split())[:400]}")
        lines.extend(f"  error: {error}" for error in self.errors)
        return "\n".join(lines)


# --- who calls, with which ids ---------------------------------------------------------------


def _items(api, token, path):
    response = api("GET", path, token, params={"per_page": 500})
    assert response.status_code == 200, response.text
    return response.json()["items"]


@pytest.fixture(scope="module")
def known(api, supervisor):
    """Real ids of the county, by kind, and an officer with a seat on an enterprise."""
    ids = {kind: [r["id"] for r in _items(api, supervisor, f"/v1/{kind}")]
           for kind in ("enterprises", "officers", "stations", "parks", "grids", "incidents",
                        "requests", "disputes")}
    ids["places"] = ids["stations"] + ids["parks"] + ids["grids"]
    ids["departments"] = list(DEPARTMENTS)
    for enterprise_id in ids["enterprises"]:
        current = api("GET", f"/v1/enterprises/{enterprise_id}/assignments",
                      supervisor).json()["current"]
        if current and current.get("a_officer_id"):
            return ids, current["a_officer_id"], enterprise_id
    pytest.fail("the demo county has no enterprise with an A officer")


@pytest.fixture(scope="module")
def tokens(known, token):
    _, officer_id, enterprise_id = known
    return {
        "supervisor": token("supervisor", sub="schemathesis-supervisor"),
        "officer": token("officer", sub=f"schemathesis-officer-{officer_id}",
                         officer_id=officer_id),
        "enterprise": token("enterprise", sub=f"schemathesis-enterprise-{enterprise_id}",
                            enterprise_id=enterprise_id),
        "mediator": token("mediator", sub="schemathesis-mediator"),
        "agency": token("agency", sub="schemathesis-agency"),
    }


# --- the run ---------------------------------------------------------------------------------


def _bindings(table, ids):
    return {key: {"dictionary": name, "probability": ID_CHANCE}
            for key, name in table.items() if ids.get(name)}


def configuration(token, ids, coverage):
    """Schemathesis' configuration for one role's run."""
    return SchemathesisConfig.from_dict({
        "seed": 7,
        "auth": {"openapi": {"bearer": {"bearer": token}}},
        "request-timeout": 20,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "no-shrink": True,
                       "database": "none"},
        "checks": dict({"enabled": False}, **{name: {"enabled": True} for name in CHECKS}),
        "phases": {"examples": {"enabled": False}, "stateful": {"enabled": False},
                   "coverage": {"enabled": coverage,
                                "extra-data-sources": {"responses": False}},
                   "fuzzing": {"extra-data-sources": {"responses": False}}},
        "dictionaries": {name: {"values": values} for name, values in ids.items() if values},
        "operations": [
            {"include-method": "GET", "parameters": _bindings(READ_BINDINGS, ids)},
            {"include-method": "POST", "include-path": list(CREATES),
             "parameters": _bindings(CREATE_BINDINGS, ids)},
        ],
    })


@contextmanager
def one_key_per_request():
    """A generated Idempotency-Key is made particular to its request (method, path, query,
    body): a request sent twice is still replayed, but one key is not reused for different
    bodies, which would stop them at the gateway (422) before they reach a service."""
    def before_call(context, case, kwargs):
        key = (case.headers or {}).get("Idempotency-Key")
        if key is not None:
            request = repr((case.method, case.path, case.path_parameters, case.query, case.body))
            case.headers["Idempotency-Key"] = (
                f"{key}-{hashlib.sha256(request.encode()).hexdigest()[:12]}")

    GLOBAL_HOOK_DISPATCHER.register_hook_with_name(before_call, "before_call")
    try:
        yield
    finally:
        GLOBAL_HOOK_DISPATCHER.unregister(before_call)


def run(url, role, token, ids, coverage):
    """Every operation of the document at `url`, as `role`; the figures and what failed."""
    config = configuration(token, ids, coverage)
    schema = schemathesis.openapi.from_url(f"{url}/v1/openapi.json", config=config)
    schema.validate()  # a valid OpenAPI 3 document, or this raises naming what is wrong
    schema.config.base_url = url
    figures = Figures(role)
    with one_key_per_request():
        for event in from_schema(schema).execute():
            _record(figures, event)
    return figures


def _record(figures, event):
    if isinstance(event, events.ScenarioFinished):
        recorder = event.recorder
        figures.operations.add(recorder.label)
        figures.cases += len(recorder.cases)
        figures.statuses.update(interaction.response.status_code
                                for interaction in recorder.interactions.values()
                                if interaction.response is not None)
        for checks in recorder.checks.values():
            for check in checks:
                figures.checks[check.name] += 1
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    figures.failures[check.name].add(
                        (recorder.label, failure.title, failure.message or ""))
    elif isinstance(event, events.NonFatalError):
        figures.errors.append(f"{event.label}: {event.value!r}")
    elif isinstance(event, events.FatalError):
        figures.errors.append(f"fatal: {event.exception!r}")
    elif isinstance(event, events.EngineFinished):
        figures.seconds = event.running_time


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(role, platform, known, tokens, capsys):
    ids, _, _ = known
    figures = run(platform.url, role, tokens[role], ids, coverage=role == "supervisor")
    with capsys.disabled():
        print("\n" + figures.line())
    assert figures.operations, "schemathesis tested no operation"
    assert not figures.failures and not figures.errors, figures.report()
