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
"""
import re

from .events import CATALOGUE

ARCHIVE = "feeds.archive"
DEFAULT_RETENTION = "90D"  # x-max-age: Y, M, D, h, m, s
AGENCY_EXCHANGE = "feeds.agencies"
REPORTS_EXCHANGE = "agency.reports"
REPORTS_QUEUE = "feeds.reports"
DEAD_LETTER_LIMIT = 10_000  # a dead-letter queue keeps at most this many (oldest dropped)
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


def feed_queue_arguments(agency):
    return {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": dead_letter_queue(agency)}


def dead_letter_arguments():
    return {"x-max-length": DEAD_LETTER_LIMIT, "x-overflow": "drop-head"}


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
