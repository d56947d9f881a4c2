"""RPC with a deadline: a caller never waits longer than `RPC_TIMEOUT` seconds.

nameko's RpcProxy waits forever for a reply. `TimedRpcProxy` raises ServiceUnavailable when
the answer does not come in time, and gives the request message the same expiration, so a
request nobody picked up in time is dropped by the broker instead of being run much later.
A request already picked up may still complete after the caller gave up.

`rpc` is nameko's RPC entrypoint, except that the events the worker stored are published
before the answer goes out: whoever gets the answer can rely on the change's events being on
the broker already (a consumer of those events is never behind a caller who was answered).

Requests and answers are published without waiting for the broker's confirm: neither is
durable, and one lost with the broker is the caller's timeout either way (a ServiceUnavailable
meaning "outcome unknown"), confirmed or not. Events, which must never be lost, are always
confirmed (kit.publishing). Without confirms nameko cannot tell a request to a service that
never ran (no queue) from a slow one: both end in the timeout.
"""
import warnings

import eventlet
from nameko.amqp.publish import Publisher
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER,
                              LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY)
from nameko.exceptions import UnknownService
from nameko.rpc import Responder, Rpc, RpcProxy, get_rpc_exchange

# nameko asks for mandatory delivery of every request and warns that it cannot be checked
# without confirms; that is understood (see above).
warnings.filterwarnings("ignore", message="Mandatory delivery was requested",
                        module="nameko.amqp.publish")

from .errors import ServiceUnavailable

DEFAULT_TIMEOUT = 5.0


class TimedRpcProxy(RpcProxy):
    def __init__(self, target_service, **options):
        self.timeout = None
        super().__init__(target_service, **options)

    def setup(self):
        self.timeout = float(self.container.config.get("RPC_TIMEOUT", DEFAULT_TIMEOUT))
        self.options.setdefault("expiration", self.timeout)
        self.options.setdefault("use_confirms", False)
        super().setup()

    def get_dependency(self, worker_ctx):
        return TimedServiceProxy(super().get_dependency(worker_ctx), self.target_service,
                                 self.timeout)


class TimedServiceProxy:
    def __init__(self, proxy, service_name, timeout):
        self._proxy = proxy
        self._service_name = service_name
        self._timeout = timeout

    def __getattr__(self, method_name):
        method = getattr(self._proxy, method_name)

        def call(*args, **kwargs):
            where = f"{self._service_name}.{method_name}"
            try:
                reply = method.call_async(*args, **kwargs)
            except UnknownService:
                raise ServiceUnavailable(f"{self._service_name} is not running") from None
            late = ServiceUnavailable(f"{where} did not answer within {self._timeout:g}s")
            with eventlet.Timeout(self._timeout, late):
                return reply.result()

        return call


def _unconfirmed_publisher(amqp_uri, **options):
    return Publisher(amqp_uri, use_confirms=False, **options)


class _Responder(Responder):
    publisher_cls = staticmethod(_unconfirmed_publisher)


class _PublishFirstRpc(Rpc):
    def setup(self):
        super().setup()
        self.flushes = [provider.flush for provider in self.container.dependencies
                        if hasattr(provider, "flush")]  # kit.storage.Storage

    def handle_result(self, message, worker_ctx, result, exc_info):
        for flush in self.flushes:
            flush(worker_ctx)
        config = self.container.config
        responder = _Responder(config[AMQP_URI_CONFIG_KEY], get_rpc_exchange(config),
                               config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER), message,
                               ssl=config.get(AMQP_SSL_CONFIG_KEY),
                               login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        result, exc_info = responder.send_response(result, exc_info)
        self.rpc_consumer.queue_consumer.ack_message(message)
        return result, exc_info


rpc = _PublishFirstRpc.decorator
