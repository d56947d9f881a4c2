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

import amqp
from amqp import spec
from kombu import Connection

from contracts.envelope import CONTENT_TYPE

log = logging.getLogger(__name__)

PERSISTENT = 2


class PublishFailed(Exception):
    """The broker refused (nacked) a message of the batch."""


class _Channel:
    """One connection with one channel in confirm mode, and the number of its last message."""

    def __init__(self, amqp_uri, exchange, timeout):
        self.connection = Connection(amqp_uri, connect_timeout=timeout)
        self.connection.connect()
        self.channel = self.connection.channel()
        self.channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
        self.channel.confirm_select()
        self.last_tag = 0  # the broker numbers a channel's messages 1, 2, 3, ...

    def publish_all(self, exchange, messages, timeout):
        unconfirmed = set()
        for routing_key, body in messages:
            message = amqp.Message(body.encode(), content_type=CONTENT_TYPE,
                                   content_encoding="utf-8", delivery_mode=PERSISTENT,
                                   application_headers={})
            self.channel.basic_publish(message, exchange=exchange, routing_key=routing_key)
            self.last_tag += 1
            unconfirmed.add(self.last_tag)
        refused = []

        def on_confirm(method, delivery_tag, multiple, *_):
            """Confirms may come in any order; `multiple` settles every tag up to this one."""
            settled = {t for t in unconfirmed if t <= delivery_tag} if multiple else \
                {delivery_tag} & unconfirmed
            unconfirmed.difference_update(settled)
            if method == spec.Basic.Nack:
                refused.extend(sorted(settled))

        while unconfirmed:
            self.channel.wait([spec.Basic.Ack, spec.Basic.Nack], callback=on_confirm,
                              timeout=timeout)
        if refused:
            raise PublishFailed(f"the broker refused messages {refused} of the batch")

    def close(self):
        try:
            self.connection.release()
        except Exception:  # already broken: nothing to release
            pass


class BatchPublisher:
    """Publishes encoded events on the topic exchange `exchange`: `publish_all` takes
    (routing key, JSON body) pairs (see kit.storage.queued)."""

    def __init__(self, amqp_uri, exchange, timeout=10.0):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.timeout = timeout
        self.idle = []

    def publish_all(self, messages):
        messages = list(messages)
        if not messages:
            return
        if self.idle:  # a pooled channel may have died with the broker since its last use
            channel = self.idle.pop()
            try:
                return self._publish_on(channel, messages)
            except PublishFailed:
                raise
            except Exception as error:
                log.info("a pooled publishing channel failed (%s); opening a new one", error)
        self._publish_on(_Channel(self.amqp_uri, self.exchange, self.timeout), messages)

    def _publish_on(self, channel, messages):
        try:
            channel.publish_all(self.exchange, messages, self.timeout)
        except Exception:
            channel.close()
            raise
        self.idle.append(channel)

    def close(self):
        while self.idle:
            self.idle.pop().close()
