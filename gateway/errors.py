"""The one table that turns an exception into an HTTP status and an error code.

The body is always {"error": CODE, "message": text}, plus "fields" for validation errors.
Lookup follows the exception's class hierarchy, so a specific refusal (InvalidEnterprise)
finds its general entry (ValidationFailed). Anything not in the table is a bug: 500.

Every error answer is logged once, escaped: a 4xx as one INFO line (client, method, path,
status, code, message), a 5xx of the table as one ERROR line, and only a bug (500) with its
traceback. (gateway.server logs the other answers, one line each.)
"""
import json
import logging

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

from kit.errors import ServiceUnavailable, ValidationFailed
from kit.logs import escape, format_exception
from services.dispatch import exceptions as dispatch
from services.dispatch import requests as dispatch_requests
from services.enterprise import exceptions as registry

from .auth import AuthenticationFailed, Forbidden
from .body import PayloadTooLarge, RequestTimeout, UnsupportedMediaType
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
    NotFound: (404, "NOT_FOUND"),
    MethodNotAllowed: (405, "METHOD_NOT_ALLOWED"),
    RequestTimeout: (408, "REQUEST_TIMEOUT"),
    PayloadTooLarge: (413, "PAYLOAD_TOO_LARGE"),
    UnsupportedMediaType: (415, "UNSUPPORTED_MEDIA_TYPE"),
}
UNEXPECTED = (500, "UNEXPECTED_ERROR")


def status_and_code(exc):
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return exc.code, exc.name.upper().replace(" ", "_")
    return UNEXPECTED


def refusals():
    """The exceptions of the table answered with a 4xx: expected, not incidents."""
    return tuple(cls for cls, (status, _) in ERRORS.items() if status < 500)


def error_response(exc, request=None):
    """The error's answer in the one shape; the answer is logged (see above)."""
    status, code = status_and_code(exc)
    message = exc.description if isinstance(exc, HTTPException) else str(exc)
    _log_answer(request, status, code, exc, message)
    body = {"error": code, "message": message if status != 500 else "unexpected error"}
    if isinstance(exc, ValidationFailed):
        body["fields"] = exc.errors
    headers = None
    if isinstance(exc, HTTPException):  # e.g. Allow on a 405
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
    return json_response(body, status, headers)


def describe(request):
    """Who asked for what, escaped for a log line: `client METHOD /path?query`."""
    if request is None:
        return "-"
    target = request.path + (f"?{request.query_string.decode('latin-1')}"
                             if request.query_string else "")
    return f"{request.remote_addr} {escape(request.method)} {escape(target)}"


def _log_answer(request, status, code, exc, message):
    line = f"{describe(request)} -> {status} {code}: {escape(message)}"
    if (status, code) == UNEXPECTED:
        log.error("%s\n%s", line, format_exception(exc))
    elif status >= 500:
        log.error("%s", line)
    else:
        log.info("%s", line)


def json_response(body, status=200, headers=None):
    """`body` as JSON. Text that UTF-8 cannot hold (a lone surrogate) is written as its JSON
    escape, so no answer fails to encode."""
    data = json.dumps(body, ensure_ascii=False).encode("utf-8", "backslashreplace")
    return Response(data, status=status, headers=headers, mimetype="application/json")
