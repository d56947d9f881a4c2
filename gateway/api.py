"""The gateway's HTTP entrypoint: authentication, JSON in and out, errors from the one table.

`api(method, url, body=Schema, returns=Schema)` declares a route. The schemas are those of
the service behind it (validation happens there, once); here they describe the route in the
OpenAPI document. A route that answers a document rather than JSON says so: `html=True` (the
service answers an HTML string) or `documents=(media types)` (the service answers a
contracts.api.Document in one of them, sent on as its bytes). Who may call it, and what they
see of the answer, is the route's rule in gateway.policy (named after the method): the
decorated method gets (request, grant, **path values, body=...) only once the policy allowed
the call, and returns a body, or (status, body), which goes out through the caller's view.
"""
from functools import partial, wraps

from eventlet.event import Event
from nameko.web.handlers import HttpRequestHandler
from werkzeug.wrappers import Response

from contracts.api import Document

from . import policy
from .auth import TokenRules, authenticate
from .body import csv_body, json_body
from .errors import error_response, json_response, refusals
from .idempotency import IdempotencyStore, fingerprint
from .readiness import ReadinessState, waiting_for_a_worker
from .server import GatewayServer


class Api(HttpRequestHandler):
    """A route of the gateway's web server (gateway.server: body limits, read timeout, JSON
    404/405). Every exception of the error table with a 4xx is expected, and each error is
    logged once, by error_response, as the answer it became."""

    server = GatewayServer()
    idempotency = IdempotencyStore()
    readiness = ReadinessState()
    logs_its_answers = True

    def __init__(self, method, url, *, summary="", body=None, returns=None,
                 query=None, status=200, public=False, csv_body=False, html=False,
                 documents=(), **kwargs):
        self.summary = summary
        self.html = html  # the answer is an HTML document (a string), not JSON
        self.documents = documents  # the answer is a Document in one of these media types
        self.body_schema = body
        self.returns = returns
        self.query = query
        self.status = status
        self.public = public
        self.csv_body = csv_body
        self.tokens = None
        kwargs.setdefault("expected_exceptions", refusals())
        super().__init__(method, url, **kwargs)

    def setup(self):
        super().setup()
        self.tokens = TokenRules.from_config(self.container.config)  # refuses a weak secret

    def handle_request(self, request):
        request.shallow = False
        try:
            principal = None
            if not self.public:
                principal = authenticate(self.tokens, request.headers.get("Authorization"))
                self.readiness.check()  # 503 until the services were reached
            key = request.headers.get("Idempotency-Key")
            if self.method == "POST" and key and principal is not None:
                status, body, replayed = self.idempotency.run_once(
                    principal, key, fingerprint(self.method, request.full_path,
                                                request.get_data()),
                    partial(self._run, request, principal))
                headers = {"Idempotent-Replayed": "true"} if replayed else None
                return json_response(body, status, headers)
            status, body = self._run(request, principal)
            if self.html and status == 200:
                return Response(body, status=status, mimetype="text/html")
            if self.documents and status == 200:
                return document_response(body, self.documents)
            return json_response(body, status)
        except Exception as exc:
            return error_response(exc, request)

    def _run(self, request, principal):
        kwargs = dict(request.path_values)
        if self.csv_body:
            kwargs["body"] = csv_body(request)
        elif self.method in ("POST", "PATCH", "PUT"):
            kwargs["body"] = json_body(request, required=self.body_schema is not None)
        event = Event()
        with waiting_for_a_worker():  # all busy on slow services: 503, not a queue
            self.container.spawn_worker(
                self, (request, principal), kwargs,
                context_data=self.server.context_data_from_headers(request),
                handle_result=partial(self.handle_result, event))
        result = event.wait()
        return result if isinstance(result, tuple) else (self.status, result)


def document_response(answer, media_types):
    """A service's Document as the HTTP answer: its bytes under its media type. A document in
    a media type the route did not declare is a bug (500), so the API document stays true."""
    document = Document().load(answer)
    if document["media_type"] not in media_types:
        raise ValueError(f"a {document['media_type']} document; the route declares "
                         f"{', '.join(media_types)}")
    return Response(document["content"], status=200, mimetype=document["media_type"])


def api(method, url, **options):
    """Declare a route guarded by its rule in gateway.policy (a route without one cannot be
    declared): the rule decides the call with the services' facts before the route runs, and
    the answer goes out through the caller's view."""
    def declare(route):
        operation = route.__name__
        rule = policy.rule_for(operation)

        @wraps(route)
        def guarded(service, request, principal, **values):
            if rule.public:
                return route(service, request, None, **values)
            grant = policy.Gate(service.enterprise, service.dispatch, service.mediation,
                                service.appraisal, service.feeds,
                                service.fieldwork).authorize(operation, principal, values)
            answer = route(service, request, grant, **values)
            status, body = answer if isinstance(answer, tuple) else (None, answer)
            body = grant.project(body, values.get("kind"))
            return body if status is None else (status, body)

        return Api.decorator(method, url, public=rule.public, **options)(guarded)

    return declare
