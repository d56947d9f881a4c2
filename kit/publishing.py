"""Publishing a batch of events with one wait for the broker's confirmation.

nameko's `Publisher` waits for the broker's confirm after every message. An incident's intake
writes four events; waiting four times costs four round trips through the broker and as many
context switches. `BatchPublisher.publish_all` sends the whole batch on a channel in confirm
mode and then waits until the broker has confirmed every message of it (RabbitMQ numbers a
channel's messages 1, 2, 3, ..., may confirm several with one `multiple` ack, and confirms
in any order). It returns
only when all are confirmed and raises if any was refused or the connection failed, so the
caller keeps its outbox entries and tries again later.

Every message is published `mandatory`: one that no queue takes (no binding for its type on
the exchange) is returned by the broker before it is confirmed, counted in
`liaison_events_unroutable_total` and logged, and the batch raises `PublishUnroutable`. The
exchange's catalogued types are always bound to the archive stream (contracts.topology,
declared with the exchange), so only an uncatalogued type is unroutable. The error names the
positions of the messages refused or returned (`failed`); the others were confirmed and taken
by a queue, so the caller keeps only the failed ones to send again.

Each concurrent publisher takes a channel of its own from a small pool; a channel that failed
is closed and never reused.
"""
import logging
import socket
import time
from contextlib import contextmanager

import amqp
from amqp.exceptions import PreconditionFailed
from kombu import Connection

from contracts.envelope import CONTENT_TYPE
from contracts.topology import DEFAULT_RETENTION, declare_archive

from .metrics import counter

log = logging.getLogger(__name__)

PERSISTENT = 2
UNROUTABLE = counter("liaison_events_unroutable_total",
                     "Events the broker returned because no queue takes their type, by "
                     "exchange and type (routing key).", ["exchange", "type"])


class PublishFailed(Exception):
    """Messages of the batch did not go through: the broker refused (nacked) them, or (see
    PublishUnroutable) returned them. `failed` holds their positions in the batch, sorted;
    every other message was confirmed. None: not known which (send them all again)."""

    def __init__(self, message, failed=None):
        super().__init__(message)
        self.failed = failed


class PublishUnroutable(PublishFailed):
    """The broker returned messages of the batch that no queue takes: `types` names their
    types. `failed` holds their positions (and those of any message refused with them)."""

    def __init__(self, message, failed, types):
        super().__init__(message, failed)
        self.types = types


class _Channel:
    """One connection with one channel in confirm mode. Confirms and returns are counted by
    listeners on the channel, which see every ack, nack and return whenever it is read
    (py-amqp also reads incoming frames while it publishes). It declares its exchange and
    the archive stream bound to the exchange's catalogued types."""

    def __init__(self, amqp_uri, exchange, timeout, retention=DEFAULT_RETENTION):
        self.connection = Connection(amqp_uri, connect_timeout=timeout)
        self.connection.connect()
        self.channel = self._declared(exchange, retention)
        self.last_tag = 0  # the broker numbers a channel's messages 1, 2, 3, ...
        self.unconfirmed = set()
        self.refused = []
        self.returned = []  # (routing key, body) of each message returned
        self.channel.events["basic_ack"].add(self._acked)
        self.channel.events["basic_nack"].add(self._refused)
        self.channel.events["basic_return"].add(self._returned)
        self.channel.confirm_select()

    def _declared(self, exchange, retention):
        """A channel on which the exchange and the archive are declared. An archive that
        exists with another retention keeps its own: the broker refuses the declaration
        (closing the channel), so it is taken as it is, on a new channel."""
        channel = self.connection.channel()
        channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        try:
            declare_archive(channel, [exchange], retention)
        except PreconditionFailed as error:
            log.warning("the archive stream keeps the retention it was declared with, not "
                        "%s (%s); delete it, or set a broker policy, to change it",
                        retention, error.reply_text)
            channel = self.connection.channel()
            declare_archive(channel, [exchange], retention=None)
        return channel

    @contextmanager
    def _one_write(self):
        """The frames of a batch leave in one write to the socket (a system call each would
        cost more than the rest of publishing), in the order py-amqp framed them. A frame is
        copied as it is framed: py-amqp reuses its buffer."""
        transport = self.connection.connection.transport
        frames, write = [], transport._write
        transport._write = lambda frame: frames.append(bytes(frame))
        try:
            yield
        finally:
            transport._write = write
        transport.write(b"".join(frames))

    def _settle(self, delivery_tag, multiple):
        """Confirms come in any order; `multiple` settles every tag up to this one."""
        settled = ({t for t in self.unconfirmed if t <= delivery_tag} if multiple
                   else {delivery_tag} & self.unconfirmed)
        self.unconfirmed -= settled
        return settled

    def _acked(self, delivery_tag, multiple):
        self._settle(delivery_tag, multiple)

    def _refused(self, delivery_tag, multiple):
        self.refused.extend(sorted(self._settle(delivery_tag, multiple)))

    def _returned(self, error, exchange, routing_key, message):
        """The broker returns an unroutable message before it confirms it."""
        body = message.body
        if isinstance(body, bytes):  # py-amqp decodes a body that names its encoding
            body = body.decode("utf-8")
        UNROUTABLE.labels(exchange, routing_key).inc()
        self.returned.append((routing_key, body))

    def publish_all(self, exchange, messages, timeout):
        self.refused, self.returned = [], []
        first = self.last_tag + 1
        with self._one_write():
            for routing_key, body in messages:
                message = amqp.Message(body.encode(), content_type=CONTENT_TYPE,
                                       content_encoding="utf-8", delivery_mode=PERSISTENT,
                                       application_headers={})
                self.channel.basic_publish(message, exchange=exchange,
                                           routing_key=routing_key, mandatory=True)
                self.last_tag += 1
                self.unconfirmed.add(self.last_tag)
        deadline = time.monotonic() + timeout  # for the whole batch, not for each frame
        while self.unconfirmed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.unconfirmed)} messages not confirmed in time")
            self.connection.connection.drain_events(timeout=left)
        refused = [tag - first for tag in self.refused]
        if self.returned:
            self._unroutable(exchange, messages, refused)
        if refused:
            raise PublishFailed(f"the broker refused messages {refused} of the batch",
                                sorted(refused))

    def _unroutable(self, exchange, messages, refused):
        """Raise PublishUnroutable for the messages returned (a message is known by its
        routing key and body: the same pair twice in a batch is routed alike)."""
        returned = set(self.returned)
        failed = sorted({i for i, pair in enumerate(messages) if tuple(pair) in returned}
                        | set(refused))
        types = sorted({routing_key for routing_key, _ in returned})
        for event_type in types:
            log.error("the broker returned %d event(s) of type %s on %s: no queue takes "
                      "that type (is it catalogued?); kept to be sent again",
                      sum(key == event_type for key, _ in self.returned), event_type,
                      exchange)
        extra = f" and refused messages {sorted(refused)}" if refused else ""
        raise PublishUnroutable(f"no queue takes events of type {', '.join(types)} on "
                                f"{exchange}{extra}", failed, types)

    def close(self):
        try:
            self.connection.release()
        except Exception:  # already broken: nothing to release
            pass


class BatchPublisher:
    """Publishes encoded events on the topic exchange `exchange`: `publish_all` takes
    (routing key, JSON body) pairs (see kit.storage.queued).

    `timeout` bounds connecting and the wait for confirms: an RPC waits for its events before
    it answers, so it must stay well under the callers' RPC_TIMEOUT; what times out is left
    in the outbox and tried again later. A channel idle for `max_idle` seconds is closed
    rather than reused: after a network failure without a reset it could look alive and
    swallow a batch until the timeout. A channel whose batch was refused or returned in part
    had every message settled, and is pooled again.

    A new channel declares the exchange and the archive stream (with `retention`, its
    x-max-age, when it creates it) bound to the exchange's catalogued types.
    """

    def __init__(self, amqp_uri, exchange, timeout=2.0, max_idle=30.0,
                 retention=DEFAULT_RETENTION):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.timeout = timeout
        self.max_idle = max_idle
        self.retention = retention
        self.idle = []  # (channel, when it was last used)

    def publish_all(self, messages):
        messages = list(messages)
        if not messages:
            return
        channel = self._pooled()
        if channel is not None:
            try:
                return self._publish_on(channel, messages)
            except (PublishFailed, socket.timeout, TimeoutError):
                raise  # refused, or the broker is slow: a new channel would not do better
            except Exception as error:  # e.g. closed since its last use, with the broker
                log.info("a pooled publishing channel failed (%s); opening a new one", error)
        self._publish_on(_Channel(self.amqp_uri, self.exchange, self.timeout, self.retention),
                         messages)

    def _pooled(self):
        now = time.monotonic()
        while self.idle:
            channel, used = self.idle.pop()
            if now - used <= self.max_idle:
                return channel
            channel.close()
        return None

    def _publish_on(self, channel, messages):
        try:
            channel.publish_all(self.exchange, messages, self.timeout)
        except PublishFailed:  # every message was settled: the channel is sound
            self.idle.append((channel, time.monotonic()))
            raise
        except Exception:
            channel.close()
            raise
        self.idle.append((channel, time.monotonic()))

    def close(self):
        while self.idle:
            self.idle.pop()[0].close()
