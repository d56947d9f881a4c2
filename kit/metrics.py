"""Prometheus metrics for every nameko process, from one provider.

`Metrics` times every entrypoint of the service it is declared on (requests, errors by kind,
latency histogram; `timed` does the same for work outside nameko's workers) and serves the
process's registry on `METRICS_PORT` (0 or unset: not served, still counted), on the address
`METRICS_HOST` (127.0.0.1 unless set: a container sets 0.0.0.0 so that Prometheus reaches
it). An expected error (a refusal) is counted, and logged as one line without a traceback (`kit.logs`); only an unexpected one is logged with its traceback. HTTP
answers are counted by route and status with `count_http_response()`, whether or not a
worker ran. Domain gauges are declared by each service with `gauge()`.
"""
import time
from contextlib import contextmanager

from nameko.extensions import DependencyProvider
from prometheus_client import REGISTRY, Counter, Gauge, Histogram, start_http_server

from . import logs

REQUESTS = Counter("liaison_entrypoint_requests_total", "Entrypoint calls handled.",
                   ["service", "entrypoint"])
ERRORS = Counter("liaison_entrypoint_errors_total",
                 "Entrypoint calls that raised; kind is expected (refused input) or unexpected.",
                 ["service", "entrypoint", "kind", "error"])
LATENCY = Histogram("liaison_entrypoint_duration_seconds", "Time spent in an entrypoint.",
                    ["service", "entrypoint"],
                    buckets=(.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5))
HTTP_RESPONSES = Counter("liaison_http_responses_total",
                         "HTTP answers by route (the entrypoint's name, 'unmatched' when no "
                         "route matched) and status code.", ["service", "route", "status"])

_served_ports = set()
_gauges = {}


def _metric(kind, name, documentation, labels, **options):
    if name not in _gauges:
        _gauges[name] = kind(name, documentation, list(labels), **options)
    return _gauges[name]


@contextmanager
def timed(service, entrypoint, expected=()):
    """The same requests, errors and duration as a worker's, for work a service runs outside
    nameko's workers (a stream it follows, a queue of outsiders it reads): one call of
    `entrypoint` per `with`."""
    started = time.perf_counter()
    try:
        yield
    except Exception as error:
        kind = "expected" if isinstance(error, expected) else "unexpected"
        ERRORS.labels(service, entrypoint, kind, type(error).__name__).inc()
        raise
    finally:
        REQUESTS.labels(service, entrypoint).inc()
        LATENCY.labels(service, entrypoint).observe(time.perf_counter() - started)


def count_http_response(service, route, status):
    HTTP_RESPONSES.labels(service, route, str(status)).inc()


def gauge(name, documentation, labels=()):
    """The process-wide gauge `name`, created on first use."""
    return _metric(Gauge, name, documentation, labels)


def counter(name, documentation, labels=()):
    return _metric(Counter, name, documentation, labels)


def histogram(name, documentation, labels=(), buckets=Histogram.DEFAULT_BUCKETS):
    return _metric(Histogram, name, documentation, labels, buckets=buckets)


class Metrics(DependencyProvider):
    def __init__(self):
        self.started = {}

    def setup(self):
        logs.one_line_for_expected_errors()
        port = int(self.container.config.get("METRICS_PORT") or 0)
        if port and port not in _served_ports:
            host = self.container.config.get("METRICS_HOST") or "127.0.0.1"
            start_http_server(port, addr=host, registry=REGISTRY)
            _served_ports.add(port)

    def worker_setup(self, worker_ctx):
        self.started[worker_ctx] = time.perf_counter()

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self.started.pop(worker_ctx, None)
        service = self.container.service_name
        name = worker_ctx.entrypoint.method_name
        REQUESTS.labels(service, name).inc()
        if started is not None:
            LATENCY.labels(service, name).observe(time.perf_counter() - started)
        if exc_info is not None:
            expected = getattr(worker_ctx.entrypoint, "expected_exceptions", ()) or ()
            error = exc_info[1]
            kind = "expected" if isinstance(error, expected) else "unexpected"
            # another service's exception is named by its own type, not by RemoteError
            named = getattr(error, "exc_type", None) or type(error).__name__
            ERRORS.labels(service, name, kind, named).inc()

    def get_dependency(self, worker_ctx):
        return self
