"""The gateway is assembled from one routes module per service: nameko still finds one
service in gateway.service, with every route of every module."""
import inspect
from pathlib import Path

from nameko.cli.run import import_service

import gateway.routes
from gateway import openapi
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
