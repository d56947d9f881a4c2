"""HTTP under /v1 for front ends: each route checks access, then calls the service behind it."""
from kit.errors import ServiceUnavailable
from kit.heap import SettledHeap
from kit.metrics import Metrics
from kit.rpc import TimedRpcProxy
from kit.schemas import PageQuery, page_schema
from nameko.web.handlers import http
from services.dispatch import schemas as cases
from services.enterprise import schemas as registry

from . import openapi
from .api import api
from .auth import MANAGERS, Forbidden, check_enterprise, check_officer_self, redact
from .errors import json_response

READERS = ("admin", "supervisor", "officer", "enterprise", "agency")
PLACES = "<any(stations, parks, grids):kind>"
PLACE_KIND = {"stations": "station", "parks": "park", "grids": "grid"}
PLACE_INPUTS = (registry.StationInput, registry.ParkInput, registry.GridInput)
PLACE_OUTPUTS = (registry.Station, registry.Park, registry.Grid)
REPORTERS = ("admin", "supervisor", "officer", "enterprise")
RESPONDERS = ("admin", "supervisor", "officer")


def _actor(principal):
    """Who acts, as dispatch records it: the officer or enterprise id, else the token's sub."""
    return {"role": principal.role,
            "id": principal.officer_id or principal.enterprise_id or principal.sub,
            "enterprise_id": principal.enterprise_id}


def _request_key(request, principal):
    """The caller and its Idempotency-Key, if it sent one: dispatch derives the new case's id
    from it, so a retry after a 503 (which releases the key here) finds what the first try
    made."""
    key = request.headers.get("Idempotency-Key")
    return f"{principal.sub}:{key}" if key else None


def _for_own_enterprise(principal, body):
    """An enterprise reports and asks for itself only: its enterprise_id is filled in, and
    another one refused."""
    if principal.role == "enterprise" and isinstance(body, dict):
        if body.setdefault("enterprise_id", principal.enterprise_id) != principal.enterprise_id:
            raise Forbidden("an enterprise acts for itself only")
    return body


def _check_incident(principal, incident):
    """An enterprise sees its own cases, an officer those it was notified of."""
    if principal.role == "enterprise" and incident["enterprise_id"] != principal.enterprise_id:
        raise Forbidden(f"no access to incident {incident['id']}")
    if principal.role == "officer" and principal.officer_id not in {
            n["recipient"]["id"] for n in incident["notifications"]}:
        raise Forbidden(f"no access to incident {incident['id']}")


def _paging(request):
    return {k: request.args[k] for k in ("page", "per_page") if k in request.args}


class GatewayService:
    name = "gateway"

    enterprise = TimedRpcProxy("enterprise")
    dispatch = TimedRpcProxy("dispatch")
    metrics = Metrics()
    heap = SettledHeap()

    # --- health and the API document ----------------------------------------------------

    @http("GET", "/healthz")
    def healthz(self, request):
        return json_response({"status": "ok"})

    @api("GET", "/readyz", public=True, summary="Broker and services answer")
    def readyz(self, request, principal):
        answers = {}
        for name, proxy in (("enterprise", self.enterprise), ("dispatch", self.dispatch)):
            try:
                proxy.ping()
                answers[name] = "ok"
            except ServiceUnavailable as error:
                answers[name] = str(error)
        ready = all(answer == "ok" for answer in answers.values())
        return (200 if ready else 503), dict(answers, status="ready" if ready else "unavailable")

    @api("GET", "/v1/openapi.json", public=True, summary="This API, generated from the schemas")
    def openapi_document(self, request, principal):
        return openapi.document(type(self))

    # --- stations, parks, grids ------------------------------------------------------------

    @api("POST", f"/v1/{PLACES}", roles=MANAGERS, status=201, body=PLACE_INPUTS,
         returns=PLACE_OUTPUTS, summary="Create a station, park or grid")
    def create_place(self, request, principal, kind, body):
        return self.enterprise.create_place(PLACE_KIND[kind], body)

    @api("GET", f"/v1/{PLACES}", roles=READERS, query=PageQuery,
         returns=tuple(page_schema(s) for s in PLACE_OUTPUTS), summary="List stations, parks or grids")
    def list_places(self, request, principal, kind):
        return self.enterprise.list_places(PLACE_KIND[kind], _paging(request))

    @api("GET", f"/v1/{PLACES}/<place_id>", roles=READERS, returns=PLACE_OUTPUTS,
         summary="One station, park or grid")
    def get_place(self, request, principal, kind, place_id):
        return self.enterprise.get_place(PLACE_KIND[kind], place_id)

    @api("PATCH", f"/v1/{PLACES}/<place_id>", roles=MANAGERS, body=PLACE_INPUTS,
         returns=PLACE_OUTPUTS, summary="Change a station, park or grid")
    def update_place(self, request, principal, kind, place_id, body):
        return self.enterprise.update_place(PLACE_KIND[kind], place_id, body)

    # --- enterprises ---------------------------------------------------------------------------

    @api("POST", "/v1/enterprises", roles=MANAGERS, status=201, body=registry.EnterpriseInput,
         returns=registry.Enterprise, summary="Register an enterprise or project")
    def register_enterprise(self, request, principal, body):
        return self.enterprise.register_enterprise(body)

    @api("GET", "/v1/enterprises", roles=READERS, query=PageQuery,
         returns=page_schema(registry.Enterprise),
         summary="Enterprises the caller may see (filters: station_id, grid_id, level, kind)")
    def list_enterprises(self, request, principal):
        filters = {k: request.args[k] for k in ("station_id", "grid_id", "level", "kind")
                   if k in request.args}
        if principal.role == "enterprise":
            filters["ids"] = [principal.enterprise_id]
        elif principal.role == "officer":
            filters["ids"] = self.enterprise.enterprise_ids_for_officer(principal.officer_id)
        page = self.enterprise.list_enterprises(_paging(request), filters)
        page["items"] = [redact(principal, e) for e in page["items"]]
        return page

    @api("GET", "/v1/enterprises/<enterprise_id>", roles=READERS, returns=registry.Enterprise,
         summary="One enterprise")
    def get_enterprise(self, request, principal, enterprise_id):
        self._check_enterprise(principal, enterprise_id)
        return redact(principal, self.enterprise.get_enterprise(enterprise_id))

    @api("PATCH", "/v1/enterprises/<enterprise_id>", roles=MANAGERS,
         body=registry.EnterpriseInput, returns=registry.Enterprise,
         summary="Change an enterprise (only the fields sent)")
    def update_enterprise(self, request, principal, enterprise_id, body):
        return self.enterprise.update_enterprise(enterprise_id, body)

    @api("GET", "/v1/enterprises/<enterprise_id>/file", roles=READERS,
         returns=registry.EnterpriseFile,
         summary="The enterprise's file: profile, assignments, timeline")
    def enterprise_file(self, request, principal, enterprise_id):
        self._check_enterprise(principal, enterprise_id)
        file = self.enterprise.enterprise_file(enterprise_id)
        file["profile"] = redact(principal, file["profile"])
        return file

    @api("GET", "/v1/enterprises/<enterprise_id>/assignments", roles=READERS,
         returns=registry.Assignments, summary="Current assignment and who held which seat")
    def get_assignments(self, request, principal, enterprise_id):
        self._check_enterprise(principal, enterprise_id)
        return self.enterprise.get_assignments(enterprise_id)

    @api("POST", "/v1/enterprises/<enterprise_id>/assignments", roles=MANAGERS, status=201,
         body=registry.AssignmentInput, returns=registry.Assignments,
         summary="Change who is responsible for the enterprise (a new version)")
    def assign(self, request, principal, enterprise_id, body):
        return self.enterprise.assign(enterprise_id, body, principal.sub)

    @api("GET", "/v1/enterprises/<enterprise_id>/responders", roles=READERS,
         query=registry.ResponderQuery, returns=registry.Responders,
         summary="Who responds for the enterprise at time `at` (default now)")
    def responders(self, request, principal, enterprise_id):
        self._check_enterprise(principal, enterprise_id)
        return self.enterprise.responders(enterprise_id, request.args.get("at"))

    @api("GET", "/v1/coverage", roles=MANAGERS, query=registry.ResponderQuery,
         returns=registry.Coverage, summary="Enterprises with gaps in their cover")
    def coverage(self, request, principal):
        return self.enterprise.coverage(request.args.get("at"))

    # --- officers -------------------------------------------------------------------------------

    @api("POST", "/v1/officers", roles=MANAGERS, status=201, body=registry.OfficerInput,
         returns=registry.Officer, summary="Register an officer")
    def register_officer(self, request, principal, body):
        return self.enterprise.register_officer(body)

    @api("GET", "/v1/officers", roles=("admin", "supervisor", "officer"), query=PageQuery,
         returns=page_schema(registry.Officer), summary="Officers (filters: station_id, role)")
    def list_officers(self, request, principal):
        filters = {k: request.args[k] for k in ("station_id", "role") if k in request.args}
        return self.enterprise.list_officers(_paging(request), filters)

    @api("GET", "/v1/officers/<officer_id>", roles=("admin", "supervisor", "officer"),
         returns=registry.Officer, summary="One officer")
    def get_officer(self, request, principal, officer_id):
        return self.enterprise.get_officer(officer_id)

    @api("PATCH", "/v1/officers/<officer_id>", roles=MANAGERS, body=registry.OfficerInput,
         returns=registry.Officer, summary="Change an officer (only the fields sent)")
    def update_officer(self, request, principal, officer_id, body):
        return self.enterprise.update_officer(officer_id, body)

    @api("POST", "/v1/officers/<officer_id>/availability", roles=("admin", "supervisor",
                                                                  "officer"),
         body=registry.AvailabilityInput, returns=registry.Officer,
         summary="Put an officer on leave, off duty, or back on duty")
    def change_availability(self, request, principal, officer_id, body):
        check_officer_self(principal, officer_id)
        return self.enterprise.change_availability(officer_id, body)

    # --- bulk import ------------------------------------------------------------------------

    @api("POST", "/v1/imports/<any(enterprises, officers, assignments):kind>", roles=MANAGERS,
         csv_body=True, returns=registry.ImportReport,
         summary="Import CSV rows; ?mode=all_or_nothing (default) or good_rows")
    def import_csv(self, request, principal, kind, body):
        command = {"kind": kind, "text": body,
                   "mode": request.args.get("mode", "all_or_nothing")}
        return self.enterprise.import_csv(command, principal.sub)

    # --- incidents -------------------------------------------------------------------------

    @api("POST", "/v1/incidents", roles=REPORTERS, status=201, body=cases.IncidentInput,
         returns=cases.Incident,
         summary="Report an incident: pushed at once to the responsible officer, the officer "
                 "on duty and the station")
    def report_incident(self, request, principal, body):
        return self.dispatch.report_incident(_for_own_enterprise(principal, body),
                                             _actor(principal), _request_key(request, principal))

    @api("GET", "/v1/incidents", roles=READERS, query=PageQuery,
         returns=page_schema(cases.Incident),
         summary="Incidents the caller may see, newest first (filters: enterprise_id, state)")
    def list_incidents(self, request, principal):
        filters = {k: request.args[k] for k in ("enterprise_id", "state", "officer_id")
                   if k in request.args}
        if principal.role == "enterprise":
            filters["enterprise_id"] = principal.enterprise_id
        elif principal.role == "officer":
            filters["officer_id"] = principal.officer_id
        return self.dispatch.list_incidents(_paging(request), filters)

    @api("GET", "/v1/incidents/<incident_id>", roles=READERS, returns=cases.Incident,
         summary="One incident with its notifications and audit log")
    def get_incident(self, request, principal, incident_id):
        incident = self.dispatch.get_incident(incident_id)
        _check_incident(principal, incident)
        return incident

    @api("POST", "/v1/incidents/<incident_id>/acknowledgements", roles=("officer",),
         body=cases.AcknowledgementInput, returns=cases.Incident,
         summary="Acknowledge a page you received (stops further pages for it)")
    def acknowledge_incident(self, request, principal, incident_id, body):
        return self.dispatch.acknowledge(incident_id, body, principal.officer_id)

    @api("POST", "/v1/incidents/<incident_id>/transitions", roles=REPORTERS,
         body=cases.TransitionInput, returns=cases.Incident,
         summary="Move the incident on: on_scene, resolved, referred or cancelled")
    def move_incident(self, request, principal, incident_id, body):
        return self.dispatch.move_incident(incident_id, body, _actor(principal))

    @api("POST", "/v1/incidents/<incident_id>/departments", roles=RESPONDERS,
         body=cases.DepartmentsInput, returns=cases.Incident,
         summary="Call specialist departments to the incident")
    def call_departments(self, request, principal, incident_id, body):
        return self.dispatch.call_departments(incident_id, body, _actor(principal))

    @api("POST", "/v1/incidents/<incident_id>/departments/<department>/acknowledgements",
         roles=RESPONDERS, returns=cases.Incident,
         summary="A called department reports in")
    def department_acknowledges(self, request, principal, incident_id, department, body):
        return self.dispatch.department_acknowledges(incident_id, department,
                                                     _actor(principal))

    # --- enterprise requests -----------------------------------------------------------------

    @api("GET", "/v1/services", roles=READERS, returns=cases.ServiceDefinition,
         summary="The service catalogue (Open311 services with typed attributes)")
    def service_catalogue(self, request, principal):
        return self.dispatch.services()

    @api("POST", "/v1/requests", roles=REPORTERS, status=201, body=cases.RequestInput,
         returns=cases.ServiceRequest,
         summary="Submit a service request; it is routed at once")
    def submit_request(self, request, principal, body):
        return self.dispatch.submit_request(_for_own_enterprise(principal, body),
                                            _actor(principal), _request_key(request, principal))

    @api("GET", "/v1/requests", roles=READERS, query=PageQuery,
         returns=page_schema(cases.ServiceRequest),
         summary="Service requests, newest first (filters: enterprise_id, status)")
    def list_requests(self, request, principal):
        filters = {k: request.args[k] for k in ("enterprise_id", "status")
                   if k in request.args}
        if principal.role == "enterprise":
            filters["enterprise_id"] = principal.enterprise_id
        return self.dispatch.list_requests(_paging(request), filters)

    @api("GET", "/v1/requests/<request_id>", roles=READERS, returns=cases.ServiceRequest,
         summary="One service request with its status notes")
    def get_request(self, request, principal, request_id):
        found = self.dispatch.get_request(request_id)
        if principal.role == "enterprise" and found["enterprise_id"] != principal.enterprise_id:
            raise Forbidden(f"no access to request {request_id}")
        return found

    @api("POST", "/v1/requests/<request_id>/steps", roles=REPORTERS,
         body=cases.RequestStepInput, returns=cases.ServiceRequest,
         summary="Route, start, refer, follow up, close or (enterprise) rate a request")
    def request_step(self, request, principal, request_id, body):
        return self.dispatch.request_step(request_id, body, _actor(principal))

    # --- visits ----------------------------------------------------------------------------------

    @api("POST", "/v1/visits", roles=("officer",), status=201, body=cases.VisitInput,
         returns=cases.VisitOutcome,
         summary="Plan a visit: merged with one planned nearby, refused past the limit")
    def plan_visit(self, request, principal, body):
        return self.dispatch.plan_visit(body, principal.officer_id)

    @api("GET", "/v1/enterprises/<enterprise_id>/visits", roles=READERS,
         returns=cases.Visit, summary="Visits planned to the enterprise")
    def enterprise_visits(self, request, principal, enterprise_id):
        self._check_enterprise(principal, enterprise_id)
        return self.dispatch.visits(enterprise_id)

    @api("GET", "/v1/visits/cadence", roles=MANAGERS, returns=cases.CadenceRow,
         summary="Per enterprise: lead visited this month, liaison officer this week")
    def visit_cadence(self, request, principal):
        return self.dispatch.visit_cadence()

    def _check_enterprise(self, principal, enterprise_id):
        check_enterprise(principal, enterprise_id,
                         lambda: self.enterprise.enterprise_ids_for_officer(principal.officer_id))

