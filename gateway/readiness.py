"""Whether the gateway can serve: it has reached every service behind it.

A gateway that has just started is not ready, and refuses every API request with 503, until
a readiness probe got an answer from every service. The probe is the `/readyz` route: run in
a worker of its own every PROBE_INTERVAL seconds while the gateway is not ready, and whenever
someone asks `/readyz`. Once ready, the gateway stays ready until a probe fails; a call that
found the broker or a service away makes the next probe run at once, so while they are away
the gateway refuses at once rather than after each call's timeout.

A request also waits at most WORKER_WAIT seconds for a free worker (`waiting_for_a_worker`):
when every worker is waiting on a slow service, a request is refused with 503 rather than
queued, so no answer comes much later than the calls' own timeout.
"""
import logging
from functools import partial

import eventlet
from eventlet.event import Event
from nameko.exceptions import ContainerBeingKilled
from nameko.extensions import DependencyProvider, Entrypoint, SharedExtension

from kit.errors import ServiceUnavailable, raised_as

log = logging.getLogger(__name__)

PROBE_INTERVAL = 0.5
WORKER_WAIT = 0.5


class ReadinessState(SharedExtension):
    """One per gateway process: what the last probe found."""

    def __init__(self):
        super().__init__()
        self.ready = False
        self.doubted = Event()
        self.probes = 0        # probes begun
        self.recorded = 0      # the latest-begun probe whose finding is recorded

    def check(self):
        """Raise ServiceUnavailable unless the last probe reached every service."""
        if not self.ready:
            raise ServiceUnavailable("the gateway cannot reach the services at the moment")

    def begin(self):
        """A probe begins: its number, to record its finding with."""
        self.probes += 1
        return self.probes

    def record(self, ready, probe):
        """What probe number `probe` found, unless a probe begun after it was recorded
        already: a probe that waited out its timeout does not undo a newer answer."""
        if probe < self.recorded:
            return
        self.recorded = probe
        if ready != self.ready:
            log.info("the gateway is %s", "ready" if ready else "not ready")
        self.ready = ready

    def doubt(self):
        """A call failed as if a service were away: probe now."""
        if not self.doubted.ready():
            self.doubted.send()


def waiting_for_a_worker():
    """A block that raises ServiceUnavailable after WORKER_WAIT seconds."""
    return eventlet.Timeout(WORKER_WAIT, ServiceUnavailable(
        f"the gateway is busy: no worker was free within {WORKER_WAIT:g}s"))


class Readiness(DependencyProvider):
    """Injects the state, for the probe to `record(ready)`; a worker that failed with
    ServiceUnavailable makes the next probe run at once."""

    state = ReadinessState()

    def get_dependency(self, worker_ctx):
        return self.state

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        # raised here, or by the service asked when one it asked in turn did not answer
        if exc_info is not None and raised_as(exc_info[1], "ServiceUnavailable"):
            self.state.doubt()


class ReadinessProbe(Entrypoint):
    """Runs the decorated method (the readiness route, given no request and no caller): at
    start, then every PROBE_INTERVAL seconds while the gateway is not ready, and once after
    each doubt while it is."""

    state = ReadinessState()

    def __init__(self, **kwargs):
        self.thread = None
        super().__init__(**kwargs)

    def start(self):
        self.thread = self.container.spawn_managed_thread(self._run, identifier="readiness")

    def stop(self):
        if self.thread is not None:
            self.thread.kill()
        super().stop()

    def _run(self):
        while True:
            self.state.doubted = Event()  # what fails from now on calls for the next probe
            probed = Event()
            try:
                self.container.spawn_worker(self, (None, None), {},
                                            handle_result=partial(_probed, probed))
            except ContainerBeingKilled:
                return
            probed.wait()
            if self.state.ready:
                self.state.doubted.wait()
            else:
                eventlet.sleep(PROBE_INTERVAL)


def _probed(probed, worker_ctx, result, exc_info):
    probed.send()
    return result, exc_info


probe_readiness = ReadinessProbe.decorator
