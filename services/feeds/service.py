"""The feeds component's entrypoints: schema in, handler, schema out. Subscriptions are
managed over RPC (the gateway's /v1/subscriptions, admin only); the fan-out
(services.feeds.fanout) and the report intake (services.feeds.intake) run as this process's
own threads; the delivery audit is pruned every hour.

One feeds process per platform: the fan-out keeps one position in the archive.
"""
from datetime import timedelta

from nameko.dependency_providers import Config
from nameko.timer import timer

from contracts.fields import utcnow
from kit.errors import RecordNotFound, ServiceUnavailable, ValidationFailed
from kit.metrics import Metrics
from kit.rpc import rpc
from kit.schemas import dump, load, paged
from kit.storage import Storage

from . import handlers, schemas
from .broker import BrokerAdmin, vhost_of
from .documents import asyncapi_for
from .fanout import Fanout
from .intake import ReportIntake
from .store import Repository

EXPECTED = (ValidationFailed, RecordNotFound, ServiceUnavailable)
PRUNE_SECONDS = 3600
DEFAULT_AUDIT_DAYS = 365


class FeedsService:
    name = "feeds"

    store = Storage(Repository)
    metrics = Metrics()
    fanout = Fanout()
    intake = ReportIntake()
    config = Config()

    def _admin(self):
        return BrokerAdmin(self.config["BROKER_ADMIN_URI"], self._vhost())

    def _vhost(self):
        return vhost_of(self.config["AMQP_URI"])

    def _view(self, subscription, password=None):
        shown = handlers.view(subscription, self.config["AMQP_URI"])
        if password is not None:
            shown["credentials"] = {"username": subscription.broker_user,
                                    "password": password}
        return dump(schemas.Subscription, shown)

    @rpc
    def ping(self):
        return "pong"

    @rpc(expected_exceptions=EXPECTED)
    def create_subscription(self, data, actor):
        """Provision the agency's queue and user; the answer holds its password, once."""
        subscription, password = handlers.create(
            self.store, self.fanout, self._admin(), self._vhost(),
            load(schemas.SubscriptionInput, data), _who(actor), utcnow())
        return self._view(subscription, password)

    @rpc(expected_exceptions=EXPECTED)
    def list_subscriptions(self, query=None):
        return paged(query, lambda skip, limit: handlers.subscriptions(
            self.store, self.config["AMQP_URI"], skip, limit), schemas.Subscription)

    @rpc(expected_exceptions=EXPECTED)
    def get_subscription(self, subscription_id):
        return self._view(self.store.subscriptions.get(subscription_id))

    @rpc(expected_exceptions=EXPECTED)
    def delete_subscription(self, subscription_id, actor):
        return self._view(handlers.delete(self.store, self.fanout, self._admin(),
                                          subscription_id, _who(actor), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def replay(self, subscription_id, data, actor):
        return self._view(handlers.replay(
            self.store, self.fanout, subscription_id, load(schemas.ReplayInput, data)["since"],
            _who(actor), utcnow()))

    @rpc(expected_exceptions=EXPECTED)
    def deliveries(self, subscription_id, query=None):
        query = dict(query or {})
        span = load(schemas.DeliveryQuery,
                    {k: query.pop(k) for k in ("since", "until") if k in query})
        return paged(query, lambda skip, limit: handlers.deliveries(
            self.store, subscription_id, span.get("since"), span.get("until"), skip, limit),
            schemas.Delivery)

    @rpc(expected_exceptions=EXPECTED)
    def asyncapi(self, subscription_id):
        """The AsyncAPI document of what this subscription's agency receives."""
        subscription = self.store.subscriptions.get(subscription_id)
        return asyncapi_for(subscription.agency, subscription.filters, subscription.purpose,
                            handlers.view(subscription, self.config["AMQP_URI"])
                            ["protocolsettings"]["queue"])

    @timer(interval=PRUNE_SECONDS)
    def prune(self):
        """Forget deliveries older than FEEDS_AUDIT_DAYS."""
        handlers.prune(self.store, utcnow(),
                       timedelta(days=float(self.config.get("FEEDS_AUDIT_DAYS")
                                            or DEFAULT_AUDIT_DAYS)))


def _who(actor):
    actor = actor or {}
    return f"{actor.get('role', 'system')}:{actor.get('id', '')}"
