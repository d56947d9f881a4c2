"""The fan-out: the platform's events, read once from the archive stream, projected for each
agency and delivered to its queue; and the replays.

Live: one green thread follows the archive from the position it has reached (kept in the
store, `next`), in the stream's order. For each batch it projects each event for every
active subscription whose filters admit it, publishes the projections on the agencies'
exchange with publisher confirms and mandatory routing, records the deliveries in the audit,
and only then moves the position and acknowledges. A stopped fan-out loses nothing (the
events wait in the stream); a killed one delivers again what it had in flight, with the same
event ids and `sequence`.

Replay of a subscription from a time T: its queue is purged (so that what it receives from
then on is in order), the live thread skips it, and a replay thread reads the archive from
the first offset the live thread finished at or after T - 10 minutes (checkpoints kept per
batch: an event is done after it happened, so nothing from T on lies before it) and delivers
every admitted event whose time is at or after T, until it reaches what the live thread has
not done yet: there, under the same lock, the subscription turns live from that offset. So the agency gets every event since T exactly once, in order, then
the live ones, without a gap or a duplicate. A replay interrupted by a restart is done again
from the start (its queue purged again).

Every delivered envelope carries the CloudEvents extension `sequence`: its offset in the
archive, zero-padded, so it sorts as it was delivered.
"""
import json
import logging
import socket
import time
from contextlib import contextmanager
from datetime import datetime, timedelta

import eventlet
from amqp.exceptions import PreconditionFailed
from eventlet.semaphore import Semaphore
from kombu import Connection
from nameko.extensions import DependencyProvider

from contracts import topology
from contracts.envelope import decode, encode
from contracts.fields import naive_utc, utcnow
from kit.metrics import counter, gauge, histogram, timed
from kit.publishing import BatchPublisher
from kit.storage import open_database

from . import broker
from .domain import retention_of, sequence
from .projection import admits, project
from .store import Repository

log = logging.getLogger(__name__)

SERVICE = "feeds"
PREFETCH = 1000         # archive messages the broker may send ahead (streams need a prefetch)
BATCH = 500             # messages handled together
REPLAY_MARGIN = timedelta(minutes=10)  # read the archive from this long before T
IDLE = 0.3              # seconds without a message before a replay checks whether it caught up
GATHER = 0.01           # seconds a batch gathers after its first message

DELIVERED = counter("liaison_feed_deliveries_total",
                    "Projected events delivered to an agency's queue, live or replayed.",
                    ["agency", "mode"])
UNREADABLE = counter("liaison_feed_unreadable_total",
                     "Archive messages that are not a readable event (skipped).")
POSITION = gauge("liaison_feed_position",
                 "The next archive offset the live fan-out will deliver.")
LATENCY = histogram("liaison_feed_delivery_seconds",
                    "From an event's time to its delivery to the agencies (live).",
                    buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60))
REPLAYS = gauge("liaison_feed_replays", "Replays running.")


def _event_time(envelope):
    try:
        return naive_utc(datetime.fromisoformat(envelope["time"]))
    except (KeyError, TypeError, ValueError):
        return None


def delivery(subscriptions, envelope, offset, now, mode):
    """The audit row of one event delivered to `subscriptions` (one row for all of them: a
    multikey index on `subscription_ids` finds a subscription's deliveries)."""
    return {"subscription_ids": [s.id for s in subscriptions],
            "agencies": [s.agency for s in subscriptions],
            "event_id": envelope.get("id"), "type": envelope.get("type"), "offset": offset,
            "event_time": _event_time(envelope), "delivered_at": now, "mode": mode}


class Projections:
    """Each event projected and encoded once per purpose, however many agencies share it."""

    def __init__(self):
        self.bodies = {}

    def body(self, subscription, envelope, offset):
        key = (offset, _purpose_key(subscription.purpose))
        body = self.bodies.get(key)
        if body is None:
            body = self.bodies[key] = encode(dict(project(envelope, subscription.purpose),
                                                  sequence=sequence(offset)))
        return body


def _purpose_key(purpose):
    return None if purpose is None else json.dumps(purpose, sort_keys=True, default=str)


def _read(message):
    """(offset, envelope or None) of an archive message."""
    offset = int(message.headers["x-stream-offset"])
    try:
        envelope = decode(message.body)
        if not isinstance(envelope, dict) or not isinstance(envelope.get("type"), str):
            raise ValueError("not an event")
    except (ValueError, UnicodeDecodeError):
        UNREADABLE.inc()
        return offset, None
    return offset, envelope


class Fanout(DependencyProvider):
    """Runs the live fan-out and the replays in this process; RPC workers get it to tell it
    of new, deleted and replaying subscriptions (`refresh`, `start_replay`), and to declare
    and remove agencies' queues."""

    def setup(self):
        config = self.container.config
        self.amqp_uri = config["AMQP_URI"]
        self.retention_text = config.get("FEEDS_RETENTION") or topology.DEFAULT_RETENTION
        self.retention = retention_of(self.retention_text)
        self.queue_type = topology.queue_type(config.get("QUEUE_TYPE"))
        self.database = open_database(self.container.service_name,
                                      config.get("MONGO_URI") or None,
                                      config.get("DATA_DIR") or "data")
        self.repo = Repository(self.database)
        self.publisher = BatchPublisher(self.amqp_uri, topology.AGENCY_EXCHANGE,
                                        timeout=5.0, retention=self.retention_text)
        self.lock = Semaphore(1)
        self.subscriptions = {}
        self.replays = {}
        self.next = 0
        self.connections = []

    def start(self):
        self.repo.ensure_indexes()
        self.next = self.repo.next_offset()
        POSITION.set(self.next)
        try:
            with self._channel() as channel:
                broker.declare_shared(channel, self.retention_text, self.queue_type)
        except PreconditionFailed:  # the archive keeps the retention it was made with
            log.warning("the archive stream exists with another retention than %s; it keeps "
                        "its own (a broker policy changes it)", self.retention_text)
            with self._channel() as channel:
                broker.declare_shared(channel, None, self.queue_type)
        self.refresh()
        self.container.spawn_managed_thread(self._follow)
        for subscription in list(self.subscriptions.values()):
            if subscription.replaying:
                self.start_replay(subscription)

    def stop(self):
        for connection in list(self.connections):
            self._close(connection)
        self.publisher.close()

    def get_dependency(self, worker_ctx):
        return self

    # --- what RPC workers ask ---------------------------------------------------------------

    def refresh(self):
        """Read the active subscriptions again (after one was made, deleted or caught up)."""
        with self.lock:
            self.subscriptions = {s.id: s for s in self.repo.active()}

    def agency_of(self, user):
        """The agency whose active subscription has broker user `user`, or None."""
        return next((s.agency for s in list(self.subscriptions.values())
                     if s.broker_user == user), None)

    def go_live(self, add):
        """`add(live_from)` stores a new subscription live from the next offset the live
        thread will do; it is delivered to from that very batch on (under the live thread's
        lock, so no batch passes between the position taken and the subscription seen)."""
        with self.lock:
            subscription = add(self.next)
            self.subscriptions[subscription.id] = subscription
        return subscription

    def declare_agency(self, agency):
        with self._channel() as channel:
            broker.declare_agency(channel, agency, self.queue_type)

    def remove_agency(self, agency):
        with self._channel() as channel:
            broker.remove_agency(channel, agency)

    def start_replay(self, subscription):
        """Stop live delivery to the subscription, empty its queue, and replay it in a thread
        of its own (see the module). Once this returns, what the queue holds is the replay,
        then live events."""
        with self.lock:
            self.subscriptions[subscription.id] = subscription
            with self._channel() as channel:
                broker.declare_agency(channel, subscription.agency, self.queue_type)
                broker.purge_agency(channel, subscription.agency)
        running = self.replays.get(subscription.id)
        if running is not None:
            running.kill()
        self.replays[subscription.id] = self.container.spawn_managed_thread(
            lambda: self._replay(subscription.id))
        REPLAYS.set(len(self.replays))

    # --- connections ----------------------------------------------------------------------

    def _open(self):
        connection = Connection(self.amqp_uri, connect_timeout=5)
        connection.connect()
        self.connections.append(connection)
        return connection

    def _close(self, connection):
        if connection in self.connections:
            self.connections.remove(connection)
        try:
            connection.release()
        except Exception:  # already broken
            pass

    @contextmanager
    def _channel(self):
        """A channel on a connection of its own, closed on the way out."""
        connection = self._open()
        try:
            yield connection.channel()
        finally:
            self._close(connection)

    def _consume(self, connection, offset, buffer):
        channel = connection.channel()
        channel.basic_qos(0, PREFETCH, False)
        channel.basic_consume(topology.ARCHIVE, callback=buffer.append,
                              arguments={"x-stream-offset": offset})
        return channel

    # --- live ------------------------------------------------------------------------------

    def _follow(self):
        while True:
            try:
                self._live()
            except Exception as error:  # the broker went away, or a publish failed
                log.warning("the live fan-out stopped (%s: %s); resuming from offset %d",
                            type(error).__name__, error, self.next)
                eventlet.sleep(1.0)
                self._redeclare()

    def _redeclare(self):
        """Declare every active agency's queue again: one removed behind the platform's back
        would otherwise make every batch unroutable."""
        try:
            with self._channel() as channel:
                for subscription in list(self.subscriptions.values()):
                    broker.declare_agency(channel, subscription.agency, self.queue_type)
        except Exception as error:  # the broker is still away: the next try redeclares
            log.info("agencies' queues not declared again yet (%s)", type(error).__name__)

    def _live(self):
        connection = self._open()
        try:
            buffer = []
            channel = self._consume(connection, self.next, buffer)
            while True:
                _drain(connection, buffer, 1.0)
                while buffer:
                    batch, buffer[:] = buffer[:BATCH], buffer[BATCH:]
                    with timed(SERVICE, "fanout_live"):
                        self._deliver_live(batch)
                    channel.basic_ack(batch[-1].delivery_tag, multiple=True)
        finally:
            self._close(connection)

    def _deliver_live(self, batch):
        with self.lock:
            now = utcnow()
            out, rows, first, last = [], [], None, None
            projections = Projections()
            for message in batch:
                offset, envelope = _read(message)
                if offset < self.next:  # a stream may start a little before the offset asked
                    continue
                first = offset if first is None else first
                last = offset
                if envelope is None:
                    continue
                receivers = [s for s in self.subscriptions.values()
                             if not s.replaying and offset >= s.live_from
                             and admits(s.filters, envelope["type"])]
                for subscription in receivers:
                    out.append((subscription.agency,
                                projections.body(subscription, envelope, offset)))
                if receivers:
                    rows.append(delivery(receivers, envelope, offset, now, "live"))
            if last is None:
                return
            self.publisher.publish_all(out)
            self.repo.record_deliveries(rows)
            self.repo.advance(first, last + 1, now)
            self.next = last + 1
            POSITION.set(self.next)
        for row in rows:
            for agency in row["agencies"]:
                DELIVERED.labels(agency, "live").inc()
            if row["event_time"] is not None:
                LATENCY.observe(max(0.0, (now - row["event_time"]).total_seconds()))

    # --- replay ----------------------------------------------------------------------------

    def _replay(self, subscription_id):
        while True:
            try:
                return self._replay_once(subscription_id)
            except Exception as error:
                log.warning("the replay of subscription %s stopped (%s: %s); starting again",
                            subscription_id, type(error).__name__, error)
                eventlet.sleep(1.0)
            finally:
                self.replays.pop(subscription_id, None)
                REPLAYS.set(len(self.replays))

    def _replay_once(self, subscription_id):
        subscription = self.repo.subscriptions.get(subscription_id)
        if not subscription.replaying:
            return
        since = subscription.replay.since
        start = self.repo.first_done_since(since - REPLAY_MARGIN)
        connection = self._open()
        try:
            buffer, delivered, last_seen = [], 0, None
            channel = self._consume(connection, self.next if start is None else start, buffer)
            while True:
                idle = not _drain(connection, buffer, IDLE)
                with timed(SERVICE, "fanout_replay"), self.lock:
                    out, rows, caught_up = [], [], None
                    projections = Projections()
                    now = utcnow()
                    for message in buffer:
                        offset, envelope = _read(message)
                        if offset >= self.next:  # the live thread has not done it yet
                            caught_up = offset
                            break
                        last_seen = offset
                        if envelope is None or not admits(subscription.filters,
                                                          envelope["type"]):
                            continue
                        at = _event_time(envelope)
                        if at is None or at < since:
                            continue
                        out.append((subscription.agency,
                                    projections.body(subscription, envelope, offset)))
                        rows.append(delivery([subscription], envelope, offset, now, "replay"))
                    if buffer:
                        channel.basic_ack(buffer[-1].delivery_tag, multiple=True)
                    buffer.clear()
                    if caught_up is None and idle and (
                            (last_seen if last_seen is not None else
                             (self.next if start is None else start) - 1) + 1 >= self.next):
                        caught_up = self.next  # it has seen all the live thread has done
                    self.publisher.publish_all(out)
                    self.repo.record_deliveries(rows)
                    delivered += len(out)
                    if caught_up is not None:
                        done = self.repo.subscriptions.change(
                            subscription_id, lambda s: s.caught_up(caught_up, delivered, now))
                        if done.active:
                            self.subscriptions[subscription_id] = done
                for _ in out:
                    DELIVERED.labels(subscription.agency, "replay").inc()
                if caught_up is not None:
                    log.info("subscription %s replayed %d events since %s; live from offset %d",
                             subscription_id, delivered, since.isoformat(), caught_up)
                    return
        finally:
            self._close(connection)


def _drain(connection, buffer, timeout):
    """Wait up to `timeout` for messages, then take what else arrives within GATHER seconds
    (up to a batch): a steady trickle must not hold a batch back; True if any came."""
    before = len(buffer)
    try:
        connection.drain_events(timeout=timeout)
        until = time.monotonic() + GATHER
        while len(buffer) < BATCH:
            left = until - time.monotonic()
            if left <= 0:
                break
            connection.drain_events(timeout=min(left, 0.005))
    except socket.timeout:
        pass
    return len(buffer) > before
