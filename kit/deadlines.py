"""Run a service method when a deadline comes due, on time.

`@deadline_reached` marks the method; the `Deadlines` dependency schedules keys on it:
`self.deadlines.schedule(key, due)`. Both share one in-process clock (a heap and a green
thread) that spawns a worker at `due` with the key as its argument.

The clock lives in memory and dies with the process. What makes deadlines survive restarts
is the store: the service keeps each pending deadline there, puts every one of them back on
the clock when it starts (`arm`), and sweeps the store periodically (a `timer`), so this clock
is the fast path, never the only path. A deadline may therefore fire twice (here and in a
sweep, or in two processes): the method must decide from the store, with a conditional
update, whether there is anything left to do.
"""
import heapq
import itertools
from datetime import timedelta

from eventlet.event import Event
from nameko.extensions import DependencyProvider, Entrypoint, ProviderCollector, SharedExtension

from contracts.fields import utcnow


_EPSILON = timedelta(microseconds=1)
RETRY_AFTER = timedelta(seconds=2)


class DeadlineClock(ProviderCollector, SharedExtension):
    def __init__(self):
        super().__init__()
        self.heap = []
        self.counter = itertools.count()
        self.wake = Event()
        self.waiting = {}      # key -> earliest due it is on the heap for
        self.in_flight = set()  # keys whose worker is running
        self.last_sweep = None
        self.last_full_sweep = None

    def start(self):
        self.container.spawn_managed_thread(self._run)

    def schedule(self, key, due):
        """Run the key at `due` (the key's deadline as its own handler just set it)."""
        if self.waiting.get(key, due + _EPSILON) <= due:
            return
        self.waiting[key] = due
        self._push(key, due)

    def arm(self, key, due):
        """Run the key at `due` (read from the store, as due or not yet) unless it is being
        handled or already waits to run no later."""
        if key not in self.in_flight:
            self.schedule(key, due)

    def remind(self, key, due):
        """Run the key at `due` unless it is already waiting or being handled (a sweep of
        the store found it due; the clock may well know already)."""
        if key in self.in_flight or key in self.waiting:
            return
        self.waiting[key] = due
        self._push(key, due)

    def sweep_from(self, now, full_every):
        """Where a periodic sweep of the store should look from: None (everything due) at the
        first sweep and again every `full_every`; otherwise a second before the previous
        sweep that succeeded, so only what came due since then is read."""
        if self.last_sweep is None or now - self.last_full_sweep >= full_every:
            return None
        return self.last_sweep - timedelta(seconds=1)

    def swept(self, now, since):
        """Record a sweep that succeeded; `since` as sweep_from gave it."""
        self.last_sweep = now
        if since is None:
            self.last_full_sweep = now

    def sweep(self, now, full_every, pending, due):
        """One periodic sweep of the store, as every service with deadlines runs it from a
        timer. The first, and one every `full_every`, puts every pending deadline
        (`pending()`: (key, due) pairs) on the clock at its due time, due or not yet, so a
        restart makes none late; the others read only what came due since the previous
        sweep (`due(now, since)`: keys), each to run now unless the clock has it already."""
        since = self.sweep_from(now, full_every)
        if since is None:
            for key, at in pending():
                self.arm(key, at)
        else:
            for key in due(now, since):
                self.remind(key, now)
        self.swept(now, since)

    def _push(self, key, due):
        heapq.heappush(self.heap, (due, next(self.counter), key))
        if self.heap[0][2] == key and not self.wake.ready():
            self.wake.send()

    def _run(self):
        while True:
            now = utcnow()
            while self.heap and self.heap[0][0] <= now:
                due, _, key = heapq.heappop(self.heap)
                if self.waiting.get(key) != due:
                    continue  # superseded by an earlier entry for the same key
                del self.waiting[key]
                self.in_flight.add(key)
                for entrypoint in list(self._providers):  # stop() may remove one meanwhile
                    entrypoint.fire(key)
            timeout = None
            if self.heap:
                timeout = max(0.0, (self.heap[0][0] - utcnow()).total_seconds())
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
        self.container.spawn_worker(self, (key,), {}, handle_result=self._done)

    def _done(self, worker_ctx, result, exc_info):
        key = worker_ctx.args[0]
        self.clock.in_flight.discard(key)
        if exc_info is not None:  # e.g. the store failed: try again soon, not at a full sweep
            self.clock.remind(key, utcnow() + RETRY_AFTER)
        return result, exc_info


deadline_reached = DeadlineReached.decorator


class Deadlines(DependencyProvider):
    """Injects the clock: `schedule(key, due)` runs the @deadline_reached method with `key`
    at `due`; `remind(key, due)` does so unless the key is already waiting or running."""

    clock = DeadlineClock()

    def get_dependency(self, worker_ctx):
        return self.clock

