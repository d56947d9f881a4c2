"""The gateway's one error table: every exception that crosses the broker has its row, and is
answered by it whether it arrives as itself or, as the gateway receives it, by its type name;
the gateway's own refusals have theirs; the rest is 500."""
import importlib
import inspect
import json
import pkgutil

import pytest
from nameko.exceptions import serialize

import services
from gateway.auth import AuthenticationFailed, Forbidden
from gateway.errors import error_response, status_and_code
from gateway.idempotency import IdempotencyKeyReused, RequestInProgress
from gateway.routes import appraisal, dispatch, feeds, mediation, registry
from kit.errors import ServiceUnavailable, ValidationFailed, crossing
from kit.remote import RemoteError
from services.feeds.exceptions import BrokerRefused

# A service that does not answer in time: the outcome is unknown, so not a refusal.
NOT_A_REFUSAL = {ServiceUnavailable: (503, "SERVICE_UNAVAILABLE"),
                 # the broker's management API did not answer: try again, not a refusal
                 BrokerRefused: (503, "BROKER_UNAVAILABLE")}


def _exceptions_modules():
    for service in pkgutil.iter_modules(services.__path__):
        try:
            yield importlib.import_module(f"services.{service.name}.exceptions")
        except ModuleNotFoundError as missing:  # a service without refusals of its own yet
            if missing.name != f"services.{service.name}.exceptions":
                raise


EXCEPTIONS_MODULES = list(_exceptions_modules())
DECLARED = [cls for module in EXCEPTIONS_MODULES for _, cls in inspect.getmembers(
    module, lambda c: inspect.isclass(c) and issubclass(c, Exception)
    and c.__module__ == module.__name__)]
CROSSING = crossing()


def an_instance(cls):
    """`cls` with made-up arguments: field errors for `errors`, a short text for the rest."""
    if cls.__init__ is Exception.__init__:
        return cls(f"{cls.__name__} for a test")
    args = [{"name": ["why"]} if name == "errors" else f"{name}-1"
            for name, parameter in inspect.signature(cls).parameters.items()
            if parameter.default is parameter.empty
            and parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD)]
    return cls(*args)


def as_the_gateway_receives_it(exc):
    """`exc` raised in a service, serialised into its RPC answer, and raised by kit.rpc."""
    return RemoteError.from_answer(json.loads(json.dumps(serialize(exc))))


def body_of(response):
    return json.loads(response.get_data(as_text=True))


def test_every_service_has_its_exceptions_found():
    assert {module.__name__ for module in EXCEPTIONS_MODULES} >= {
        "services.enterprise.exceptions", "services.dispatch.exceptions",
        "services.mediation.exceptions"}
    assert len(DECLARED) >= 25


@pytest.mark.parametrize("cls", DECLARED, ids=lambda cls: cls.__name__)
def test_every_exception_a_service_declares_crosses_the_broker(cls):
    assert cls in CROSSING, f"{cls.__qualname__} is not marked crosses_broker"


@pytest.mark.parametrize("cls", CROSSING, ids=lambda cls: cls.__name__)
def test_every_exception_that_crosses_the_broker_has_its_row(cls):
    exc = an_instance(cls)
    status, code = status_and_code(as_the_gateway_receives_it(exc))  # by its name alone
    if cls in NOT_A_REFUSAL:
        assert (status, code) == NOT_A_REFUSAL[cls]
    else:
        assert 400 <= status < 500, (cls, status)
    assert code and code == code.upper() and code != "UNEXPECTED_ERROR"

    for received in (exc, as_the_gateway_receives_it(exc)):
        response = error_response(received)
        body = body_of(response)
        assert (response.status_code, body["error"]) == (status, code)
        assert response.mimetype == "application/json"
        assert body["message"] == str(exc)
        if isinstance(exc, ValidationFailed):
            assert body["fields"] == exc.errors
        else:
            assert "fields" not in body


def test_every_row_of_a_service_names_an_exception_that_crosses_the_broker():
    names = {cls.__name__ for cls in CROSSING}
    for rows in (registry.ERRORS, dispatch.ERRORS, mediation.ERRORS, appraisal.ERRORS,
                 feeds.ERRORS):
        assert set(rows) <= names, set(rows) - names


@pytest.mark.parametrize("exc, status, code", [
    (ValidationFailed({"name": ["required"]}), 400, "VALIDATION_FAILED"),
    (AuthenticationFailed("the token has expired"), 401, "UNAUTHENTICATED"),
    (Forbidden("no access to enterprise e2"), 403, "FORBIDDEN"),
    (RequestInProgress(), 409, "REQUEST_IN_PROGRESS"),
    (IdempotencyKeyReused(), 422, "IDEMPOTENCY_KEY_REUSED"),
    (ServiceUnavailable("enterprise did not answer"), 503, "SERVICE_UNAVAILABLE"),
])
def test_the_gateways_own_exceptions_have_their_rows(exc, status, code):
    response = error_response(exc)
    assert (response.status_code, body_of(response)["error"]) == (status, code)
    assert body_of(response)["message"] == str(exc)


@pytest.mark.parametrize("exc", [
    RuntimeError("secret internals: mongodb://admin:pw@db"),
    KeyError("password"),
    as_the_gateway_receives_it(KeyError("password")),
    as_the_gateway_receives_it(RuntimeError("secret internals: mongodb://admin:pw@db")),
], ids=["bug", "key error", "remote key error", "remote bug"])
def test_anything_else_is_a_bug_and_says_nothing_of_it(exc):
    response = error_response(exc)
    assert response.status_code == 500
    assert body_of(response) == {"error": "UNEXPECTED_ERROR", "message": "unexpected error"}


@pytest.mark.parametrize("cls", [c for c in CROSSING if issubclass(c, ValidationFailed)],
                         ids=lambda cls: cls.__name__)
def test_a_refusal_comes_back_to_a_nameko_caller_as_itself_with_its_fields(cls):
    from nameko.exceptions import deserialize

    from kit.remote import rebuild_as_themselves

    rebuild_as_themselves()
    exc = an_instance(cls)
    again = deserialize(json.loads(json.dumps(serialize(exc))))
    assert type(again) is cls
    assert (again.errors, str(again)) == (exc.errors, str(exc))
