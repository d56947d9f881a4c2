"""A message consumer that neither drops a message nor loops on one.

`@consume_reliably(queue_name, max_attempts=5, bindings=())`: the method gets the message
body of each message on the durable queue `queue_name`, which is also bound to each
(topic exchange, routing key) of `bindings` (to consume events, say). If it
raises a refusal of the input (ValidationFailed) the message goes to the dead-letter queue
`<queue_name>.dead` at once; any other error sends it back to the end of its queue with its
attempt count, until `max_attempts`, then to the dead-letter queue. A dead letter carries
the original body and headers plus `x-error`, `x-error-type` and `x-attempts`.

A message is acknowledged only after its retry or dead letter was published (with publisher
confirms), so a crash in between means a redelivery, never a loss: handlers must be
idempotent.
A connection lost while a message is settled does not stop the service: the broker delivers
the message again.
"""
import logging
import traceback

import eventlet
from kombu import Exchange, Queue, binding
from nameko.amqp.publish import Publisher
from nameko.messaging import Consumer

from .errors import ValidationFailed
from .rpc import BROKER_ERRORS, ack_quietly, requeue_quietly

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-attempts"
DEFAULT_EXCHANGE = Exchange("", type="direct")  # the broker's default: routing key = queue


class ReliableConsumer(Consumer):
    def __init__(self, queue_name, max_attempts=5, retry_delay=0.2, bindings=(), **kwargs):
        self.queue_name = queue_name
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.dead_letter_queue = Queue(f"{queue_name}.dead", durable=True)
        queue = Queue(queue_name, durable=True, bindings=[
            binding(Exchange(exchange, type="topic", durable=True), routing_key=key)
            for exchange, key in bindings] or None)
        super().__init__(queue, requeue_on_error=False, **kwargs)

    def setup(self):
        super().setup()
        self.publisher = Publisher(self.container.config["AMQP_URI"], serializer="json",
                                   declare=[self.queue, self.dead_letter_queue])

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is not None:
            try:
                self._retry_or_bury(message, exc_info)
            except BROKER_ERRORS as error:  # the broker is away: it gives the message again
                log.warning("%s: could not set a failed message aside (%s); it is requeued",
                            self.queue_name, type(error).__name__)
                requeue_quietly(self.queue_consumer, message)
                return
            except Exception:  # neither retry nor dead letter went out: keep the message
                log.exception("%s: could not set a failed message aside; it is requeued",
                              self.queue_name)
                requeue_quietly(self.queue_consumer, message)
                return
        ack_quietly(self.queue_consumer, message)

    def _retry_or_bury(self, message, exc_info):
        headers = dict(message.headers or {})
        attempts = int(headers.get(ATTEMPTS_HEADER, 0)) + 1
        error = exc_info[1]
        headers[ATTEMPTS_HEADER] = attempts
        permanent = isinstance(error, ValidationFailed)
        if permanent or attempts >= self.max_attempts:
            headers.update({"x-error": str(error)[:2000],
                            "x-error-type": type(error).__name__,
                            "x-error-trace": "".join(
                                traceback.format_exception(*exc_info))[-4000:]})
            log.warning("%s: dead-lettering a message after %d attempt(s): %s",
                        self.queue_name, attempts, error)
            self._publish(message, self.dead_letter_queue.name, headers)
        else:
            eventlet.sleep(self.retry_delay * attempts)
            self._publish(message, self.queue_name, headers)

    def _publish(self, message, queue_name, headers):
        self.publisher.publish(message.body, exchange=DEFAULT_EXCHANGE, routing_key=queue_name,
                               headers=headers, content_type=message.content_type,
                               content_encoding=message.content_encoding, serializer=None)


consume_reliably = ReliableConsumer.decorator
