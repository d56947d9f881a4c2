"""The gateway is assembled from one routes module per service: nameko still finds one
service in gateway.service, with every route of every module; a route that answers a document
sends its bytes."""
import inspect
from pathlib import Path

import pytest
from nameko.cli.run import import_service

import gateway.routes
from contracts.api import Document
from gateway import openapi
from gateway.api import document_response
from gateway.routes import dispatch, health, registry
from gateway.service import GatewayService


def test_nameko_runs_one_service_from_the_gateway_module():
    assert import_service("gateway.service") == [GatewayService]


def test_every_route_of_every_module_is_the_gateways():
    routes = {name for name, _ in openapi._entrypoints(GatewayService)}
    for module, routes_class in ((health, health.HealthRoutes),
                                 (registry, registry.RegistryRoutes),
                                 (dispatch, dispatch.DispatchRoutes)):
        declared = {name for name, method in inspect.getmembers(routes_class,
                                                                inspect.isfunction)
                    if getattr(method, "nameko_entrypoints", None)}
        assert declared, module.__name__
        assert declared - {"healthz"} <= routes, module.__name__


def test_each_routes_module_is_short_enough_to_read_at_once():
    for path in Path(gateway.routes.__file__).parent.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 200, path.name


def test_a_document_goes_out_as_its_bytes_in_a_media_type_the_route_declares():
    answer = Document().dump({"media_type": "application/pdf", "content": b"%PDF-1.4 ..."})
    response = document_response(answer, ("text/html", "application/pdf"))
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data() == b"%PDF-1.4 ..."
    with pytest.raises(ValueError):  # a bug: the API document would not tell it
        document_response(answer, ("text/html",))
