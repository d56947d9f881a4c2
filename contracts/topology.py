"""The broker's shape between the platform and the agencies, named once.

- Every event the services publish (on `<service>.events`, routing key = its type) is also
  kept in the stream `feeds.archive` (x-queue-type=stream), bound to every catalogued type of
  every service's exchange: an event type published is never without a queue, and a new or
  recovering agency is replayed from it. Only the feeds component reads it.
- The feeds component publishes each agency's projection of an event on the topic exchange
  `feeds.agencies` with the agency as routing key; the agency's queue `feed.<agency>` is bound
  to its key and dead-letters into `feed.<agency>.dead` (bounded).
- Agencies send reports on the topic exchange `agency.reports`, each with its own agency as
  the routing key (the only one its broker user may publish) and `user_id` set to its broker
  user (RabbitMQ refuses any other); `feeds.reports` takes them all.
- The platform's own durable queues (those consumed through kit.reliable and their `.dead`
  queues, the agencies' queues and `feeds.reports`) are of the type the configuration names
  (`QUEUE_TYPE`): classic, or quorum (replicated over a cluster's nodes, with a delivery
  limit). `queue_arguments` is the one place that choice is made; see there.
"""
import re

from .events import CATALOGUE

ARCHIVE = "feeds.archive"
DEFAULT_RETENTION = "90D"  # x-max-age: Y, M, D, h, m, s
AGENCY_EXCHANGE = "feeds.agencies"
REPORTS_EXCHANGE = "agency.reports"
REPORTS_QUEUE = "feeds.reports"
REPORTS_DEAD = "feeds.reports.dead"  # reports no agency's user sent (bounded)
DEAD_LETTER_LIMIT = 10_000  # a dead-letter queue keeps at most this many (oldest dropped)
CLASSIC, QUORUM = "classic", "quorum"
QUEUE_TYPES = (CLASSIC, QUORUM)
DELIVERY_LIMIT = 20  # deliveries of one message by a quorum queue before it is dead-lettered
AGENCY_PATTERN = r"^[a-z][a-z0-9_-]{1,39}$"
_AGENCY = re.compile(AGENCY_PATTERN)


def events_exchange(service):
    return f"{service}.events"


def archive_arguments(retention=DEFAULT_RETENTION):
    return {"x-queue-type": "stream", "x-max-age": retention}


def archive_bindings(services=None):
    """(exchange, routing key) of every catalogued event type (of `services`, or all)."""
    return [(events_exchange(service), event_type)
            for service, events in sorted(CATALOGUE.items())
            if services is None or service in services
            for event_type in sorted(events)]


def feed_queue(agency):
    return f"feed.{agency}"


def dead_letter_queue(agency):
    return f"feed.{agency}.dead"


def queue_type(value=None):
    """The queue type `value` names (QUEUE_TYPE; empty or None: classic). Raises ValueError
    for anything else: a stream is no work queue (the archive is the platform's only one)."""
    name = (value or CLASSIC).strip().lower()
    if name not in QUEUE_TYPES:
        raise ValueError(f"QUEUE_TYPE must be one of {', '.join(QUEUE_TYPES)}, not {value!r}")
    return name


def queue_arguments(kind=CLASSIC, arguments=None, dead_letters=None):
    """The arguments to declare one of the platform's own durable queues with, for the queue
    type `kind` (QUEUE_TYPE): the queue's own `arguments` and, for a quorum queue, the type.

    Classic (the default) adds nothing: a queue is declared exactly as it always was, so a
    single broker and the classic queues it already holds keep working. Quorum queues are
    replicated over the nodes of a cluster (a majority of them up keeps a queue working).
    A quorum queue that feeds a consumer (`dead_letters` names where its dead letters go)
    gives a message at most DELIVERY_LIMIT times (each return by a consumer that failed or
    lost its connection counts), then dead-letters it there: a message that kills whoever
    takes it does not circle for ever, nor is it dropped. Dead-lettering is at least once
    (`x-dead-letter-strategy`): the queue keeps a dead letter until the dead-letter queue has
    confirmed it, so one is not lost with a node, nor when that queue is missing. The broker
    needs `x-overflow: reject-publish` for it; these queues have no length limit, so nothing
    is ever refused for it. A dead-letter queue (`dead_letters` None) is the end of the line
    and has no limit: a dead letter looked at (fetched and returned) again and again is never
    dropped for it.

    A queue's type cannot change in place: the broker refuses (PRECONDITION_FAILED,
    inequivalent arg 'x-queue-type') to declare a queue that exists with another type, and
    the process declaring it cannot start its consumer. To move a platform to quorum queues,
    stop it, let each queue of its own be emptied or move its messages aside (as
    infra/retire.py does), delete those queues (`rabbitmqctl delete_queue NAME -p VHOST`),
    and start it again with QUEUE_TYPE=quorum: each process declares its queues anew.

    A quorum queue is always durable, never exclusive nor auto-deleted, and has no message
    priorities nor global QoS; the platform's own queues use none of these. RabbitMQ 3.10
    takes `x-max-length` with `x-overflow` drop-head or reject-publish on a quorum queue (not
    reject-publish-dlx), so the bounded dead-letter queues keep dropping their oldest.
    Queues that are not the platform's own stay classic whatever QUEUE_TYPE says: nameko's
    RPC request and reply queues (declared by nameko), dispatch's per-process queue of
    registry changes (it expires with its process) and the tests' taps.
    The archive stays a stream (`archive_arguments`)."""
    arguments = dict(arguments or {})
    if queue_type(kind) == CLASSIC:
        return arguments
    arguments["x-queue-type"] = QUORUM
    if dead_letters is not None:
        arguments.update({"x-delivery-limit": DELIVERY_LIMIT, "x-dead-letter-exchange": "",
                          "x-dead-letter-routing-key": dead_letters,
                          "x-dead-letter-strategy": "at-least-once",
                          "x-overflow": "reject-publish"})
    return arguments


def work_queue_arguments(queue, kind=CLASSIC):
    """A queue consumed through kit.reliable (`<queue>`, whose dead letters go to
    `<queue>.dead`): whoever declares it, the consumer or a publisher, declares it alike."""
    return queue_arguments(kind, dead_letters=f"{queue}.dead")


def feed_queue_arguments(agency, kind=CLASSIC):
    dead = dead_letter_queue(agency)
    return queue_arguments(kind, {"x-dead-letter-exchange": "",
                                  "x-dead-letter-routing-key": dead}, dead_letters=dead)


def dead_letter_arguments(kind=CLASSIC):
    """A bounded dead-letter queue (an agency's, the reports'): the oldest dropped past
    DEAD_LETTER_LIMIT."""
    return queue_arguments(kind, {"x-max-length": DEAD_LETTER_LIMIT, "x-overflow": "drop-head"})


def valid_agency(agency):
    return isinstance(agency, str) and bool(_AGENCY.match(agency))


def declare_archive(channel, exchanges=None, retention=DEFAULT_RETENTION):
    """Declare the archive stream and bind it to the catalogued types of `exchanges` (every
    service's by default), on a py-amqp channel. Declaring what exists with the same arguments
    changes nothing; the stream keeps the retention it was first declared with, and the broker
    refuses (PRECONDITION_FAILED, closing the channel) a declaration with another one.
    `retention=None` takes the stream as it is (it must exist) and only binds it."""
    if retention is None:
        channel.queue_declare(ARCHIVE, passive=True)
    else:
        channel.queue_declare(ARCHIVE, durable=True, auto_delete=False,
                              arguments=archive_arguments(retention))
    for exchange, event_type in archive_bindings():
        if exchanges is None or exchange in exchanges:
            channel.exchange_declare(exchange, "topic", durable=True, auto_delete=False)
            channel.queue_bind(ARCHIVE, exchange, event_type)
