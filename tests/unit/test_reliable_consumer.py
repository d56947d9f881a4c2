"""A failed message is acknowledged only once its retry or dead letter is out."""
import sys

from kit.errors import ValidationFailed
from kit.reliable import ReliableConsumer


class Message:
    headers = {}
    body = '{"x": 1}'
    content_type = "application/json"
    content_encoding = "utf-8"


class QueueConsumer:
    def __init__(self):
        self.acked, self.requeued = [], []

    def ack_message(self, message):
        self.acked.append(message)

    def requeue_message(self, message):
        self.requeued.append(message)


class Publisher:
    def __init__(self, fails):
        self.fails = fails
        self.sent = []

    def publish(self, body, **kwargs):
        if self.fails:
            raise ConnectionError("broker away")
        self.sent.append((body, kwargs["routing_key"]))


def consumer(publisher_fails):
    found = ReliableConsumer("intake", max_attempts=2)
    found.queue_consumer = QueueConsumer()
    found.publisher = Publisher(publisher_fails)
    return found


def refused():
    try:
        raise ValidationFailed({"x": ["bad"]})
    except ValidationFailed:
        return sys.exc_info()


def test_a_refused_message_is_acknowledged_once_its_dead_letter_is_out():
    reliable, message = consumer(publisher_fails=False), Message()
    reliable.handle_message_processed(message, exc_info=refused())
    assert reliable.publisher.sent == [(message.body, "intake.dead")]
    assert reliable.queue_consumer.acked == [message]


def test_a_message_whose_dead_letter_cannot_go_out_is_requeued_not_lost():
    reliable, message = consumer(publisher_fails=True), Message()
    reliable.handle_message_processed(message, exc_info=refused())
    assert reliable.queue_consumer.acked == []
    assert reliable.queue_consumer.requeued == [message]


def test_a_message_handled_well_is_acknowledged():
    reliable, message = consumer(publisher_fails=True), Message()
    reliable.handle_message_processed(message, result=None)
    assert reliable.queue_consumer.acked == [message]
