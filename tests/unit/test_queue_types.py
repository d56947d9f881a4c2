"""The type of the platform's own durable queues (QUEUE_TYPE): classic unless configured,
quorum with a delivery limit when asked, chosen in one place (contracts.topology) and used by
every declaration of those queues: kit.reliable's consumers, the feeds process's agencies'
and reports' queues, and its intake's view of dispatch's queue. No broker: the declarations
are recorded on fake channels."""
from contextlib import nullcontext
from types import SimpleNamespace

import pytest
import yaml

from contracts import topology
from contracts.topology import (DELIVERY_LIMIT, dead_letter_arguments, feed_queue_arguments,
                                queue_arguments, queue_type, work_queue_arguments)
from kit.reliable import BatchConsumer, ReliableConsumer
from kit.tables import MemoryDatabase
from services.feeds import broker, fanout as fanout_module, intake as intake_module
from services.feeds.fanout import Fanout
from services.feeds.intake import DISPATCH_REPORTS, ReportIntake

from infra.launch import CONFIG

QUORUM_WORK = {"x-queue-type": "quorum", "x-delivery-limit": DELIVERY_LIMIT,
               "x-dead-letter-exchange": "", "x-dead-letter-strategy": "at-least-once",
               "x-overflow": "reject-publish"}


# --- the one function ----------------------------------------------------------------------


def test_classic_is_the_default_and_adds_nothing_to_a_queue_s_own_arguments():
    assert queue_type(None) == queue_type("") == "classic"
    assert queue_arguments() == {}
    assert queue_arguments("classic", {"x-max-length": 5}, dead_letters="q.dead") == {
        "x-max-length": 5}
    assert work_queue_arguments("dispatch.incident_reports") == {}
    # exactly what the queues were declared with before QUEUE_TYPE, so existing ones still fit
    assert feed_queue_arguments("market") == {"x-dead-letter-exchange": "",
                                              "x-dead-letter-routing-key": "feed.market.dead"}
    assert dead_letter_arguments() == {"x-max-length": topology.DEAD_LETTER_LIMIT,
                                       "x-overflow": "drop-head"}


def test_quorum_adds_the_type_and_a_delivery_limit_that_dead_letters_into_the_dead_queue():
    assert queue_type(" Quorum ") == "quorum"
    assert work_queue_arguments("dispatch.incident_reports", "quorum") == dict(
        QUORUM_WORK, **{"x-dead-letter-routing-key": "dispatch.incident_reports.dead"})
    assert feed_queue_arguments("market", "quorum") == dict(
        QUORUM_WORK, **{"x-dead-letter-routing-key": "feed.market.dead"})


def test_a_quorum_dead_letter_queue_has_no_delivery_limit_and_stays_bounded():
    assert queue_arguments("quorum") == {"x-queue-type": "quorum"}
    assert dead_letter_arguments("quorum") == {
        "x-queue-type": "quorum", "x-max-length": topology.DEAD_LETTER_LIMIT,
        "x-overflow": "drop-head"}


@pytest.mark.parametrize("value", ["stream", "mirrored", "quorum-ish"])
def test_any_other_queue_type_is_refused_by_name(value):
    with pytest.raises(ValueError, match="QUEUE_TYPE must be one of classic, quorum"):
        queue_type(value)


def test_the_configuration_says_classic_unless_the_environment_asks_for_quorum(monkeypatch):
    from nameko.cli.main import setup_yaml_parser

    setup_yaml_parser()
    monkeypatch.delenv("QUEUE_TYPE", raising=False)
    assert yaml.safe_load(CONFIG.read_text())["QUEUE_TYPE"] == "classic"
    monkeypatch.setenv("QUEUE_TYPE", "quorum")
    assert yaml.safe_load(CONFIG.read_text())["QUEUE_TYPE"] == "quorum"


def test_the_archive_stays_a_stream():
    assert topology.archive_arguments()["x-queue-type"] == "stream"


# --- who declares what ---------------------------------------------------------------------


class RecordingChannel:
    """A py-amqp channel that records each queue declared: name -> arguments."""

    def __init__(self):
        self.queues = {}

    def queue_declare(self, queue, durable=False, auto_delete=True, arguments=None,
                      passive=False, **kwargs):
        assert durable and not auto_delete, queue  # a quorum queue can be nothing else
        self.queues[queue] = dict(arguments or {})

    def __getattr__(self, name):  # exchanges, bindings, confirms, QoS: nothing to record
        return lambda *args, **kwargs: None


def bound(extension, config, **container):
    extension.container = SimpleNamespace(config=config, service_name="feeds", **container)
    return extension


class SharedStub:
    def register_provider(self, provider):
        pass


@pytest.mark.parametrize("consumer_class", [ReliableConsumer, BatchConsumer])
@pytest.mark.parametrize("configured", [None, "classic", "quorum"])
def test_reliable_consumers_declare_their_queues_of_the_configured_type(consumer_class,
                                                                        configured):
    config = {"AMQP_URI": "amqp://guest:guest@localhost:5672/"}
    if configured:
        config["QUEUE_TYPE"] = configured
    consumer = bound(consumer_class("appraisal.kpi_events",
                                    bindings=[("dispatch.events", "incident.#")]), config)
    consumer.queue_consumer = SharedStub()
    consumer.setup()
    kind = configured or "classic"
    assert consumer.queue.name == "appraisal.kpi_events"
    assert consumer.queue.durable and not consumer.queue.auto_delete
    assert consumer.queue.queue_arguments == work_queue_arguments("appraisal.kpi_events", kind)
    assert [b.routing_key for b in consumer.queue.bindings] == ["incident.#"]
    assert consumer.dead_letter_queue.name == "appraisal.kpi_events.dead"
    assert consumer.dead_letter_queue.queue_arguments == queue_arguments(kind)
    # its publisher (retries and dead letters) declares the same two queues
    assert consumer.publisher.declare == [consumer.queue, consumer.dead_letter_queue]


def test_a_reliable_consumer_with_an_unknown_queue_type_does_not_start():
    consumer = bound(ReliableConsumer("q"), {"AMQP_URI": "amqp://x/", "QUEUE_TYPE": "lazy"})
    consumer.queue_consumer = SharedStub()
    with pytest.raises(ValueError, match="QUEUE_TYPE"):
        consumer.setup()


@pytest.mark.parametrize("kind", ["classic", "quorum"])
def test_the_feeds_broker_module_declares_its_queues_of_the_given_type(kind):
    channel = RecordingChannel()
    broker.declare_shared(channel, "90D", kind)
    broker.declare_agency(channel, "market", kind)
    assert channel.queues == {
        topology.ARCHIVE: topology.archive_arguments("90D"),
        topology.REPORTS_QUEUE: work_queue_arguments(topology.REPORTS_QUEUE, kind),
        topology.REPORTS_DEAD: dead_letter_arguments(kind),
        "feed.market": feed_queue_arguments("market", kind),
        "feed.market.dead": dead_letter_arguments(kind),
    }


@pytest.fixture
def fanout(monkeypatch):
    monkeypatch.setattr(fanout_module, "open_database", lambda *args: MemoryDatabase())

    def make(config):
        found = bound(Fanout(), dict({"AMQP_URI": "amqp://guest:guest@localhost:5672/"},
                                     **config))
        found.setup()
        channel = RecordingChannel()
        found._channel = lambda: nullcontext(channel)
        return found, channel

    return make


def test_the_fanout_declares_agencies_queues_as_configured(fanout):
    quorum, channel = fanout({"QUEUE_TYPE": "quorum"})
    quorum.declare_agency("market")
    assert channel.queues["feed.market"]["x-queue-type"] == "quorum"
    assert channel.queues["feed.market"]["x-delivery-limit"] == DELIVERY_LIMIT
    assert channel.queues["feed.market.dead"]["x-queue-type"] == "quorum"

    classic, channel = fanout({})
    classic.declare_agency("market")
    assert channel.queues["feed.market"] == feed_queue_arguments("market")
    assert "x-queue-type" not in channel.queues["feed.market.dead"]


class Stop(Exception):
    pass


class FakeConnection:
    """One channel for all, recording; the intake stops at its first wait for a message."""

    def __init__(self, *args, **kwargs):
        self.channel_ = RecordingChannel()

    def connect(self):
        pass

    def channel(self):
        return self.channel_

    def drain_events(self, timeout=None):
        raise Stop()

    def release(self):
        pass


def test_the_intake_declares_dispatch_s_queue_exactly_as_dispatch_s_consumer_does(fanout,
                                                                                  monkeypatch):
    """Two declarers of one queue must agree, or the second is refused (PRECONDITION_FAILED)."""
    monkeypatch.setattr(intake_module, "Connection", FakeConnection)
    config = {"AMQP_URI": "amqp://guest:guest@localhost:5672/", "QUEUE_TYPE": "quorum"}
    feeds, _ = fanout(config)
    report_intake = bound(ReportIntake(), config, extensions=[feeds])
    report_intake.setup()
    with pytest.raises(Stop):
        report_intake._consume()
    declared = report_intake.connection.channel_.queues

    dispatch = bound(ReliableConsumer(DISPATCH_REPORTS), config)
    dispatch.queue_consumer = SharedStub()
    dispatch.setup()
    assert declared[DISPATCH_REPORTS] == dispatch.queue.queue_arguments
    assert declared[DISPATCH_REPORTS]["x-queue-type"] == "quorum"
    assert declared[topology.REPORTS_QUEUE] == work_queue_arguments(topology.REPORTS_QUEUE,
                                                                    "quorum")
    assert declared[topology.REPORTS_DEAD] == dead_letter_arguments("quorum")


def test_a_reliable_consumer_s_queue_declares_its_dead_letter_queue_first():
    """A quorum queue dead-letters at its delivery limit; the broker drops a dead letter
    whose queue does not exist, so the dead-letter queue is declared with its queue."""
    consumer = bound(ReliableConsumer("dispatch.incident_reports"),
                     {"AMQP_URI": "amqp://x/", "QUEUE_TYPE": "quorum"})
    consumer.queue_consumer = SharedStub()
    consumer.setup()
    channel = RecordingKombuChannel()
    consumer.queue(channel).declare()  # as nameko's consumer does, on each connection
    assert channel.declared == [
        ("dispatch.incident_reports.dead", queue_arguments("quorum")),
        ("dispatch.incident_reports", work_queue_arguments("dispatch.incident_reports",
                                                           "quorum"))]


class RecordingKombuChannel:
    """What kombu's Queue.declare asks of a channel."""

    def __init__(self):
        self.declared = []
        self.connection = SimpleNamespace(client=SimpleNamespace(declared_entities=set()))

    def queue_declare(self, queue, passive=False, durable=False, exclusive=False,
                      auto_delete=False, arguments=None, nowait=False):
        self.declared.append((queue, arguments))
        return SimpleNamespace(queue=queue, message_count=0, consumer_count=0)

    def prepare_queue_arguments(self, arguments, **kwargs):
        return arguments

    def __getattr__(self, name):
        return lambda *args, **kwargs: None
