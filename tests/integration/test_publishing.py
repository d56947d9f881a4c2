"""Batches of events on a real RabbitMQ: confirmed all together, or an error."""
import json

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
