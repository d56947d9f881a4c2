"""Retired queues are emptied into their successors and deleted, on a real RabbitMQ."""
import json

import kombu
from amqp.exceptions import NotFound

from infra.retire import retire_queues


def test_a_retired_queue_hands_its_messages_on_and_is_gone(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    connection = kombu.Connection(uri)
    exchange = kombu.Exchange("things.events", type="topic", durable=True)
    old = kombu.Queue("evt-old", exchange, routing_key="thing.#", durable=True)
    old(connection.channel()).declare()
    with connection.Producer() as producer:
        for n in range(3):
            producer.publish(json.dumps({"id": f"e{n}"}), exchange=exchange,
                             routing_key="thing.made", content_type="application/json")

    retired = {"evt-old": "things.file", "evt-never-there": "things.file"}
    assert retire_queues(uri, retired) == 3
    assert retire_queues(uri, retired) == 0  # again: nothing left to do

    channel = connection.channel()
    new = kombu.Queue("things.file", durable=True)(channel)
    bodies = []
    while (message := new.get(no_ack=True)) is not None:
        bodies.append(json.loads(message.body))
    assert bodies == [{"id": f"e{n}"} for n in range(3)]
    try:
        channel.queue_declare("evt-old", passive=True)
        still_there = True
    except NotFound:
        still_there = False
    connection.release()
    assert not still_there
