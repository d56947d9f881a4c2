"""Batches of events on a real RabbitMQ: confirmed all together, or an error naming what did
not go through; every catalogued type is kept in the archive stream, and a type no queue
takes is returned, counted and reported."""
import json
import logging
import time
from urllib.parse import quote, urlsplit

import eventlet
import kombu
import pytest
import requests
from prometheus_client import REGISTRY

from contracts.envelope import CONTENT_TYPE
from contracts.topology import ARCHIVE, DEFAULT_RETENTION
from infra.sandbox import MANAGEMENT, MANAGEMENT_AUTH
from kit.publishing import BatchPublisher, PublishFailed, PublishUnroutable

EXCHANGE = "test.events"
REGISTRY_EXCHANGE = "enterprise.events"  # a service's exchange: its types are catalogued


@pytest.fixture
def broker(rabbit_config):
    connection = kombu.Connection(rabbit_config["AMQP_URI"])
    exchange = kombu.Exchange(EXCHANGE, type="topic", durable=True)
    channel = connection.channel()
    exchange(channel).declare()
    yield connection, exchange, channel
    connection.release()


@pytest.fixture
def received(broker):
    """The ids of every message published on the exchange so far, in order."""
    connection, exchange, channel = broker
    queue = kombu.Queue("everything", exchange, routing_key="#")(channel)
    queue.declare()
    return lambda: [json.loads(m.body)["id"] for m in drain(queue)]


def messages(batch_id, n):
    return [(f"thing.{i}", json.dumps({"id": f"{batch_id}-{i}", "n": i})) for i in range(n)]


def drain(bound):
    got = []
    while (message := bound.get(no_ack=True, accept=[CONTENT_TYPE])) is not None:
        got.append(message)
    return got


def test_a_batch_arrives_whole_in_order_as_cloudevents_json(broker, rabbit_config):
    connection, exchange, channel = broker
    queue = kombu.Queue("seen", exchange, routing_key="thing.*")(channel)
    queue.declare()
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], EXCHANGE)

    publisher.publish_all(messages("a", 5))
    publisher.publish_all(messages("b", 3))  # on the same pooled channel
    publisher.close()

    got = drain(queue)
    assert [json.loads(m.body)["id"] for m in got] == [f"a-{i}" for i in range(5)] + [
        f"b-{i}" for i in range(3)]
    assert {m.content_type for m in got} == {CONTENT_TYPE}
    assert {m.delivery_info["routing_key"] for m in got[:5]} == {f"thing.{i}" for i in range(5)}
    assert {m.properties["delivery_mode"] for m in got} == {2}  # persistent


def test_a_batch_the_broker_refuses_in_part_raises_and_the_next_one_goes_out(broker,
                                                                            rabbit_config):
    connection, exchange, channel = broker
    full = kombu.Queue("full", exchange, routing_key="thing.1", queue_arguments={
        "x-max-length": 0, "x-overflow": "reject-publish"})(channel)
    full.declare()
    seen = kombu.Queue("seen", exchange, bindings=[
        kombu.binding(exchange, routing_key=key) for key in ("thing.0", "thing.2")])(channel)
    seen.declare()
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], EXCHANGE)

    with pytest.raises(PublishFailed) as refused:
        publisher.publish_all(messages("a", 3))  # thing.1 is refused by its full queue
    publisher.publish_all(messages("b", 1))
    publisher.close()

    assert not isinstance(refused.value, PublishUnroutable)
    assert refused.value.failed == [1]
    assert [json.loads(m.body)["id"] for m in drain(seen)] == ["a-0", "a-2", "b-0"]


def test_many_batches_at_once_on_new_channels_are_all_confirmed(received, rabbit_config):
    """Concurrent workers each take a channel of their own, new or pooled."""
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], EXCHANGE, timeout=5)

    def publish(n):
        publisher.publish_all(messages(f"g{n}", 4))
        return n

    pool = eventlet.GreenPool(32)
    for _ in range(2):  # on new channels, then on the pooled ones
        assert sorted(pool.imap(publish, range(32))) == list(range(32))
    publisher.close()

    got = received()
    assert sorted(got) == sorted([f"g{n}-{i}" for n in range(32) for i in range(4)] * 2)


def test_a_confirm_that_comes_while_the_batch_is_still_being_sent_counts(received, rabbit_config):
    """py-amqp reads incoming frames before each publish (to notice a blocked connection):
    the confirms it reads then must count, or the batch would wait for them forever."""
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], EXCHANGE, timeout=3)
    publisher.publish_all(messages("warm", 1))
    [(pooled, _)] = publisher.idle
    send = pooled.channel.basic_publish

    def slow_send(*args, **kwargs):  # the broker confirms each one before the next is sent
        result = send(*args, **kwargs)
        eventlet.sleep(0.05)
        return result

    pooled.channel.basic_publish = slow_send
    publisher.publish_all(messages("slow", 4))
    publisher.close()

    assert received() == ["warm-0"] + [f"slow-{i}" for i in range(4)]


def test_a_channel_idle_too_long_is_replaced_and_a_dead_one_is_survived(received, rabbit_config):
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], EXCHANGE, max_idle=0.05)
    publisher.publish_all(messages("a", 1))
    [(first, _)] = publisher.idle
    eventlet.sleep(0.1)
    publisher.publish_all(messages("b", 1))  # on a new channel; the idle one was closed
    [(second, _)] = publisher.idle
    second.connection.connection.sock.close()  # as if the broker had gone meanwhile
    publisher.max_idle = 30
    publisher.publish_all(messages("c", 1))  # the dead one fails; a new one sends it
    [(third, _)] = publisher.idle
    publisher.close()

    assert len({id(first), id(second), id(third)}) == 3
    assert first.connection.connection is None or not first.connection.connected
    assert received() == ["a-0", "b-0", "c-0"]


def vhost_of(rabbit_config):
    return urlsplit(rabbit_config["AMQP_URI"]).path.lstrip("/")


def archived(rabbit_config, count, timeout=10):
    """The first `count` messages of the archive stream (read from its start, as a new
    agency is replayed), as (routing key, body)."""
    got = []
    with kombu.Connection(rabbit_config["AMQP_URI"]) as connection:
        channel = connection.channel()
        channel.basic_qos(0, 100, False)  # a stream is read with a prefetch and acks

        def take(message):
            got.append((message.delivery_info["routing_key"], message.body))
            channel.basic_ack(message.delivery_tag)

        channel.basic_consume(ARCHIVE, callback=take,
                              arguments={"x-stream-offset": "first"})
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            try:
                connection.drain_events(timeout=0.2)
            except TimeoutError:
                pass
        try:  # anything beyond `count` would show too
            connection.drain_events(timeout=0.3)
        except TimeoutError:
            pass
    return got


def archive_arguments(rabbit_config):
    answer = requests.get(f"{MANAGEMENT}/queues/{quote(vhost_of(rabbit_config), safe='')}/"
                          f"{ARCHIVE}", auth=MANAGEMENT_AUTH, timeout=10)
    answer.raise_for_status()
    return answer.json()["arguments"]


def event(n):
    return json.dumps({"id": f"e-{n}", "n": n})


def unroutable_count(exchange, event_type):
    return REGISTRY.get_sample_value("liaison_events_unroutable_total",
                                     {"exchange": exchange, "type": event_type}) or 0


def test_a_catalogued_type_is_kept_in_the_archive_stream(rabbit_config):
    """On a fresh vhost nothing else is bound: the publisher declares the archive itself."""
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], REGISTRY_EXCHANGE)
    publisher.publish_all([("station.created", event(1)), ("officer.registered", event(2))])
    publisher.close()

    assert archived(rabbit_config, 2) == [("station.created", event(1)),
                                          ("officer.registered", event(2))]
    assert archive_arguments(rabbit_config) == {"x-queue-type": "stream",
                                                "x-max-age": DEFAULT_RETENTION}


def test_the_archive_keeps_the_retention_it_was_made_with(rabbit_config, caplog):
    first = BatchPublisher(rabbit_config["AMQP_URI"], REGISTRY_EXCHANGE, retention="7D")
    first.publish_all([("station.created", event(1))])
    first.close()
    other = BatchPublisher(rabbit_config["AMQP_URI"], REGISTRY_EXCHANGE, retention="30D")
    with caplog.at_level(logging.WARNING, logger="kit.publishing"):
        other.publish_all([("station.created", event(2))])  # still published
    other.close()

    assert archive_arguments(rabbit_config)["x-max-age"] == "7D"
    assert [body for _, body in archived(rabbit_config, 2)] == [event(1), event(2)]
    assert any("30D" in r.getMessage() for r in caplog.records)


def test_an_uncatalogued_type_is_returned_counted_and_named_and_its_siblings_go_out(
        rabbit_config, caplog):
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], REGISTRY_EXCHANGE)
    before = unroutable_count(REGISTRY_EXCHANGE, "station.painted")
    batch = [("station.created", event(0)), ("station.painted", event(1)),
             ("grid.created", event(2))]

    with caplog.at_level(logging.ERROR, logger="kit.publishing"):
        with pytest.raises(PublishUnroutable) as unroutable:
            publisher.publish_all(batch)

    assert isinstance(unroutable.value, PublishFailed)  # a caller keeps what failed
    assert unroutable.value.failed == [1]  # the siblings were confirmed
    assert unroutable.value.types == ["station.painted"]
    assert "station.painted" in str(unroutable.value)
    assert unroutable_count(REGISTRY_EXCHANGE, "station.painted") == before + 1
    [logged] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "station.painted" in logged.getMessage()
    assert REGISTRY_EXCHANGE in logged.getMessage()
    assert len(publisher.idle) == 1  # the channel settled everything: pooled again

    publisher.publish_all([("station.created", event(3))])  # on that same channel
    publisher.close()
    assert archived(rabbit_config, 3) == [("station.created", event(0)),
                                          ("grid.created", event(2)),
                                          ("station.created", event(3))]
