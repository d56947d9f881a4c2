"""Run a service method when a deadline comes due, on time.

`@deadline_reached` marks the method; the `Deadlines` dependency schedules keys on it:
`self.deadlines.schedule(key, due)`. Both share one in-process clock (a heap and a green
thread) that spawns a worker at `due` with the key as its argument.

The clock lives in memory and dies with the process. What makes deadlines survive restarts
is the store: the service keeps each pending deadline there and sweeps it periodically
(a `timer`), so this clock is the fast path, never the only path. A deadline may therefore
fire twice (here and in a sweep, or in two processes): the method must decide from the store,
with a conditional update, whether there is anything left to do.
"""
import heapq
import itertools
from datetime import datetime, timezone

from eventlet.event import Event
from nameko.extensions import DependencyProvider, Entrypoint, ProviderCollector, SharedExtension


def _utcnow():
    return datetime.now(timezone.utc).replace(tzinfo=None)


class DeadlineClock(ProviderCollector, SharedExtension):
    def __init__(self):
        super().__init__()
        self.heap = []
        self.counter = itertools.count()
        self.wake = Event()

    def start(self):
        self.container.spawn_managed_thread(self._run)

    def schedule(self, key, due):
        heapq.heappush(self.heap, (due, next(self.counter), key))
        if self.heap[0][2] == key and not self.wake.ready():
            self.wake.send()

    def _run(self):
        while True:
            now = _utcnow()
            while self.heap and self.heap[0][0] <= now:
                _, _, key = heapq.heappop(self.heap)
                for entrypoint in self._providers:
                    entrypoint.fire(key)
            timeout = None
            if self.heap:
                timeout = max(0.0, (self.heap[0][0] - _utcnow()).total_seconds())
            self.wake.wait(timeout)
            self.wake = Event()


class DeadlineReached(Entrypoint):
    clock = DeadlineClock()

    def setup(self):
        self.clock.register_provider(self)

    def stop(self):
        self.clock.unregister_provider(self)
        super().stop()

    def fire(self, key):
        self.container.spawn_worker(self, (key,), {})


deadline_reached = DeadlineReached.decorator


class Deadlines(DependencyProvider):
    """Injects `schedule(key, due)`: run the @deadline_reached method with `key` at `due`."""

    clock = DeadlineClock()

    def get_dependency(self, worker_ctx):
        return self.clock.schedule

