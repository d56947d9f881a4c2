"""HTTP under /v1 for front ends: each route calls the service behind it, once its rule in
gateway.policy has allowed the call (routes hold no access checks of their own). The routes
are in gateway.routes, one module per service; this class gives them the services to ask."""
from kit.heap import SettledHeap
from kit.metrics import Metrics
from kit.rpc import TimedRpcProxy

from .readiness import Readiness
from .routes import (appraisal, dispatch, feeds, fieldwork, health, mediation,  # modules: one
                     registry)                                                  # class here


class GatewayService(health.HealthRoutes, registry.RegistryRoutes, dispatch.DispatchRoutes,
                     mediation.MediationRoutes, appraisal.AppraisalRoutes, feeds.FeedsRoutes,
                     fieldwork.FieldworkRoutes):
    name = "gateway"

    enterprise = TimedRpcProxy("enterprise")
    dispatch = TimedRpcProxy("dispatch")
    mediation = TimedRpcProxy("mediation")
    appraisal = TimedRpcProxy("appraisal")
    feeds = TimedRpcProxy("feeds")
    fieldwork = TimedRpcProxy("fieldwork")
    metrics = Metrics()
    heap = SettledHeap()
    readiness = Readiness()
