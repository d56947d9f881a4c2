"""RPC when the broker goes away, on a real RabbitMQ reached through a relay the test can cut.

Cutting the relay closes every connection through it and refuses new ones, as a broker that
stops does; stalling it keeps connections open but carries nothing, as a broker that hangs.
The shared broker itself is never stopped here.
"""
import logging
import socket
import struct
import time
from urllib.parse import urlsplit, urlunsplit

import eventlet
import kombu
import pytest
from nameko.containers import get_container_cls
from nameko.standalone.rpc import ServiceRpcProxy
from nameko.testing.services import dummy, entrypoint_hook

from infra.sandbox import free_port
from kit.errors import ServiceUnavailable
from kit.rpc import TimedRpcProxy, rpc

TIMEOUT = 2.0


class BrokerLink:
    """A TCP relay to the broker: `cut()` drops every connection and refuses new ones,
    `stall()` accepts and holds connections but carries nothing, `mend()` relays again."""

    def __init__(self, host="127.0.0.1", port=5672):
        self.target = (host, port)
        self.port = free_port()
        self.server = None
        self.acceptor = None
        self.sockets = set()
        self.pumps = set()
        self.held = set()
        self.carrying = True

    def uri(self, amqp_uri):
        parts = urlsplit(amqp_uri)
        auth = parts.netloc.rpartition("@")[0]
        return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{self.port}"))

    def mend(self):
        self.carrying = True
        for sock in self.held:  # held while stalled: their owners connect again
            _reset(sock)
        self.held.clear()
        if self.server is None:
            self.server = eventlet.listen(("127.0.0.1", self.port))
            self.acceptor = eventlet.spawn(self._accept, self.server)

    def stall(self):
        self.carrying = False
        self._drop_connections()

    def cut(self):
        if self.server is not None:
            self.acceptor.kill()
            self.server.close()
            self.server = None
        self._drop_connections()

    def _drop_connections(self):
        """Reset every connection (as a broker that stops closes them), so the next write on
        one fails rather than vanishing into a half-closed socket."""
        for pump in list(self.pumps):  # first, so no green thread waits on a closed socket
            pump.kill()
        self.pumps.clear()
        for sock in self.sockets:
            _reset(sock)
        self.sockets.clear()

    def _accept(self, server):
        while True:
            client, _ = server.accept()
            if not self.carrying:
                self.held.add(client)  # open, never answered
                continue
            upstream = eventlet.connect(self.target)
            self.sockets |= {client, upstream}
            self.pumps |= {eventlet.spawn(self._pump, client, upstream),
                           eventlet.spawn(self._pump, upstream, client)}

    def _pump(self, source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
            sink.shutdown(socket.SHUT_WR)  # pass the end of one direction on
        except OSError:  # the other side went away
            pass


def _reset(sock):
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:  # closed already
        pass


class Callee:
    name = "callee"

    @rpc
    def ping(self):
        return "pong"

    @rpc
    def slow(self, seconds):
        eventlet.sleep(seconds)
        return "done"


class Caller:
    name = "caller"

    callee = TimedRpcProxy("callee")

    @dummy
    def ask(self, method, *args):
        return getattr(self.callee, method)(*args)


@pytest.fixture
def config(rabbit_config):
    return dict(rabbit_config, RPC_TIMEOUT=TIMEOUT)


@pytest.fixture
def link():
    link = BrokerLink()
    link.mend()
    yield link
    link.cut()


@pytest.fixture
def start(config, link):
    """start(service_cls, through_link=False): a running container of the service, connected
    to the broker directly or through the link. Stopped with the link mended (a container
    cannot stop while its consumer is still trying to reach the broker)."""
    containers = []

    def start(service_cls, through_link=False):
        own = dict(config, AMQP_URI=link.uri(config["AMQP_URI"])) if through_link else config
        container = get_container_cls(own)(service_cls, own)
        containers.append(container)
        container.start()
        return container

    yield start
    link.mend()
    for container in containers:
        container.kill()


def timed_refusal(container, *call):
    """(the ServiceUnavailable the call raised, seconds it took)."""
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as refused:
        with entrypoint_hook(container, "ask") as ask:
            ask(*call)
    return refused.value, time.monotonic() - started


@pytest.mark.parametrize("fault", ["cut", "stall"])
def test_a_call_while_the_broker_is_away_is_refused_within_the_timeout(start, link, fault):
    start(Callee)
    caller = start(Caller, through_link=True)
    with entrypoint_hook(caller, "ask") as ask:
        assert ask("ping") == "pong"  # the pooled connection and the reply queue are up

    getattr(link, fault)()
    for _ in range(3):  # the pooled connection's first failure, and the ones after it
        error, took = timed_refusal(caller, "ping")
        assert took < TIMEOUT + 1, f"refused after {took:.1f}s"
    assert "callee.ping" in str(error)
    assert not caller._died.ready()


def test_a_call_to_a_broker_that_refuses_connections_is_refused_at_once(start, link):
    caller = start(Caller, through_link=True)
    link.cut()  # before any request: publishing must connect, and cannot

    error, took = timed_refusal(caller, "ping")
    assert took < TIMEOUT + 1, f"refused after {took:.1f}s"
    assert "broker cannot be reached" in str(error)


def test_a_service_that_cannot_send_an_answer_goes_on(start, config, link, caplog):
    start(Callee, through_link=True)
    with ServiceRpcProxy("callee", config, timeout=10) as proxy:
        assert proxy.ping() == "pong"
        with caplog.at_level(logging.INFO):
            answer = proxy.slow.call_async(1.0)
            eventlet.sleep(0.3)  # the request is taken; the answer will find no broker
            link.cut()

            def unsent():
                return [r for r in caplog.records
                        if r.name == "kit.rpc" and "not sent" in r.message]

            def stopping():  # nameko kills a container whose worker raised here
                return [r for r in caplog.records if r.name == "nameko.containers"
                        and r.levelno >= logging.ERROR]

            deadline = time.monotonic() + 30
            while not (unsent() or stopping()) and time.monotonic() < deadline:
                eventlet.sleep(0.2)
            eventlet.sleep(0.5)
        assert not stopping(), "the service is stopping"
        assert [r.levelno for r in unsent()] == [logging.WARNING]
        assert unsent()[0].exc_info is None

        link.mend()
        deadline = time.monotonic() + 30
        while True:  # the service reconnects by itself and answers again
            try:
                assert proxy.ping() == "pong"
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                eventlet.sleep(0.5)
        del answer  # redelivered after the reconnection, or lost with the connection: fine
    assert not stopping()


def test_a_call_before_any_service_declared_the_rpc_exchange_is_refused(start, config):
    caller = start(Caller)
    with kombu.Connection(config["AMQP_URI"]) as connection:
        connection.channel().exchange_delete("nameko-rpc")  # as on a vhost nothing ran on

    # The broker closes the channel over the first request; the next publish reads that.
    for _ in range(3):
        error, took = timed_refusal(caller, "ping")
        assert took < TIMEOUT + 1, f"refused after {took:.1f}s"
