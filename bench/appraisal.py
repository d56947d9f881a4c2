"""Appraisal's ranking at a province's scale, and its intake of dispatch's events.

    python bench/appraisal.py [--officers 10000] [--ratings 1000000] [--repeat 3] [--seed 1]
                              [--events 5000]

Intake: the appraisal service alone, as its own process on a vhost of its own; --events
`incident.closed` events are published onto dispatch.events at once (each a closed case, so
each makes an invitation), and the rate is events / (the time until the last invitation is
stored - the first publish).

Draws a province-year of ratings as the simulator's default scenario does (true quality
N(0, 0.3), rater leniency N(0, 0.3), rating noise 0.8, whole 1-5 ratings; 40,000 raters,
each officer rated by a pool of 12 of them), then times `services.appraisal.scoring.appraise`
on it (leniency, shrinkage, funnel limits, 200 posterior draws for rank intervals, the two
lists): min, median and max of --repeat runs. It reports; it never passes or fails.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from services.appraisal.scoring import Ratings, Rules, appraise


def province(officers, count, seed):
    rng = np.random.default_rng(seed)
    raters = officers * 4
    quality = rng.normal(0, 0.3, officers)
    leniency = rng.normal(0, 0.3, raters)
    pools = rng.integers(0, raters, (officers, 12))
    who = rng.integers(0, officers, count)
    rater = pools[who, rng.integers(0, 12, count)]
    score = np.clip(np.rint(3.5 + quality[who] + leniency[rater] + rng.normal(0, 0.8, count)),
                    1, 5)
    names = tuple(f"officer-{i:05d}" for i in range(officers))
    return Ratings(who.astype(np.int64), rater.astype(np.int64), score, names, raters)


def intake(events):
    """Events per second the appraisal process takes in (one invitation each)."""
    import tempfile
    import uuid

    import kombu
    from nameko.standalone.rpc import ClusterRpcProxy

    from contracts.envelope import encode, make_envelope
    from contracts.events import DISPATCH_EVENTS, DISPATCH_SOURCE
    from contracts.fields import utcnow
    from infra.launch import Platform
    from infra.sandbox import create_vhost, delete_vhost, free_port

    vhost = create_vhost("bench-appraisal")
    amqp_uri = f"amqp://guest:guest@localhost:5672/{vhost}"
    workdir = tempfile.mkdtemp(prefix="appraisal-intake-")
    platform = Platform(Path(workdir) / "data", free_port(), free_port(span=13),
                        amqp_uri=amqp_uri, extra_env={"MONGO_URI": ""},
                        log_dir=Path(workdir) / "logs")
    try:
        platform.start("appraisal")
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=60) as cluster:
            from nameko.exceptions import UnknownService
            for _ in range(600):  # until it answers: its queues are declared and bound then
                try:
                    cluster.appraisal.ping()
                    break
                except UnknownService:
                    time.sleep(0.1)
            now = utcnow()
            bodies = [encode(make_envelope(
                "incident.closed", DISPATCH_SOURCE, f"i{n}",
                {"incident_id": f"i{n}", "enterprise_id": f"e{n % 300}", "state": "resolved",
                 "closed_at": now, "reported_at": now, "acknowledged_by": f"o{n % 900}",
                 "officer_ids": [f"o{n % 900}"]}, DISPATCH_EVENTS, now=now,
                event_id=str(uuid.uuid4()))) for n in range(events)]
            pid = platform.procs["appraisal"].pid
            cpu_before = _cpu_seconds(pid)
            began = time.perf_counter()
            with kombu.Connection(amqp_uri) as connection:
                producer = connection.Producer(exchange=kombu.Exchange(
                    "dispatch.events", type="topic", durable=True))
                for body in bodies:
                    producer.publish(body, routing_key="incident.closed",
                                     content_type="application/cloudevents+json",
                                     content_encoding="utf-8")
            published = time.perf_counter() - began
            while cluster.appraisal.list_invitations({"per_page": 1})["total"] < events:
                time.sleep(0.05)
            took = time.perf_counter() - began
            cpu = _cpu_seconds(pid) - cpu_before
            sizes = _batch_sizes(platform.metrics_url("appraisal"))
    finally:
        platform.stop()
        delete_vhost(vhost)
    print(f"intake: {events} events published in {published:.2f} s, all {events} invitations "
          f"stored {took:.2f} s after the first: {events / took:.0f} events/s; the appraisal "
          f"process used {cpu:.2f} s of CPU, {cpu / events * 1e6:.0f} us an event (at most "
          f"{events / cpu:.0f} events/s on a core of its own)")
    if sizes:
        print(f"intake: {sizes[1]:.0f} batches, {sizes[0] / sizes[1]:.1f} events a batch")


def _batch_sizes(url):
    """(events, batches) the closed-cases queue's consumer took, from its metrics."""
    import urllib.request
    text = urllib.request.urlopen(url, timeout=10).read().decode()
    found = {}
    for line in text.splitlines():
        for part in ("_sum", "_count"):
            if line.startswith(f"liaison_consumer_batch_size{part}") and \
                    'queue="appraisal.closed_cases"' in line:
                found[part] = float(line.rsplit(" ", 1)[1])
    return (found["_sum"], found["_count"]) if len(found) == 2 else None


def _cpu_seconds(pid):
    """User and system CPU seconds a process (its threads included) has used so far."""
    import os
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--officers", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--events", type=int, default=5000, help="0: no intake run")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    data = province(args.officers, args.ratings, args.seed)
    print(f"{args.ratings} ratings of {args.officers} officers drawn in "
          f"{time.perf_counter() - began:.1f} s")
    timings = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        result = appraise(data, Rules(), seed=args.seed)
        timings.append(time.perf_counter() - began)
    print(f"ranking: {min(timings):.3f} / {statistics.median(timings):.3f} / "
          f"{max(timings):.3f} s (min / median / max of {args.repeat}); "
          f"{sum(o.status == 'ranked' for o in result.officers)} ranked, "
          f"{len(result.model)} model, {len(result.lagging)} lagging")
    if args.events:
        intake(args.events)
    return 0


if __name__ == "__main__":
    sys.exit(main())
