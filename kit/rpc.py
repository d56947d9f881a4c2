"""RPC with a deadline: a caller never waits longer than `RPC_TIMEOUT` seconds.

nameko's RpcProxy waits forever for a reply. `TimedRpcProxy` raises ServiceUnavailable when
the answer does not come in time, and gives the request message the same expiration, so a
request nobody picked up in time is dropped by the broker instead of being run much later.
A request already picked up may still complete after the caller gave up.

`rpc` is nameko's RPC entrypoint, except that the events the worker stored are published
before the answer goes out: whoever gets the answer can rely on the change's events being on
the broker already (a consumer of those events is never behind a caller who was answered).
"""
import eventlet
from nameko.exceptions import UnknownService
from nameko.rpc import Rpc, RpcProxy

from .errors import ServiceUnavailable

DEFAULT_TIMEOUT = 5.0


class TimedRpcProxy(RpcProxy):
    def __init__(self, target_service, **options):
        self.timeout = None
        super().__init__(target_service, **options)

    def setup(self):
        self.timeout = float(self.container.config.get("RPC_TIMEOUT", DEFAULT_TIMEOUT))
        self.options.setdefault("expiration", self.timeout)
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


class _PublishFirstRpc(Rpc):
    def handle_result(self, message, worker_ctx, result, exc_info):
        for provider in self.container.dependencies:
            flush = getattr(provider, "flush", None)
            if flush is not None:
                flush(worker_ctx)
        return super().handle_result(message, worker_ctx, result, exc_info)


rpc = _PublishFirstRpc.decorator
