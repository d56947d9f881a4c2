"""The one table that turns an exception into an HTTP status and an error code.

The body is always {"error": CODE, "message": text}, plus "fields" for validation errors.
Lookup follows the exception's class hierarchy, so a specific refusal (InvalidEnterprise)
finds its general entry (ValidationFailed). Anything not in the table is a bug: 500.
"""
import json
import logging

from werkzeug.wrappers import Response

from kit.errors import ServiceUnavailable, ValidationFailed
from services.dispatch import exceptions as dispatch
from services.dispatch import requests as dispatch_requests
from services.enterprise import exceptions as registry

from .auth import AuthenticationFailed, Forbidden
from .idempotency import IdempotencyKeyReused, RequestInProgress

log = logging.getLogger(__name__)

ERRORS = {
    ValidationFailed: (400, "VALIDATION_FAILED"),
    AuthenticationFailed: (401, "UNAUTHENTICATED"),
    Forbidden: (403, "FORBIDDEN"),
    registry.StationNotFound: (404, "STATION_NOT_FOUND"),
    registry.ParkNotFound: (404, "PARK_NOT_FOUND"),
    registry.GridNotFound: (404, "GRID_NOT_FOUND"),
    registry.EnterpriseNotFound: (404, "ENTERPRISE_NOT_FOUND"),
    registry.OfficerNotFound: (404, "OFFICER_NOT_FOUND"),
    registry.DuplicateCreditCode: (409, "DUPLICATE_CREDIT_CODE"),
    registry.DuplicateBadgeNumber: (409, "DUPLICATE_BADGE_NUMBER"),
    registry.DuplicateGridCode: (409, "DUPLICATE_GRID_CODE"),
    registry.AssignmentChangedMeanwhile: (409, "ASSIGNMENT_CHANGED_MEANWHILE"),
    dispatch.IncidentNotFound: (404, "INCIDENT_NOT_FOUND"),
    dispatch.RequestNotFound: (404, "REQUEST_NOT_FOUND"),
    dispatch.AckNotAllowed: (403, "ACK_NOT_ALLOWED"),
    dispatch.NotOnCase: (403, "NOT_ON_CASE"),
    dispatch.AcknowledgementTooLate: (409, "ACKNOWLEDGEMENT_TOO_LATE"),
    dispatch.IncidentClosed: (409, "INCIDENT_CLOSED"),
    dispatch.ChangedMeanwhile: (409, "CHANGED_MEANWHILE"),
    dispatch.TransitionRefused: (409, "TRANSITION_REFUSED"),
    dispatch_requests.RequestTransitionNotAllowed: (409, "REQUEST_TRANSITION_NOT_ALLOWED"),
    dispatch_requests.VisitRefused: (409, "VISIT_REFUSED"),
    RequestInProgress: (409, "REQUEST_IN_PROGRESS"),
    IdempotencyKeyReused: (422, "IDEMPOTENCY_KEY_REUSED"),
    ServiceUnavailable: (503, "SERVICE_UNAVAILABLE"),
}
UNEXPECTED = (500, "UNEXPECTED_ERROR")


def status_and_code(exc):
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return UNEXPECTED


def error_response(exc):
    status, code = status_and_code(exc)
    if status == 500:
        log.error("unexpected error", exc_info=(type(exc), exc, exc.__traceback__))
    body = {"error": code, "message": str(exc) if status != 500 else "unexpected error"}
    if isinstance(exc, ValidationFailed):
        body["fields"] = exc.errors
    return json_response(body, status)


def json_response(body, status=200, headers=None):
    return Response(json.dumps(body, ensure_ascii=False), status=status, headers=headers,
                    mimetype="application/json")
