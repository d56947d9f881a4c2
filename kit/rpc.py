"""RPC with a deadline: a caller never waits longer than `RPC_TIMEOUT` seconds.

nameko's RpcProxy waits forever for a reply, and publishing the request may retry for many
seconds while the broker is away. `TimedRpcProxy` bounds the whole call, publishing
included, by the timeout and raises ServiceUnavailable when the answer does not come in time
or the broker cannot be reached; it gives the request message the same expiration, so a
request nobody picked up in time is dropped by the broker instead of being run much later.
A request already picked up may still complete after the caller gave up.

`rpc` is nameko's RPC entrypoint, except that the events the worker stored are published
before the answer goes out: whoever gets the answer can rely on the change's events being on
the broker already (a consumer of those events is never behind a caller who was answered).
An answer that cannot be sent because the broker went away is given up with a warning; the
service goes on (nameko would stop it), and the caller times out.

Requests and answers are published without waiting for the broker's confirm: neither is
durable, and one lost with the broker is the caller's timeout either way (a ServiceUnavailable
meaning "outcome unknown"), confirmed or not. Events, which must never be lost, are always
confirmed (kit.publishing). Without confirms nameko cannot tell a request to a service that
never ran (no queue) from a slow one: both end in the timeout.
"""
import logging
import warnings

import eventlet
from amqp.exceptions import ChannelError
from amqp.exceptions import ConnectionError as AmqpConnectionError
from kombu.exceptions import OperationalError
from nameko.amqp.publish import Publisher
from nameko.constants import (AMQP_SSL_CONFIG_KEY, AMQP_URI_CONFIG_KEY, DEFAULT_SERIALIZER,
                              DEFAULT_TRANSPORT_OPTIONS, LOGIN_METHOD_CONFIG_KEY,
                              SERIALIZER_CONFIG_KEY)
from nameko.exceptions import UnknownService
from nameko.rpc import MethodProxy, Responder, Rpc, RpcProxy, get_rpc_exchange

# nameko asks for mandatory delivery of every request and warns that it cannot be checked
# without confirms; that is understood (see above).
warnings.filterwarnings("ignore", message="Mandatory delivery was requested",
                        module="nameko.amqp.publish")

from .errors import ServiceUnavailable
from .remote import RemoteError, rebuild_as_themselves

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
REPLY_WITHIN = 5.0
BROKER_ERRORS = (OperationalError, AmqpConnectionError, OSError)
"""What a lost or unreachable broker raises: kombu's, py-amqp's, and the sockets' errors."""


class _ShortRetryPublisher(Publisher):
    """Reconnects and publishes again at once, a few times, instead of nameko's retries over
    about ten seconds: a pooled connection that died with a broker restart is replaced on the
    first try; a broker that is away is reported within a second or so."""

    use_confirms = False
    transport_options = dict(DEFAULT_TRANSPORT_OPTIONS, max_retries=1, interval_start=0,
                             interval_step=0.2, interval_max=0.2)
    retry_policy = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                    "interval_max": 0.4}


class _TimedMethodProxy(MethodProxy):
    publisher_cls = _ShortRetryPublisher


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
    """`proxy.method(*args)` answers within `timeout` seconds, or raises ServiceUnavailable
    (the call may still be carried out). An exception the service raised is raised here as
    kit.remote.RemoteError naming its type, whether or not this process knows the class."""

    def __init__(self, proxy, service_name, timeout):
        self._proxy = proxy
        self._service_name = service_name
        self._timeout = timeout

    def __getattr__(self, method_name):
        proxy = self._proxy
        method = _TimedMethodProxy(proxy.worker_ctx, proxy.service_name, method_name,
                                   proxy.reply_listener, **proxy.options)

        def call(*args, **kwargs):
            where = f"{self._service_name}.{method_name}"
            late = ServiceUnavailable(f"{where} did not answer within {self._timeout:g}s")
            try:
                with eventlet.Timeout(self._timeout, late):
                    reply = method.call_async(*args, **kwargs)
                    try:
                        return reply.result()
                    except Exception:
                        error = (reply.resp_body or {}).get("error")
                        if error is None:  # not the service's: a timeout, a lost broker
                            raise
                        raise RemoteError.from_answer(error) from None
            except UnknownService:
                raise ServiceUnavailable(f"{self._service_name} is not running") from None
            except ChannelError as error:  # e.g. no service has declared the RPC exchange yet
                raise ServiceUnavailable(f"{where} is unavailable: the broker refused the "
                                         f"request ({type(error).__name__})") from None
            except BROKER_ERRORS as error:
                raise ServiceUnavailable(
                    f"{where} is unavailable: the broker cannot be reached "
                    f"({type(error).__name__})") from None

        return call


class _Responder(Responder):
    publisher_cls = _ShortRetryPublisher


class _PublishFirstRpc(Rpc):
    def setup(self):
        super().setup()
        rebuild_as_themselves()  # for a standalone caller in the same process (tests, scripts)
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
        gone = eventlet.Timeout(REPLY_WITHIN, TimeoutError("the broker did not take it"))
        try:
            with gone:
                result, exc_info = responder.send_response(result, exc_info)
        except BROKER_ERRORS as error:  # TimeoutError is an OSError
            log.warning("the answer of %s was not sent (%s: %s); its caller times out",
                        worker_ctx.call_id, type(error).__name__, error)
        ack_quietly(self.rpc_consumer.queue_consumer, message)
        return result, exc_info


def ack_quietly(queue_consumer, message):
    """Acknowledge the message; on a connection lost meanwhile there is nothing to
    acknowledge (the broker gives the message again, or lost it with a queue that was not
    durable)."""
    try:
        queue_consumer.ack_message(message)
    except BROKER_ERRORS as error:
        log.info("a message could not be acknowledged (%s); the broker has it back",
                 type(error).__name__)


def requeue_quietly(queue_consumer, message):
    """Give the message back to its queue; on a connection lost meanwhile the broker has it
    back already."""
    try:
        queue_consumer.requeue_message(message)
    except BROKER_ERRORS as error:
        log.info("a message could not be requeued (%s); the broker has it back",
                 type(error).__name__)


rpc = _PublishFirstRpc.decorator
