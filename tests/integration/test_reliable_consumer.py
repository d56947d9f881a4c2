"""`consume_reliably` on a real broker: a message that keeps failing is dead-lettered with a
short reason (the error's first line, its type, the attempts), and its traceback goes to the
log, not into the message."""
import json
import logging

import kombu
import pytest

from kit.reliable import ERROR_LENGTH, consume_reliably

REASON = "the gear cannot be fitted " + "x" * 300


class Fragile:
    name = "fragile"

    @consume_reliably("fragile.intake", max_attempts=2, retry_delay=0.01)
    def take(self, body):
        raise RuntimeError(f"{REASON}\nsecond line\nthird line")


@pytest.fixture
def fragile(container_factory, config):
    container = container_factory(Fragile, config)
    container.start()
    return container


def test_a_dead_letter_carries_a_short_reason_and_the_traceback_is_logged(fragile, config,
                                                                         caplog):
    with caplog.at_level(logging.WARNING, logger="kit.reliable"):
        with kombu.Connection(config["AMQP_URI"]) as connection:
            connection.Producer().publish({"n": 1}, routing_key="fragile.intake",
                                          serializer="json", headers={"origin": "test"})
            dead = connection.SimpleQueue("fragile.intake.dead")
            letter = dead.get(timeout=10)
            letter.ack()
            dead.close()

    assert json.loads(letter.body) == {"n": 1}
    headers = letter.headers
    assert headers["x-error"] == REASON[:ERROR_LENGTH]
    assert headers["x-error-type"] == "RuntimeError"
    assert headers["x-attempts"] == 2
    assert "x-error-trace" not in headers
    assert headers["origin"] == "test"  # the original headers travel with it
    [logged] = [r for r in caplog.records if "dead-lettering" in r.getMessage()]
    assert logged.levelno == logging.WARNING
    assert logged.exc_info is not None and logged.exc_info[0] is RuntimeError
