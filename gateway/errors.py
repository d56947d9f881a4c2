"""The one table that turns an exception into an HTTP status and an error code.

The table is keyed by the exception's type name: a service's refusal reaches the gateway as
kit.remote.RemoteError naming its type (the gateway imports no service), and an exception
raised here is looked up by its class's name, then its bases' names. Every exception that
crosses the broker has its own row (a remote type name has no bases to fall back on). The
body is always {"error": CODE, "message": text}, plus "fields" for validation errors.
Anything not in the table is a bug: 500.

Every error answer is logged once, escaped: a 4xx as one INFO line (client, method, path,
status, code, message), a 5xx of the table as one ERROR line, and only a bug (500) with its
traceback. (gateway.server logs the other answers, one line each.)
"""
import json
import logging
from functools import cache

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from kit.errors import ValidationFailed
from kit.logs import escape, format_exception
from kit.remote import RemoteError

log = logging.getLogger(__name__)

# What any request may meet before a service answers it.
CALLER = {
    "ValidationFailed": (400, "VALIDATION_FAILED"),
    "AuthenticationFailed": (401, "UNAUTHENTICATED"),
    "Forbidden": (403, "FORBIDDEN"),
}
# The gateway's own: repeated requests, services that do not answer, routing, body limits.
GATEWAY = {
    "RequestInProgress": (409, "REQUEST_IN_PROGRESS"),
    "IdempotencyKeyReused": (422, "IDEMPOTENCY_KEY_REUSED"),
    "ServiceUnavailable": (503, "SERVICE_UNAVAILABLE"),
    "NotFound": (404, "NOT_FOUND"),
    "MethodNotAllowed": (405, "METHOD_NOT_ALLOWED"),
    "RequestTimeout": (408, "REQUEST_TIMEOUT"),
    "PayloadTooLarge": (413, "PAYLOAD_TOO_LARGE"),
    "UnsupportedMediaType": (415, "UNSUPPORTED_MEDIA_TYPE"),
}


@cache
def table():
    """The one table, type name -> (status, code): the caller's rows, each service's (in its
    module of gateway.routes), then the gateway's own."""
    from .routes import (appraisal, dispatch, feeds, fieldwork, mediation,  # here: routes
                         registry)                                        # answer so

    return {**CALLER, **registry.ERRORS, **dispatch.ERRORS, **mediation.ERRORS,
            **appraisal.ERRORS, **feeds.ERRORS, **fieldwork.ERRORS, **GATEWAY}


UNEXPECTED = (500, "UNEXPECTED_ERROR")


def type_names(exc):
    """The names the table knows `exc` by, most specific first: a remote error's type name,
    or the names of the exception's class and its bases."""
    if isinstance(exc, RemoteError):
        return (exc.exc_type,)
    return tuple(cls.__name__ for cls in type(exc).__mro__)


def status_and_code(exc):
    rows = table()
    for name in type_names(exc):
        if name in rows:
            return rows[name]
    if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
        return exc.code, exc.name.upper().replace(" ", "_")
    return UNEXPECTED


class _AnsweredWith4xx(type):
    def __instancecheck__(cls, exc):
        return isinstance(exc, Exception) and status_and_code(exc)[0] < 500


class Refusal(metaclass=_AnsweredWith4xx):
    """In an isinstance check, any exception the table answers with a 4xx."""


def refusals():
    """What the table answers with a 4xx, as nameko's `expected_exceptions`: expected, not
    incidents."""
    return (Refusal,)


def _message_and_fields(exc):
    if isinstance(exc, RemoteError):
        return exc.value, exc.errors
    if isinstance(exc, HTTPException):
        return exc.description, None
    return str(exc), exc.errors if isinstance(exc, ValidationFailed) else None


def error_response(exc, request=None):
    """The error's answer in the one shape; the answer is logged (see above)."""
    status, code = status_and_code(exc)
    message, fields = _message_and_fields(exc)
    _log_answer(request, status, code, exc, message)
    body = {"error": code, "message": message if status != 500 else "unexpected error"}
    if fields is not None and status < 500:
        body["fields"] = fields
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
