"""An event no queue takes is never lost: a service's Storage keeps it in the outbox and sends
it again until a queue is bound for its type, while the events stored with it that went
through are cleared at once and never sent twice.

The service here publishes on an exchange of its own (`widgets.events`), whose types are not
catalogued: the archive is bound to none of them, so only the test's own queues take them.
"""
import time
from dataclasses import dataclass, field
from typing import ClassVar

import kombu
import pytest
from marshmallow import Schema, fields
from nameko.standalone.rpc import ServiceRpcProxy
from prometheus_client import REGISTRY

from contracts.envelope import CONTENT_TYPE
from kit.collection import OUTBOX, UNSENT, Collection, Events, Kind, UnitOfWork
from kit.rpc import rpc
from kit.storage import Storage, open_database

EXCHANGE = "widgets.events"


class WidgetFacts(Schema):
    widget_id = fields.String(required=True)
    name = fields.String(required=True)


CATALOGUE = {"widget.made": WidgetFacts, "widget.named": WidgetFacts}


@dataclass(frozen=True)
class Made:
    type: ClassVar[str] = "widget.made"
    widget_id: str
    name: str


@dataclass(frozen=True)
class Named:
    type: ClassVar[str] = "widget.named"
    widget_id: str
    name: str


@dataclass
class Widget:
    id: str
    name: str
    version: int = 0
    events: list = field(default_factory=list)


class NotFound(Exception):
    pass


WIDGETS = Kind("widgets", Widget, not_found=NotFound, exists=NotFound,
               changed_meanwhile=NotFound)


class Repository:
    def __init__(self, database, unit=None):
        self.unit = unit or UnitOfWork()
        self.widgets = Collection(database.table("widgets"), WIDGETS,
                                  Events("/services/widgets", CATALOGUE), self.unit)

    def ensure_indexes(self):
        self.widgets.ensure_indexes()

    def outbox_tables(self):
        return [self.widgets.table]


class WidgetService:
    name = "widgets"
    store = Storage(Repository, retry_interval=0.2)

    @rpc
    def make(self, widget_id, name):
        widget = Widget(widget_id, name)
        widget.events.extend([Made(widget_id, name), Named(widget_id, name)])
        self.store.widgets.add(widget)


def unroutable_count():
    return REGISTRY.get_sample_value("liaison_events_unroutable_total",
                                     {"exchange": EXCHANGE, "type": "widget.made"}) or 0


@pytest.fixture
def broker(config):
    connection = kombu.Connection(config["AMQP_URI"])
    channel = connection.channel()
    exchange = kombu.Exchange(EXCHANGE, type="topic", durable=True)(channel)
    exchange.declare()

    def queue(name, routing_key):
        bound = kombu.Queue(name, exchange, routing_key=routing_key)(channel)
        bound.declare()
        return bound

    yield queue
    connection.release()


def taken(queue):
    got = []
    while (message := queue.get(no_ack=True, accept=[CONTENT_TYPE])) is not None:
        got.append(message.delivery_info["routing_key"])
    return got


def test_an_unroutable_event_stays_in_the_outbox_until_a_queue_takes_it(
        container_factory, config, data_dir, broker):
    named = broker("named", "widget.named")  # widget.made has no queue yet
    container = container_factory(WidgetService, config)
    container.start()
    table = open_database("widgets", None, data_dir).table("widgets")
    before = unroutable_count()

    with ServiceRpcProxy("widgets", config, timeout=10) as widgets:
        widgets.make("w1", "gear")  # answered once its events were published or kept

    [kept] = table.get("w1")[OUTBOX]
    assert kept["type"] == "widget.made"  # its sibling went through and was cleared
    time.sleep(1.0)  # several retries, each returned by the broker
    assert [e["type"] for e in table.get("w1")[OUTBOX]] == ["widget.made"]
    assert unroutable_count() >= before + 2
    assert taken(named) == ["widget.named"]  # once: the retries send only what was kept

    made = broker("made", "widget.made")
    deadline = time.monotonic() + 10
    while table.get("w1")[UNSENT] and time.monotonic() < deadline:
        time.sleep(0.1)

    assert (table.get("w1")[OUTBOX], table.get("w1")[UNSENT]) == ([], False)
    assert taken(made) == ["widget.made"]
    time.sleep(0.5)  # nothing more is sent
    assert taken(made) == [] and taken(named) == []
