"""The feeds component: events projected and delivered to 20 agencies at once.

    python bench/feeds.py [--agencies 20] [--events 5000] [--rate 200] [--seconds 10]

The feeds process alone (infra.launch.Platform), on a vhost of its own, with `--agencies`
subscriptions made over RPC (each its own queue and broker user, each admitting every
incident event); one consumer per agency, each on its own connection as the agency's user.

1. Throughput: `--events` `incident.reported` events (with free text and a reporter, so the
   projection has something to drop) are published at once on dispatch.events; the figure is
   events / (the last agency's receipt of the last event - the first publish), and the
   deliveries per second that makes (events x agencies).
2. Latency: events published at `--rate` per second for `--seconds`; for each event and
   agency, its receipt time - its publication time (one clock: this process); p50, p99, max.

It reports; it never passes or fails.
"""
import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _event(n, now):
    from contracts.envelope import encode, make_envelope
    from contracts.events import DISPATCH_EVENTS, DISPATCH_SOURCE

    incident = f"bench-{n}"
    return encode(make_envelope("incident.reported", DISPATCH_SOURCE, incident, {
        "incident_id": incident, "enterprise_id": f"e{n % 300}", "enterprise_name": "某化工厂",
        "station_id": "s1", "category": "other", "priority": "low",
        "description": "仓库门锁被撬，联系人张伟 13800138000", "location": "东门",
        "reporter_role": "enterprise", "reporter_id": "u1", "reported_at": now},
        DISPATCH_EVENTS, now=now, event_id=str(uuid.uuid4())))


class Agency(threading.Thread):
    """Consumes one agency's queue as its own broker user, noting when each event arrived."""

    def __init__(self, vhost, subscription):
        super().__init__(daemon=True)
        self.vhost, self.subscription = vhost, subscription
        self.arrived = {}
        self.stopping = threading.Event()
        self.ready = threading.Event()

    def run(self):
        import amqp

        credentials = self.subscription["credentials"]
        connection = amqp.Connection("localhost:5672", userid=credentials["username"],
                                     password=credentials["password"],
                                     virtual_host=self.vhost)
        connection.connect()
        channel = connection.channel()
        channel.basic_qos(0, 1000, False)

        def take(message):
            self.arrived[json.loads(message.body)["id"]] = time.perf_counter()
            channel.basic_ack(message.delivery_tag)

        channel.basic_consume(self.subscription["protocolsettings"]["queue"], callback=take)
        self.ready.set()
        while not self.stopping.is_set():
            try:
                connection.drain_events(timeout=0.2)
            except TimeoutError:
                pass
        connection.close()


def _publish(amqp_uri, bodies, rate=None):
    """Publish the bodies on dispatch.events (at `rate` a second if given); the id and the
    time each went out."""
    import kombu

    sent = {}
    with kombu.Connection(amqp_uri) as connection:
        producer = connection.Producer(exchange=kombu.Exchange("dispatch.events", type="topic",
                                                               durable=True))
        began = time.perf_counter()
        for n, body in enumerate(bodies):
            if rate:
                pause = began + n / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            sent[json.loads(body)["id"]] = time.perf_counter()
            producer.publish(body, routing_key="incident.reported",
                             content_type="application/cloudevents+json",
                             content_encoding="utf-8")
    return sent


def _wait(agencies, ids, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(ids <= a.arrived.keys() for a in agencies):
            return True
        time.sleep(0.05)
    return False


def run(agency_count, events, rate, seconds):
    # 20 consumer threads share one interpreter: switch between them often, so a message
    # waits on the agencies' side as little as it can (the default is every 5 ms)
    sys.setswitchinterval(0.0005)
    from nameko.standalone.rpc import ClusterRpcProxy
    from nameko.exceptions import UnknownService

    from contracts.fields import utcnow
    from infra.launch import Platform
    from infra.sandbox import create_vhost, delete_vhost, free_port

    vhost = create_vhost("bench-feeds")
    amqp_uri = f"amqp://guest:guest@localhost:5672/{vhost}"
    workdir = Path(tempfile.mkdtemp(prefix="feeds-bench-"))
    platform = Platform(workdir / "data", free_port(), free_port(span=13), amqp_uri=amqp_uri,
                        extra_env={"MONGO_URI": ""}, log_dir=workdir / "logs")
    agencies = []
    try:
        platform.start("feeds")
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=60) as cluster:
            for _ in range(600):
                try:
                    cluster.feeds.ping()
                    break
                except UnknownService:
                    time.sleep(0.1)
            for n in range(agency_count):
                subscription = cluster.feeds.create_subscription(
                    {"agency": f"agency-{n:02d}", "filters": [{"prefix": {"type": "incident."}}]},
                    {"role": "admin", "id": "bench"})
                agencies.append(Agency(vhost, subscription))
        for agency in agencies:
            agency.start()
            agency.ready.wait(10)

        now = utcnow()
        bodies = [_event(n, now) for n in range(events)]
        pid = platform.procs["feeds"].pid
        cpu_before = _cpu_seconds(pid)
        began = time.perf_counter()
        sent = _publish(amqp_uri, bodies)
        published = time.perf_counter() - began
        if not _wait(agencies, set(sent), 300):
            print("throughput: not every agency received every event within 300 s")
        last = max(max(a.arrived[i] for i in sent) for a in agencies)
        took = last - began
        cpu = _cpu_seconds(pid) - cpu_before
        print(f"throughput: {events} events published in {published:.2f} s; the last of them "
              f"reached the last of {agency_count} agencies {took:.2f} s after the first "
              f"publish: {events / took:.0f} events/s projected for {agency_count} agencies, "
              f"{events * agency_count / took:.0f} deliveries/s; the feeds process used "
              f"{cpu:.2f} s of CPU, {cpu / events * 1e6:.0f} us an event")

        for agency in agencies:
            agency.arrived.clear()
        count = int(rate * seconds)
        bodies = [_event(events + n, utcnow()) for n in range(count)]
        sent = _publish(amqp_uri, bodies, rate=rate)
        _wait(agencies, set(sent), 120)
        latencies = sorted((a.arrived[i] - sent[i]) * 1000 for a in agencies for i in sent
                           if i in a.arrived)
        missing = count * agency_count - len(latencies)
        p99 = latencies[int(0.99 * (len(latencies) - 1))]
        print(f"latency at {rate} events/s for {seconds} s ({count} events x {agency_count} "
              f"agencies): p50 {statistics.median(latencies):.1f} ms, p99 {p99:.1f} ms, "
              f"max {latencies[-1]:.1f} ms" + (f"; {missing} not received" if missing else ""))
    finally:
        for agency in agencies:
            agency.stopping.set()
        platform.stop()
        delete_vhost(vhost)


def _cpu_seconds(pid):
    """User and system CPU seconds a process has used so far."""
    import os
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args(argv)
    run(args.agencies, args.events, args.rate, args.seconds)


if __name__ == "__main__":
    main()
