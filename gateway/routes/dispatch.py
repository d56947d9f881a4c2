"""Dispatch's routes: incidents, service requests and visits; and the error rows of its
refusals, by type name."""
from contracts.api import dispatch as contract
from kit.schemas import listing_query, page_schema

from ..api import api
from ..idempotency import request_key
from . import filters, paging

ERRORS = {
    "IncidentNotFound": (404, "INCIDENT_NOT_FOUND"),
    "RequestNotFound": (404, "REQUEST_NOT_FOUND"),
    "AckNotAllowed": (403, "ACK_NOT_ALLOWED"),
    "NotOnCase": (403, "NOT_ON_CASE"),
    "AcknowledgementTooLate": (409, "ACKNOWLEDGEMENT_TOO_LATE"),
    "IncidentClosed": (409, "INCIDENT_CLOSED"),
    "ChangedMeanwhile": (409, "CHANGED_MEANWHILE"),
    "TransitionRefused": (409, "TRANSITION_REFUSED"),
    "RequestTransitionNotAllowed": (409, "REQUEST_TRANSITION_NOT_ALLOWED"),
    "VisitRefused": (409, "VISIT_REFUSED"),
    "IncidentExists": (400, "VALIDATION_FAILED"),
    "RequestExists": (400, "VALIDATION_FAILED"),
    "InvalidRequest": (400, "VALIDATION_FAILED"),
    "InvalidVisit": (400, "VALIDATION_FAILED"),
}


def _request_key(request, principal):
    """The caller and its Idempotency-Key, if it sent one, as the key is kept: dispatch
    derives the new case's id from it, so a retry after a 503 (which releases the key here)
    finds what the first try made."""
    key = request.headers.get("Idempotency-Key")
    return request_key(principal, key) if key else None


class DispatchRoutes:
    # --- incidents -------------------------------------------------------------------------

    @api("POST", "/v1/incidents", status=201, body=contract.IncidentInput,
         returns=contract.Incident,
         summary="Report an incident: pushed at once to the responsible officer, the officer "
                 "on duty and the station")
    def report_incident(self, request, grant, body):
        return self.dispatch.report_incident(body, grant.actor, _request_key(request, grant))

    @api("GET", "/v1/incidents",
         query=listing_query("IncidentQuery", contract.IncidentFilter,
                             only=("enterprise_id", "state", "officer_id")),
         returns=page_schema(contract.Incident),
         summary="Incidents the caller may see, newest first (filters: enterprise_id, state)")
    def list_incidents(self, request, grant):
        return self.dispatch.list_incidents(
            paging(request), filters(request, ("enterprise_id", "state", "officer_id"), grant))

    @api("GET", "/v1/incidents/<incident_id>", returns=contract.Incident,
         summary="One incident with its notifications and audit log")
    def get_incident(self, request, grant, incident_id):
        return grant.record or self.dispatch.get_incident(incident_id)

    @api("POST", "/v1/incidents/<incident_id>/acknowledgements", body=contract.AcknowledgementInput,
         returns=contract.Incident,
         summary="Acknowledge a page you received (stops further pages for it)")
    def acknowledge_incident(self, request, grant, incident_id, body):
        return self.dispatch.acknowledge(incident_id, body, grant.officer_id)

    @api("POST", "/v1/incidents/<incident_id>/transitions", body=contract.TransitionInput,
         returns=contract.Incident,
         summary="Move the incident on: on_scene, resolved, referred or cancelled")
    def move_incident(self, request, grant, incident_id, body):
        return self.dispatch.move_incident(incident_id, body, grant.actor)

    @api("POST", "/v1/incidents/<incident_id>/departments", body=contract.DepartmentsInput,
         returns=contract.Incident,
         summary="Call specialist departments to the incident")
    def call_departments(self, request, grant, incident_id, body):
        return self.dispatch.call_departments(incident_id, body, grant.actor)

    @api("POST", "/v1/incidents/<incident_id>/departments/<department>/acknowledgements",
         returns=contract.Incident,
         summary="A called department reports in")
    def department_acknowledges(self, request, grant, incident_id, department, body):
        return self.dispatch.department_acknowledges(incident_id, department,
                                                     grant.actor)

    # --- enterprise requests -----------------------------------------------------------------

    @api("GET", "/v1/services", returns=contract.ServiceDefinition(many=True),
         summary="The service catalogue (Open311 services with typed attributes)")
    def service_catalogue(self, request, grant):
        return self.dispatch.services()

    @api("POST", "/v1/requests", status=201, body=contract.RequestInput,
         returns=contract.ServiceRequest,
         summary="Submit a service request; it is routed at once")
    def submit_request(self, request, grant, body):
        return self.dispatch.submit_request(body, grant.actor, _request_key(request, grant))

    @api("GET", "/v1/requests",
         query=listing_query("RequestQuery", contract.RequestFilter,
                             only=("enterprise_id", "status")),
         returns=page_schema(contract.ServiceRequest),
         summary="Service requests, newest first (filters: enterprise_id, status)")
    def list_requests(self, request, grant):
        return self.dispatch.list_requests(
            paging(request), filters(request, ("enterprise_id", "status"), grant))

    @api("GET", "/v1/requests/<request_id>", returns=contract.ServiceRequest,
         summary="One service request with its status notes")
    def get_request(self, request, grant, request_id):
        return grant.record or self.dispatch.get_request(request_id)

    @api("POST", "/v1/requests/<request_id>/steps", body=contract.RequestStepInput,
         returns=contract.ServiceRequest,
         summary="Route, start, refer, follow up, close or (enterprise) rate a request")
    def request_step(self, request, grant, request_id, body):
        return self.dispatch.request_step(request_id, body, grant.actor)

    # --- visits ----------------------------------------------------------------------------------

    @api("POST", "/v1/visits", status=201, body=contract.VisitInput,
         returns=contract.VisitOutcome,
         summary="Plan a visit: merged with one planned nearby, refused past the limit")
    def plan_visit(self, request, grant, body):
        return self.dispatch.plan_visit(body, grant.officer_id)

    @api("GET", "/v1/enterprises/<enterprise_id>/visits", returns=contract.Visit(many=True),
         summary="Visits planned to the enterprise")
    def enterprise_visits(self, request, grant, enterprise_id):
        return self.dispatch.visits(enterprise_id)

    @api("GET", "/v1/visits/cadence", returns=contract.CadenceRow(many=True),
         summary="Per enterprise: lead visited this month, liaison officer this week")
    def visit_cadence(self, request, grant):
        return self.dispatch.visit_cadence()
