"""`consume_in_batches` on a real broker: messages that arrive together are handled together;
when a batch fails, each of its messages is handled alone, so a bad one is dead-lettered by
itself and the good ones go through once each."""
import json
import time

import kombu
import pytest

from kit.errors import ValidationFailed
from kit.reliable import consume_in_batches

BATCHES, HANDLED = [], []


class Batched:
    name = "batched"

    @consume_in_batches("batched.intake", max_attempts=2)
    def take(self, bodies):
        BATCHES.append(len(bodies))
        if any(body.get("bad") for body in bodies):
            raise ValidationFailed({"bad": ["this message is refused"]})
        HANDLED.extend(body["n"] for body in bodies)


@pytest.fixture
def batched(container_factory, config):
    BATCHES.clear()
    HANDLED.clear()
    container = container_factory(Batched, config)
    container.start()
    return container


def test_messages_are_taken_in_batches_and_a_bad_one_is_set_aside_alone(batched, config):
    with kombu.Connection(config["AMQP_URI"]) as connection:
        producer = connection.Producer()
        for n in range(60):
            body = {"n": n, "bad": n == 17}
            producer.publish(body, routing_key="batched.intake", serializer="json")
        dead = connection.SimpleQueue("batched.intake.dead")
        letter = dead.get(timeout=10)
        letter.ack()
        dead.close()
    assert json.loads(letter.body) == {"n": 17, "bad": True}
    assert letter.headers["x-error-type"] == "ValidationFailed"
    deadline = time.monotonic() + 10
    while len(HANDLED) < 59 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # nothing more arrives: none is handled twice
    assert sorted(HANDLED) == [n for n in range(60) if n != 17]
    assert max(BATCHES) > 1  # they were taken together
    assert BATCHES.count(1) >= 1  # the failed batch's messages, each alone
