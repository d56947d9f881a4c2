"""Queues a release stopped using, emptied into their successors and deleted.

The enterprise file was first kept by three nameko event handlers, each with a durable queue
of its own; it is now kept by one reliable consumer on `enterprise.file`. The old queues stay
bound to `enterprise.events` until deleted, and would keep every registry event forever.
`retire_queues` moves what they still hold into the new queue (filing is idempotent on the
event id) and deletes them. Run at every start of the platform; a queue already gone is
passed over. The new queue is declared as its consumer declares it, of the configured type
(QUEUE_TYPE: contracts.topology.work_queue_arguments).
"""
from amqp.exceptions import NotFound
from kombu import Connection, Queue

from contracts.topology import work_queue_arguments

RETIRED = {
    f"evt-enterprise-{event}--enterprise.{handler}": "enterprise.file"
    for event, handler in (("enterprise.registered", "file_registration"),
                           ("enterprise.updated", "file_update"),
                           ("assignment.changed", "file_assignment"))
}


def retire_queues(amqp_uri, retired=None, queue_type=None):
    """Move and delete each retired queue; returns how many messages were moved."""
    moved = 0
    with Connection(amqp_uri) as connection:
        for old, new in (retired or RETIRED).items():
            channel = connection.channel()  # a refused passive declare closes the channel
            try:
                channel.queue_declare(old, passive=True)
            except NotFound:
                continue
            Queue(new, durable=True,
                  queue_arguments=work_queue_arguments(new, queue_type))(channel).declare()
            while (message := channel.basic_get(old)) is not None:
                channel.basic_publish_confirm(message, exchange="", routing_key=new)
                channel.basic_ack(message.delivery_tag)
                moved += 1
            channel.queue_delete(old)
            channel.close()
    return moved
