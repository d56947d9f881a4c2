"""HTTP under /v1 for front ends: each route calls the service behind it, once its rule in
gateway.policy has allowed the call (routes hold no access checks of their own)."""
import eventlet
from kit.errors import ServiceUnavailable
from kit.heap import SettledHeap
from kit.metrics import Metrics
from kit.rpc import TimedRpcProxy
from kit.schemas import PageQuery, listing_query, page_schema, query_schema
from nameko.web.handlers import http
from services.dispatch import schemas as cases
from services.enterprise import schemas as registry

from . import openapi
from .api import api
from .errors import json_response
from .idempotency import request_key
from .readiness import Readiness, probe_readiness

PLACES = "<any(stations, parks, grids):kind>"
PLACE_KIND = {"stations": "station", "parks": "park", "grids": "grid"}
PLACE_INPUTS = (registry.StationInput, registry.ParkInput, registry.GridInput)
PLACE_OUTPUTS = (registry.Station, registry.Park, registry.Grid)


def _request_key(request, principal):
    """The caller and its Idempotency-Key, if it sent one, as the key is kept: dispatch
    derives the new case's id from it, so a retry after a 503 (which releases the key here)
    finds what the first try made."""
    key = request.headers.get("Idempotency-Key")
    return request_key(principal, key) if key else None


def _pinged(proxy):
    """"ok", or why the service did not answer."""
    try:
        proxy.ping()
        return "ok"
    except ServiceUnavailable as error:
        return str(error)


def _paging(request):
    return {k: request.args[k] for k in ("page", "per_page") if k in request.args}


def _filters(request, names, grant):
    """The listing filters asked for in the query, narrowed by the caller's scope."""
    return dict({k: request.args[k] for k in names if k in request.args}, **grant.filters)


class GatewayService:
    name = "gateway"

    enterprise = TimedRpcProxy("enterprise")
    dispatch = TimedRpcProxy("dispatch")
    metrics = Metrics()
    heap = SettledHeap()
    readiness = Readiness()

    # --- health and the API document ----------------------------------------------------

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
        for proxy in (self.enterprise, self.dispatch):
            pile.spawn(_pinged, proxy)
        answers = dict(zip(("enterprise", "dispatch"), pile))
        ready = all(answer == "ok" for answer in answers.values())
        self.readiness.record(ready, probe)
        return (200 if ready else 503), dict(answers, status="ready" if ready else "unavailable")

    @api("GET", "/v1/openapi.json", summary="This API, generated from the schemas")
    def openapi_document(self, request, grant):
        return openapi.document(type(self))

    # --- stations, parks, grids ------------------------------------------------------------

    @api("POST", f"/v1/{PLACES}", status=201, body=PLACE_INPUTS,
         returns=PLACE_OUTPUTS, summary="Create a station, park or grid")
    def create_place(self, request, grant, kind, body):
        return self.enterprise.create_place(PLACE_KIND[kind], body)

    @api("GET", f"/v1/{PLACES}", query=PageQuery,
         returns=tuple(page_schema(s) for s in PLACE_OUTPUTS),
         summary="List stations, parks or grids")
    def list_places(self, request, grant, kind):
        return self.enterprise.list_places(PLACE_KIND[kind], _paging(request))

    @api("GET", f"/v1/{PLACES}/<place_id>", returns=PLACE_OUTPUTS,
         summary="One station, park or grid")
    def get_place(self, request, grant, kind, place_id):
        return self.enterprise.get_place(PLACE_KIND[kind], place_id)

    @api("PATCH", f"/v1/{PLACES}/<place_id>", body=PLACE_INPUTS,
         returns=PLACE_OUTPUTS, summary="Change a station, park or grid")
    def update_place(self, request, grant, kind, place_id, body):
        return self.enterprise.update_place(PLACE_KIND[kind], place_id, body)

    # --- enterprises ---------------------------------------------------------------------------

    @api("POST", "/v1/enterprises", status=201, body=registry.EnterpriseInput,
         returns=registry.Enterprise, summary="Register an enterprise or project")
    def register_enterprise(self, request, grant, body):
        return self.enterprise.register_enterprise(body)

    @api("GET", "/v1/enterprises",
         query=listing_query("EnterpriseQuery", registry.EnterpriseFilter,
                             only=("station_id", "grid_id", "level", "kind")),
         returns=page_schema(registry.Enterprise),
         summary="Enterprises the caller may see (filters: station_id, grid_id, level, kind)")
    def list_enterprises(self, request, grant):
        return self.enterprise.list_enterprises(
            _paging(request), _filters(request, ("station_id", "grid_id", "level", "kind"), grant))

    @api("GET", "/v1/enterprises/<enterprise_id>", returns=registry.Enterprise,
         summary="One enterprise")
    def get_enterprise(self, request, grant, enterprise_id):
        return self.enterprise.get_enterprise(enterprise_id)

    @api("PATCH", "/v1/enterprises/<enterprise_id>", body=registry.EnterpriseInput,
         returns=registry.Enterprise,
         summary="Change an enterprise (only the fields sent)")
    def update_enterprise(self, request, grant, enterprise_id, body):
        return self.enterprise.update_enterprise(enterprise_id, body)

    @api("GET", "/v1/enterprises/<enterprise_id>/file", returns=registry.EnterpriseFile,
         summary="The enterprise's file: profile, assignments, timeline")
    def enterprise_file(self, request, grant, enterprise_id):
        return self.enterprise.enterprise_file(enterprise_id)

    @api("GET", "/v1/enterprises/<enterprise_id>/assignments", returns=registry.Assignments,
         summary="Current assignment and who held which seat")
    def get_assignments(self, request, grant, enterprise_id):
        return self.enterprise.get_assignments(enterprise_id)

    @api("POST", "/v1/enterprises/<enterprise_id>/assignments", status=201,
         body=registry.AssignmentInput, returns=registry.Assignments,
         summary="Change who is responsible for the enterprise (a new version)")
    def assign(self, request, grant, enterprise_id, body):
        return self.enterprise.assign(enterprise_id, body, grant.sub)

    @api("GET", "/v1/enterprises/<enterprise_id>/responders", query=registry.ResponderQuery,
         returns=registry.Responders,
         summary="Who responds for the enterprise at time `at` (default now)")
    def responders(self, request, grant, enterprise_id):
        return self.enterprise.responders(enterprise_id, request.args.get("at"))

    @api("GET", "/v1/coverage", query=registry.ResponderQuery,
         returns=registry.Coverage, summary="Enterprises with gaps in their cover")
    def coverage(self, request, grant):
        return self.enterprise.coverage(request.args.get("at"))

    # --- officers -------------------------------------------------------------------------------

    @api("POST", "/v1/officers", status=201, body=registry.OfficerInput,
         returns=registry.Officer, summary="Register an officer")
    def register_officer(self, request, grant, body):
        return self.enterprise.register_officer(body)

    @api("GET", "/v1/officers",
         query=listing_query("OfficerQuery", registry.OfficerFilter,
                             only=("station_id", "role")),
         returns=page_schema(registry.Officer), summary="Officers (filters: station_id, role)")
    def list_officers(self, request, grant):
        filters = {k: request.args[k] for k in ("station_id", "role") if k in request.args}
        return self.enterprise.list_officers(_paging(request), filters)

    @api("GET", "/v1/officers/<officer_id>", returns=registry.Officer, summary="One officer")
    def get_officer(self, request, grant, officer_id):
        return self.enterprise.get_officer(officer_id)

    @api("PATCH", "/v1/officers/<officer_id>", body=registry.OfficerInput,
         returns=registry.Officer, summary="Change an officer (only the fields sent)")
    def update_officer(self, request, grant, officer_id, body):
        return self.enterprise.update_officer(officer_id, body)

    @api("POST", "/v1/officers/<officer_id>/availability", body=registry.AvailabilityInput,
         returns=registry.Officer,
         summary="Put an officer on leave, off duty, or back on duty")
    def change_availability(self, request, grant, officer_id, body):
        return self.enterprise.change_availability(officer_id, body)

    # --- bulk import ------------------------------------------------------------------------

    @api("POST", "/v1/imports/<any(enterprises, officers, assignments):kind>", csv_body=True,
         query=query_schema("ImportQuery", registry.ImportInput, only=("mode",)),
         returns=registry.ImportReport,
         summary="Import CSV rows; ?mode=all_or_nothing (default) or good_rows")
    def import_csv(self, request, grant, kind, body):
        command = {"kind": kind, "text": body,
                   "mode": request.args.get("mode", "all_or_nothing")}
        return self.enterprise.import_csv(command, grant.sub)

    # --- incidents -------------------------------------------------------------------------

    @api("POST", "/v1/incidents", status=201, body=cases.IncidentInput,
         returns=cases.Incident,
         summary="Report an incident: pushed at once to the responsible officer, the officer "
                 "on duty and the station")
    def report_incident(self, request, grant, body):
        return self.dispatch.report_incident(body, grant.actor, _request_key(request, grant))

    @api("GET", "/v1/incidents",
         query=listing_query("IncidentQuery", cases.IncidentFilter,
                             only=("enterprise_id", "state", "officer_id")),
         returns=page_schema(cases.Incident),
         summary="Incidents the caller may see, newest first (filters: enterprise_id, state)")
    def list_incidents(self, request, grant):
        return self.dispatch.list_incidents(
            _paging(request), _filters(request, ("enterprise_id", "state", "officer_id"), grant))

    @api("GET", "/v1/incidents/<incident_id>", returns=cases.Incident,
         summary="One incident with its notifications and audit log")
    def get_incident(self, request, grant, incident_id):
        return grant.record or self.dispatch.get_incident(incident_id)

    @api("POST", "/v1/incidents/<incident_id>/acknowledgements", body=cases.AcknowledgementInput,
         returns=cases.Incident,
         summary="Acknowledge a page you received (stops further pages for it)")
    def acknowledge_incident(self, request, grant, incident_id, body):
        return self.dispatch.acknowledge(incident_id, body, grant.officer_id)

    @api("POST", "/v1/incidents/<incident_id>/transitions", body=cases.TransitionInput,
         returns=cases.Incident,
         summary="Move the incident on: on_scene, resolved, referred or cancelled")
    def move_incident(self, request, grant, incident_id, body):
        return self.dispatch.move_incident(incident_id, body, grant.actor)

    @api("POST", "/v1/incidents/<incident_id>/departments", body=cases.DepartmentsInput,
         returns=cases.Incident,
         summary="Call specialist departments to the incident")
    def call_departments(self, request, grant, incident_id, body):
        return self.dispatch.call_departments(incident_id, body, grant.actor)

    @api("POST", "/v1/incidents/<incident_id>/departments/<department>/acknowledgements",
         returns=cases.Incident,
         summary="A called department reports in")
    def department_acknowledges(self, request, grant, incident_id, department, body):
        return self.dispatch.department_acknowledges(incident_id, department,
                                                     grant.actor)

    # --- enterprise requests -----------------------------------------------------------------

    @api("GET", "/v1/services", returns=cases.ServiceDefinition(many=True),
         summary="The service catalogue (Open311 services with typed attributes)")
    def service_catalogue(self, request, grant):
        return self.dispatch.services()

    @api("POST", "/v1/requests", status=201, body=cases.RequestInput,
         returns=cases.ServiceRequest,
         summary="Submit a service request; it is routed at once")
    def submit_request(self, request, grant, body):
        return self.dispatch.submit_request(body, grant.actor, _request_key(request, grant))

    @api("GET", "/v1/requests",
         query=listing_query("RequestQuery", cases.RequestFilter,
                             only=("enterprise_id", "status")),
         returns=page_schema(cases.ServiceRequest),
         summary="Service requests, newest first (filters: enterprise_id, status)")
    def list_requests(self, request, grant):
        return self.dispatch.list_requests(
            _paging(request), _filters(request, ("enterprise_id", "status"), grant))

    @api("GET", "/v1/requests/<request_id>", returns=cases.ServiceRequest,
         summary="One service request with its status notes")
    def get_request(self, request, grant, request_id):
        return grant.record or self.dispatch.get_request(request_id)

    @api("POST", "/v1/requests/<request_id>/steps", body=cases.RequestStepInput,
         returns=cases.ServiceRequest,
         summary="Route, start, refer, follow up, close or (enterprise) rate a request")
    def request_step(self, request, grant, request_id, body):
        return self.dispatch.request_step(request_id, body, grant.actor)

    # --- visits ----------------------------------------------------------------------------------

    @api("POST", "/v1/visits", status=201, body=cases.VisitInput,
         returns=cases.VisitOutcome,
         summary="Plan a visit: merged with one planned nearby, refused past the limit")
    def plan_visit(self, request, grant, body):
        return self.dispatch.plan_visit(body, grant.officer_id)

    @api("GET", "/v1/enterprises/<enterprise_id>/visits", returns=cases.Visit(many=True),
         summary="Visits planned to the enterprise")
    def enterprise_visits(self, request, grant, enterprise_id):
        return self.dispatch.visits(enterprise_id)

    @api("GET", "/v1/visits/cadence", returns=cases.CadenceRow(many=True),
         summary="Per enterprise: lead visited this month, liaison officer this week")
    def visit_cadence(self, request, grant):
        return self.dispatch.visit_cadence()

