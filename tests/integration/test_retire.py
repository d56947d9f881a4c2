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


def test_the_successor_is_declared_of_the_configured_type(rabbit_config):
    """With QUEUE_TYPE=quorum the successor is a quorum queue, declared as its reliable
    consumer declares it (else that consumer would be refused)."""
    from urllib.parse import quote, unquote, urlsplit

    import requests

    from contracts.topology import work_queue_arguments
    from infra.sandbox import MANAGEMENT, MANAGEMENT_AUTH

    uri = rabbit_config["AMQP_URI"]
    with kombu.Connection(uri) as connection:
        old = kombu.Queue("evt-old-q", durable=True)
        connection.Producer().publish({"id": "e1"}, routing_key="evt-old-q", declare=[old],
                                      serializer="json")
    assert retire_queues(uri, {"evt-old-q": "things.qfile"}, queue_type="quorum") == 1

    vhost = quote(unquote(urlsplit(uri).path[1:]) or "/", safe="")
    queue = requests.get(f"{MANAGEMENT}/queues/{vhost}/things.qfile", auth=MANAGEMENT_AUTH,
                         timeout=10).json()
    assert queue["type"] == "quorum"
    assert queue["arguments"] == work_queue_arguments("things.qfile", "quorum")
    with kombu.Connection(uri) as connection:  # its consumer's declaration is accepted
        kombu.Queue("things.qfile", durable=True, queue_arguments=work_queue_arguments(
            "things.qfile", "quorum"))(connection.channel()).declare()
