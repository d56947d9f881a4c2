"""A message consumer that neither drops a message nor loops on one.

`@consume_reliably(queue_name, max_attempts=5, bindings=())`: the method gets the message
body of each message on the durable queue `queue_name`, which is also bound to each
(topic exchange, routing key) of `bindings` (to consume events, say). If it
raises a refusal of the input (ValidationFailed) the message goes to the dead-letter queue
`<queue_name>.dead` at once; any other error sends it back to the end of its queue with its
attempt count, until `max_attempts`, then to the dead-letter queue. A dead letter carries
the original body and headers plus a short reason: `x-error` (the first line of the error,
at most ERROR_LENGTH characters), `x-error-type` and `x-attempts`. The traceback goes to the
log, not into the message: a dead-letter queue may be read by whoever handles it, and a
traceback tells them the code's insides, not what is wrong with the message.

A message is acknowledged only after its retry or dead letter was published (with publisher
confirms), so a crash in between means a redelivery, never a loss: handlers must be
idempotent.
A connection lost while a message is settled does not stop the service: the broker delivers
the message again.

Both queues are of the type the configuration names (`QUEUE_TYPE`, classic by default;
contracts.topology.queue_arguments): as quorum queues, the queue also dead-letters into
`<queue_name>.dead` a message it has given DELIVERY_LIMIT times without an acknowledgement
(one that kills, or stalls, every process that takes it), with the broker's `x-death`
reason `delivery_limit` instead of `x-error`.
"""
import logging

from functools import partial

import eventlet
from eventlet.event import Event
from kombu import Exchange, Queue, binding
from nameko.exceptions import ContainerBeingKilled
from nameko.amqp.publish import Publisher
from nameko.messaging import Consumer, QueueConsumer

from contracts.topology import queue_arguments, work_queue_arguments

from .errors import ValidationFailed
from .metrics import histogram
from .rpc import BROKER_ERRORS, ack_quietly, requeue_quietly

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-attempts"
ERROR_LENGTH = 200  # characters of the error's first line a dead letter carries
BATCH_PREFETCH = 200  # messages a process's batch consumers may hold unacknowledged
BATCH_SIZE = histogram("liaison_consumer_batch_size", "Messages handled together, by queue.",
                       ["queue"], buckets=(1, 2, 5, 10, 20, 50, 100, 200))
DEFAULT_EXCHANGE = Exchange("", type="direct")  # the broker's default: routing key = queue


class QueueWithDeadLetters(Queue):
    """A queue whose every declaration (by its consumer at each connection, by a publisher)
    declares its dead-letter queue `dead_letters` first: the broker drops what a queue
    dead-letters (a quorum queue, at its delivery limit) into a queue that does not exist,
    and nothing else would declare it before the first failure."""

    attrs = Queue.attrs + (("dead_letters", None),)

    def declare(self, nowait=False, channel=None):
        if self.dead_letters is not None and not self.no_declare:
            self.dead_letters(channel or self.channel).declare(nowait=nowait)
        return super().declare(nowait=nowait, channel=channel)


class ReliableConsumer(Consumer):
    def __init__(self, queue_name, max_attempts=5, retry_delay=0.2, bindings=(), **kwargs):
        self.queue_name = queue_name
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.bindings = [binding(Exchange(exchange, type="topic", durable=True), routing_key=key)
                         for exchange, key in bindings] or None
        self.dead_letter_queue, queue = self.queues()
        super().__init__(queue, requeue_on_error=False, **kwargs)

    def queues(self, queue_type=None):
        """(dead-letter queue, queue), declared for `queue_type` (QUEUE_TYPE)."""
        dead = Queue(f"{self.queue_name}.dead", durable=True,
                     queue_arguments=queue_arguments(queue_type))
        return dead, QueueWithDeadLetters(
            self.queue_name, durable=True, bindings=self.bindings, dead_letters=dead,
            queue_arguments=work_queue_arguments(self.queue_name, queue_type))

    def setup(self):
        self.dead_letter_queue, self.queue = self.queues(self.container.config.get("QUEUE_TYPE"))
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
            headers.pop("x-error-trace", None)  # a replayed dead letter of an earlier version
            headers.update({"x-error": short_reason(error),
                            "x-error-type": type(error).__name__})
            log.warning("%s: dead-lettering a message after %d attempt(s): %s",
                        self.queue_name, attempts, error, exc_info=exc_info)
            self._publish(message, self.dead_letter_queue.name, headers)
        else:
            eventlet.sleep(self.retry_delay * attempts)
            self._publish(message, self.queue_name, headers)

    def _publish(self, message, queue_name, headers):
        self.publisher.publish(message.body, exchange=DEFAULT_EXCHANGE, routing_key=queue_name,
                               headers=headers, content_type=message.content_type,
                               content_encoding=message.content_encoding, serializer=None)


def short_reason(error):
    """The first line of the error, at most ERROR_LENGTH characters."""
    lines = str(error).strip().splitlines()
    return lines[0][:ERROR_LENGTH] if lines else ""


class BatchQueueConsumer(QueueConsumer):
    """The queue consumer of the batch consumers: its own connection, which lets the broker
    send up to `BATCH_PREFETCH` messages ahead, so the next batch gathers while one is
    handled (nameko's own lets a process hold `max_workers`)."""

    @property
    def prefetch_count(self):
        return BATCH_PREFETCH


class BatchConsumer(ReliableConsumer):
    """`@consume_in_batches(queue_name, max_batch=50, gather=0.002, ...)`: as
    `consume_reliably`, but the method gets a list of message bodies: the messages delivered
    together (at most `max_batch`, gathered for `gather` seconds after the first), one worker
    for the lot, so a store write, a publish and a worker's cost are shared by many. When the
    batch succeeds each message is acknowledged; when it fails each is handled again by
    itself (a list of one), so a bad message is retried or dead-lettered alone, exactly as
    `consume_reliably` would, and the others go through. A batch may have been partly done
    when it failed: handlers must be idempotent, as for any redelivery.

    The broker sends up to BATCH_PREFETCH messages ahead (its own connection's prefetch);
    what has not been handled when the process dies is delivered again."""

    queue_consumer = BatchQueueConsumer()

    def __init__(self, queue_name, max_batch=50, gather=0.002, **kwargs):
        self.max_batch = max_batch
        self.gather = gather
        super().__init__(queue_name, **kwargs)

    def setup(self):
        super().setup()
        self.pending = []     # (body, message, alone)
        self.arrived = Event()

    def start(self):
        super().start()
        self.container.spawn_managed_thread(self._batches)

    def handle_message(self, body, message):
        self.pending.append((body, message, False))
        if not self.arrived.ready():
            self.arrived.send()

    def _batches(self):
        while True:
            self.arrived.wait()
            self.arrived.reset()
            eventlet.sleep(self.gather)  # what the broker sent together arrives meanwhile
            while self.pending:
                alone = self.pending[0][2]
                size = 1 if alone else next(
                    (i for i, (_, _, a) in enumerate(self.pending[:self.max_batch]) if a),
                    min(len(self.pending), self.max_batch))
                batch, self.pending = self.pending[:size], self.pending[size:]
                self._spawn([(body, message) for body, message, _ in batch])

    def _spawn(self, batch):
        BATCH_SIZE.labels(self.queue_name).observe(len(batch))
        try:
            self.container.spawn_worker(
                self, ([body for body, _ in batch],), {},
                context_data=self.unpack_message_headers(batch[0][1]),
                handle_result=partial(self._settle_batch, batch))
        except ContainerBeingKilled:
            for _, message in batch:
                requeue_quietly(self.queue_consumer, message)

    def _settle_batch(self, batch, worker_ctx, result=None, exc_info=None):
        if exc_info is None or len(batch) == 1:
            for _, message in batch:
                self.handle_message_processed(message, result, exc_info)
        else:  # each again by itself, so only a bad one is retried or set aside
            log.info("%s: a batch of %d failed (%s); each is handled alone",
                     self.queue_name, len(batch), exc_info[1])
            self.pending.extend((body, message, True) for body, message in batch)
            if not self.arrived.ready():
                self.arrived.send()
        return result, exc_info


consume_reliably = ReliableConsumer.decorator
consume_in_batches = BatchConsumer.decorator
