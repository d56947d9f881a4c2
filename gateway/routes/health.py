"""The gateway's own routes: liveness, readiness and the API document."""
import eventlet
from nameko.web.handlers import http

from kit.errors import ServiceUnavailable

from .. import openapi
from ..api import api
from ..errors import json_response
from ..readiness import probe_readiness


def _pinged(proxy):
    """"ok", or why the service did not answer."""
    try:
        proxy.ping()
        return "ok"
    except ServiceUnavailable as error:
        return str(error)


SERVICES = ("enterprise", "dispatch", "mediation", "appraisal", "fieldwork")  # the gateway's proxies, by name


class HealthRoutes:
    @http("GET", "/healthz")
    def healthz(self, request):
        return json_response({"status": "ok"})

    @probe_readiness
    @api("GET", "/readyz", returns=openapi.Readiness, summary="Broker and services answer")
    def readyz(self, request, grant):
        """Every service is asked at once; what this finds is what the gateway serves by
        (gateway.readiness)."""
        probe = self.readiness.begin()
        pile = eventlet.GreenPile()
        for name in SERVICES:
            pile.spawn(_pinged, getattr(self, name))
        answers = dict(zip(SERVICES, pile))
        ready = all(answer == "ok" for answer in answers.values())
        self.readiness.record(ready, probe)
        return (200 if ready else 503), dict(answers, status="ready" if ready else "unavailable")

    @api("GET", "/v1/openapi.json", summary="This API, generated from the schemas")
    def openapi_document(self, request, grant):
        return openapi.document(type(self))
