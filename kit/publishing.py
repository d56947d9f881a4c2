"""Publishing a batch of events with one wait for the broker's confirmation.

nameko's `Publisher` waits for the broker's confirm after every message. An incident's intake
writes four events; waiting four times costs four round trips through the broker and as many
context switches. `BatchPublisher.publish_all` sends the whole batch on a channel in confirm
mode and then waits until the broker has confirmed every message of it (RabbitMQ numbers a
channel's messages 1, 2, 3, ..., may confirm several with one `multiple` ack, and confirms
in any order). It returns
only when all are confirmed and raises if any was refused or the connection failed, so the
caller keeps its outbox entries and tries again later.

Each concurrent publisher takes a channel of its own from a small pool; a channel that failed
is closed and never reused.
"""
import logging
import socket
import time
from contextlib import contextmanager

import amqp
from kombu import Connection

from contracts.envelope import CONTENT_TYPE

log = logging.getLogger(__name__)

PERSISTENT = 2


class PublishFailed(Exception):
    """The broker refused (nacked) a message of the batch."""


class _Channel:
    """One connection with one channel in confirm mode. Confirms are counted by listeners on
    the channel, which see every ack and nack whenever it is read (py-amqp also reads
    incoming frames while it publishes)."""

    def __init__(self, amqp_uri, exchange, timeout):
        self.connection = Connection(amqp_uri, connect_timeout=timeout)
        self.connection.connect()
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        self.last_tag = 0  # the broker numbers a channel's messages 1, 2, 3, ...
        self.unconfirmed = set()
        self.refused = []
        self.channel.events["basic_ack"].add(self._acked)
        self.channel.events["basic_nack"].add(self._refused)
        self.channel.confirm_select()

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

    def publish_all(self, exchange, messages, timeout):
        self.refused = []
        with self._one_write():
            for routing_key, body in messages:
                message = amqp.Message(body.encode(), content_type=CONTENT_TYPE,
                                       content_encoding="utf-8", delivery_mode=PERSISTENT,
                                       application_headers={})
                self.channel.basic_publish(message, exchange=exchange,
                                           routing_key=routing_key)
                self.last_tag += 1
                self.unconfirmed.add(self.last_tag)
        deadline = time.monotonic() + timeout  # for the whole batch, not for each frame
        while self.unconfirmed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.unconfirmed)} messages not confirmed in time")
            self.connection.connection.drain_events(timeout=left)
        if self.refused:
            raise PublishFailed(f"the broker refused messages {self.refused} of the batch")

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
    swallow a batch until the timeout.
    """

    def __init__(self, amqp_uri, exchange, timeout=2.0, max_idle=30.0):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.timeout = timeout
        self.max_idle = max_idle
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
        self._publish_on(_Channel(self.amqp_uri, self.exchange, self.timeout), messages)

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
        except Exception:
            channel.close()
            raise
        self.idle.append((channel, time.monotonic()))

    def close(self):
        while self.idle:
            self.idle.pop()[0].close()
