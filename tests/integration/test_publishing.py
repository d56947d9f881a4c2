"""Batches of events on a real RabbitMQ: confirmed all together, or an error."""
import json

import eventlet
import kombu
import pytest

from contracts.envelope import CONTENT_TYPE
from kit.publishing import BatchPublisher, PublishFailed

EXCHANGE = "test.events"


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
    seen = kombu.Queue("seen", exchange, routing_key="thing.0")(channel)
    seen.declare()
    publisher = BatchPublisher(rabbit_config["AMQP_URI"], EXCHANGE)

    with pytest.raises(PublishFailed):
        publisher.publish_all(messages("a", 3))  # thing.1 is refused by its full queue
    publisher.publish_all(messages("b", 1))
    publisher.close()

    assert [json.loads(m.body)["id"] for m in drain(seen)] == ["a-0", "b-0"]


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
