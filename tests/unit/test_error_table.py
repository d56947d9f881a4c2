"""The gateway's one error table: every expected refusal has its status and code; the rest is 500."""
import json

import pytest

from gateway.auth import AuthenticationFailed, Forbidden
from gateway.errors import error_response, status_and_code
from gateway.idempotency import IdempotencyKeyReused, RequestInProgress
from kit.errors import ServiceUnavailable, ValidationFailed
from services.dispatch import exceptions as dispatch
from services.enterprise import exceptions as registry


@pytest.mark.parametrize("exc, status, code", [
    (ValidationFailed({"name": ["required"]}), 400, "VALIDATION_FAILED"),
    (registry.InvalidEnterprise({"migrant_workers": ["cannot exceed workforce"]}), 400,
     "VALIDATION_FAILED"),
    (registry.InvalidAssignment({"b_officer_id": ["A and B must be two different officers"]}),
     400, "VALIDATION_FAILED"),
    (registry.InvalidImport({"header": ["missing column 'name'"]}), 400, "VALIDATION_FAILED"),
    (AuthenticationFailed("the token has expired"), 401, "UNAUTHENTICATED"),
    (Forbidden("no access to enterprise e2"), 403, "FORBIDDEN"),
    (registry.StationNotFound("s9"), 404, "STATION_NOT_FOUND"),
    (registry.ParkNotFound("p9"), 404, "PARK_NOT_FOUND"),
    (registry.GridNotFound("g9"), 404, "GRID_NOT_FOUND"),
    (registry.EnterpriseNotFound("e9"), 404, "ENTERPRISE_NOT_FOUND"),
    (registry.OfficerNotFound("o9"), 404, "OFFICER_NOT_FOUND"),
    (registry.DuplicateCreditCode("credit_code", "91350100M000100Y43"), 409,
     "DUPLICATE_CREDIT_CODE"),
    (registry.DuplicateBadgeNumber("badge_number", "A1001"), 409, "DUPLICATE_BADGE_NUMBER"),
    (registry.DuplicateGridCode("code", "G01"), 409, "DUPLICATE_GRID_CODE"),
    (registry.AssignmentChangedMeanwhile("e1"), 409, "ASSIGNMENT_CHANGED_MEANWHILE"),
    (RequestInProgress(), 409, "REQUEST_IN_PROGRESS"),
    (dispatch.ChangedMeanwhile({"incident_id": ["too many concurrent changes; try again"]}),
     409, "CHANGED_MEANWHILE"),
    (IdempotencyKeyReused(), 422, "IDEMPOTENCY_KEY_REUSED"),
    (ServiceUnavailable("enterprise did not answer"), 503, "SERVICE_UNAVAILABLE"),
    (RuntimeError("secret internals: mongodb://admin:pw@db"), 500, "UNEXPECTED_ERROR"),
    (KeyError("password"), 500, "UNEXPECTED_ERROR"),
])
def test_exception_maps_to_status_and_code(exc, status, code):
    assert status_and_code(exc) == (status, code)

    response = error_response(exc)
    body = json.loads(response.get_data(as_text=True))
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert body["error"] == code
    if status == 500:
        assert body == {"error": "UNEXPECTED_ERROR", "message": "unexpected error"}
    else:
        assert body["message"] == str(exc)
    if isinstance(exc, ValidationFailed):
        assert body["fields"] == exc.errors
    else:
        assert "fields" not in body
