"""Who responds for an enterprise: the registry's answer, kept while it holds.

Every incident and request needs the registry's answer for its enterprise. Asking over RPC
each time costs a round trip and the registry's work, several times what the rest of an
intake costs, for an answer that changes only when the registry is edited or when the clock
reaches a moment the registry names in the answer (`holds_until`: an absence starting or
ending, the next assignment taking effect).

So each dispatch process keeps the answers it got, and forgets
- one answer when its `holds_until` (or MAX_AGE, whichever is first) has passed;
- all answers the moment the registry announces any change: every event on the registry's
  exchange reaches this process's own queue, consumed inline (no worker slot to wait for).

The registry publishes a change's events before it answers the edit (kit.rpc), and they reach
this process on the connection its requests come by, ahead of them, so an incident reported
after an edit was answered finds the answer forgotten already. That holds while the broker
works: if the registry could not publish before answering (it answers anyway, and publishes
on retry), or right after a reconnection, when the broker does not order deliveries from two
queues, an incident may still get the answer held from before the edit. MAX_AGE bounds that.
The queue is durable and expires a minute after its process has gone, so announcements made
while this process was reconnecting are still delivered.
"""
import uuid
from datetime import datetime, timedelta

from kombu import Exchange, Queue
from nameko.extensions import DependencyProvider
from nameko.messaging import QueueConsumer

from contracts.clock import naive_utc, utcnow
from kit.metrics import counter

MAX_AGE = timedelta(seconds=30)
REGISTRY_EXCHANGE = "enterprise.events"
EXPIRES_MS = 60_000

LOOKUPS = counter("liaison_responder_lookups_total", "Who-responds lookups, by where the "
                  "answer came from (kept: a held answer; registry: an RPC).", ["source"])


class Answers:
    """The answers one process holds, by enterprise. `forget_all` also voids every lookup
    in flight, so an answer fetched before an announced change is never kept after it."""

    def __init__(self, max_age=MAX_AGE):
        self.max_age = max_age
        self.held = {}
        self.generation = 0

    def lookup(self, enterprise_id, fetch, now):
        held = self.held.get(enterprise_id)
        if held is not None and now < held[1]:
            LOOKUPS.labels("kept").inc()
            return held[0]
        generation = self.generation
        answer = fetch(enterprise_id)
        LOOKUPS.labels("registry").inc()
        until = now + self.max_age
        if answer.get("holds_until"):
            until = min(until, naive_utc(datetime.fromisoformat(answer["holds_until"])))
        if generation == self.generation:
            self.held[enterprise_id] = (answer, until)
        return answer

    def forget_all(self):
        self.generation += 1
        self.held.clear()


class WhoResponds(DependencyProvider):
    """Injects `who_responds(fetch)`: a function enterprise id -> the registry's responders
    answer, held as described above; `fetch(enterprise_id)` asks the registry."""

    queue_consumer = QueueConsumer()

    def __init__(self, max_age=MAX_AGE):
        self.answers = Answers(max_age)

    def setup(self):
        exchange = Exchange(REGISTRY_EXCHANGE, type="topic", durable=True, auto_delete=False)
        name = f"{self.container.service_name}.registry-changes.{uuid.uuid4().hex}"
        self.queue = Queue(name, exchange=exchange, routing_key="#", durable=True,
                           auto_delete=False, queue_arguments={"x-expires": EXPIRES_MS})
        self.queue_consumer.register_provider(self)

    def stop(self):
        self.queue_consumer.unregister_provider(self)

    def handle_message(self, body, message):
        self.answers.forget_all()
        self.queue_consumer.ack_message(message)

    def get_dependency(self, worker_ctx):
        def who_responds(fetch):
            return lambda enterprise_id: self.answers.lookup(enterprise_id, fetch, utcnow())
        return who_responds
