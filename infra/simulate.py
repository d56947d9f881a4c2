"""A county-year with planted truth driven through the real platform, and its list scored
against the truth.

    python -m infra.simulate [--chiefs 40] [--cases 10] [--seed 1] [--workers 8]

Starts a platform of its own (every service and the gateway as its own process, on a
RabbitMQ vhost of its own, free ports, the embedded store in a temporary folder, and
acknowledgement windows of seconds: ACK_WINDOWS), then, through the gateway over HTTP only
(infra.drive): registers the county; plans the chiefs' weekly visits; runs the year's cases
in parallel, a progress bar on stderr, with the registry edited on the way (a chief's leave
and return, an enterprise's A and B swapped); registers a few disputes; and has each closed
case's enterprise rate its officers on the case's invitation. Then it drafts the year's list
as a supervisor, reads the scores and every chief's KPIs, and prints the truth table of
`python -m services.appraisal.simulate` with what went through. The platform is stopped and
its vhost deleted on the way out, on Ctrl-C and SIGTERM too.

The default (40 chiefs, about 10 cases each) takes a few minutes; `--chiefs 200` is the
in-process scenario's county. A request's expected completion is a day or more after it is
submitted, so every request closed within a run is on time: the KPIs show it so.
"""
import argparse
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import kombu
import numpy as np
from tqdm import tqdm

from services.appraisal.planted import judged, table

from .drive import (County, Scenario, Tally, build_county, dispute,
                    edits, plan_visits, run_case, three_chiefs_rate)
from .gateway_client import DriveFailed, Gateway
from .launch import Platform, jwt_secret
from .sandbox import create_vhost, delete_vhost, free_port

# Seconds a page waits for its acknowledgement, per priority: a miss costs seconds.
ACK_WINDOWS = {"emergency": 4, "high": 5, "medium": 6, "low": 8}
LABELS = ("excellent", "poor", "")
EVENT_EXCHANGES = ("enterprise.events", "dispatch.events", "mediation.events",
                   "appraisal.events")


@contextmanager
def own_platform(root, env=None):
    """The whole platform on a vhost of its own, free ports and the embedded store under
    `root`, with ACK_WINDOWS; stopped and its vhost deleted on the way out, however it is
    left (a second Ctrl-C meanwhile is ignored: stopping takes a few seconds at most)."""
    vhost = create_vhost("simulate")
    windows = {f"ACK_WINDOW_{priority.upper()}": str(seconds)
               for priority, seconds in ACK_WINDOWS.items()}
    platform = Platform(Path(root) / "data", free_port(), free_port(span=13),
                        amqp_uri=f"amqp://guest:guest@localhost:5672/{vhost}",
                        extra_env={"MONGO_URI": "", "RPC_TIMEOUT": "5", **windows,
                                   **(env or {})},
                        log_dir=Path(root) / "logs")
    try:
        platform.start()
        platform.wait_ready(timeout=90)
        yield platform
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            platform.stop()
            delete_vhost(vhost)
        finally:
            if threading.current_thread() is threading.main_thread():
                signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class Outcome:
    """What a drive did and what the platform made of it."""

    county: County
    tally: Tally
    year: int
    applied: list      # the registry's edits made during the year
    appraisal: dict    # GET /v1/appraisal/scores
    annual: dict       # POST /v1/appraisal/lists
    kpis: dict         # officer id -> its score and KPIs (None: nothing of it kept)
    events: dict       # exchange -> messages published on it during the drive
    took: dict         # phase -> seconds
    calls: int         # HTTP requests sent
    busy: int          # of which answered busy (503) and sent again

    def against_truth(self):
        statuses = {o["officer_id"]: o["status"] for o in self.appraisal["officers"]}
        return judged(statuses, self.appraisal["model"], self.appraisal["lagging"],
                      self.county.truth)


def drive(platform, scenario, out=print, progress=True, stop=None):
    """Drive a county-year through `platform`'s gateway (see infra.drive) and print what it
    did, the truth table and the KPIs by planted label through `out`. Returns the Outcome.
    Setting `stop` (or an exception in the calling thread, a Ctrl-C) ends the drive at the
    next call or wait of each case."""
    with counting_events(platform.amqp_uri) as published:
        outcome = _drive(platform, scenario, progress, stop, published)
    for line in report(outcome):
        out(line)
    return outcome


def _drive(platform, scenario, progress, stop, published):
    gw = Gateway(platform.url, jwt_secret(platform.data_dir), stop)
    year = datetime.now(timezone.utc).year
    tally, took = Tally(), {}
    n = scenario.chiefs
    began = time.monotonic()
    with _bar("registry", n * (1 + scenario.enterprises_per_chief), "record", progress) as bar:
        county = build_county(gw, scenario, bar)
    took["registry"] = time.monotonic() - began
    pool = ThreadPoolExecutor(scenario.workers, thread_name_prefix="case")
    try:
        began = time.monotonic()
        with _bar("visits", n, "chief", progress) as bar:
            _all(pool, bar, [(plan_visits, gw, county, c, tally) for c in range(n)])
        took["visits"] = time.monotonic() - began
        began = time.monotonic()
        with _bar("cases", len(county.cases), "case", progress) as bar:
            applied = _cases(pool, bar, gw, county, tally, year)
        took["cases"] = time.monotonic() - began
        began = time.monotonic()
        _all(pool, None, [(dispute, gw, county, d, tally) for d in range(max(2, n // 8))])
        took["disputes"] = time.monotonic() - began
        began = time.monotonic()
        for quarter in range(1, (datetime.now(timezone.utc).month - 1) // 3 + 2):
            three_chiefs_rate(gw, county, year, quarter, tally)
        took["three chiefs"] = time.monotonic() - began
    except BaseException:
        gw.stop.set()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    began = time.monotonic()
    kpis = _kpis_once_counted(gw, county, tally, year)
    annual = gw.ok("POST", "/v1/appraisal/lists", gw.supervisor(), {"year": year})
    appraisal = gw.ok("GET", "/v1/appraisal/scores", gw.supervisor(), params={"year": year})
    took["appraisal"] = time.monotonic() - began
    return Outcome(county, tally, year, applied, appraisal, annual, kpis, published(), took,
                   gw.calls, gw.busy)


def _bar(what, total, unit, progress):
    return tqdm(total=total, desc=what, unit=unit, file=sys.stderr, disable=not progress,
                dynamic_ncols=True)


def _all(pool, bar, jobs):
    for future in [pool.submit(*job) for job in jobs]:
        future.result()
        if bar is not None:
            bar.update(1)


def _cases(pool, bar, gw, county, tally, year):
    """Run every case, a few at a time per worker, making each registry edit once the cases
    before its turn are under way. Returns the edits' descriptions."""
    rng = np.random.default_rng([county.scenario.seed, 2 * 10**6])
    planned = sorted(edits(gw, county, rng), key=lambda e: e[0])
    applied, pending = [], set()
    for number in range(len(county.cases)):
        while planned and planned[0][0] <= number:
            _, edit, what = planned.pop(0)
            edit()
            applied.append(what)
        if len(pending) >= 2 * county.scenario.workers:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()
                bar.update(1)
        pending.add(pool.submit(run_case, gw, county, number, tally, year))
    for future in pending:
        future.result()
        bar.update(1)
    for _, edit, what in planned:  # a tiny year: the edits come after its cases
        edit()
        applied.append(what)
    return applied


def _kpis_once_counted(gw, county, tally, year, timeout=60):
    """Every officer's KPIs once appraisal has kept every acknowledgement and missed page
    the drive made (they reach it as dispatch's events); as they stand after `timeout`."""
    officers = list(county.chiefs) + list(county.leaders.values())
    deadline = time.monotonic() + timeout
    while True:
        kpis = {o: officer_year(gw, o, year) for o in officers}
        kept = [k["kpis"] for k in kpis.values() if k is not None]
        if (sum(k["acknowledged"] for k in kept) >= tally.counts["acknowledged"]
                and sum(k["pages_missed"] for k in kept) >= tally.counts["missed"]) \
                or time.monotonic() > deadline:
            return kpis
        time.sleep(1.0)


def officer_year(gw, officer_id, year):
    """The officer's score and KPIs for the year; None while appraisal knows nothing of it."""
    answer = gw.call("GET", f"/v1/appraisal/officers/{officer_id}/score", gw.supervisor(),
                     params={"year": year})
    if answer.status_code == 404:
        return None
    if answer.status_code != 200:
        raise DriveFailed(f"score of {officer_id}: {answer.status_code} {answer.text[:300]}")
    return answer.json()


@contextmanager
def counting_events(amqp_uri):
    """Count what is published on each service's events exchange from now on: yields a
    function giving exchange -> messages published so far. A queue of its own is bound to
    every exchange (all routing keys), counted by the broker and deleted on the way out."""
    with kombu.Connection(amqp_uri) as connection:
        channel = connection.channel()
        queues = {}
        for name in EVENT_EXCHANGES:
            queues[name] = kombu.Queue(
                f"simulate.count.{name}", kombu.Exchange(name, type="topic", durable=True),
                routing_key="#", durable=False, auto_delete=False, channel=channel)
            queues[name].declare()
        try:
            yield lambda: {name: queue.queue_declare(passive=True).message_count
                           for name, queue in queues.items()}
        finally:
            for queue in queues.values():
                queue.delete()


# --- what is printed ---------------------------------------------------------------------------


def report(outcome):
    county, c, scenario = outcome.county, outcome.tally.counts, outcome.county.scenario
    labels = Counter(label for _, label in county.truth.values())
    officers = len(county.chiefs) + len(county.leaders) + len(county.stations)
    incidents, requests_ = c["incidents"], c["requests"]
    yield (f"county-year {outcome.year}, seed {scenario.seed}: {scenario.chiefs} chiefs "
           f"({labels['excellent']} planted excellent, {labels['poor']} planted poor, "
           f"{len(county.thin)} with thin evidence)")
    yield (f"registry: stations {len(county.stations)}, grids {2 * len(county.stations)}, "
           f"officers {officers}, enterprises {len(county.enterprises)} (each with its A and "
           f"B officers and three chiefs); during the year: {'; '.join(outcome.applied)}")
    yield (f"cases: {incidents + requests_} ({incidents} incidents, {requests_} requests); "
           f"closed {c['incidents_closed']} incidents and {c['requests_closed']} requests "
           f"({c['unacknowledged']} incidents nobody acknowledged, {c['requests_unrouted']} "
           "requests not routed to an officer)")
    kept = [k["kpis"] for k in outcome.kpis.values() if k]
    yield (f"pages: {c['pages']} seen by the officers paged, {c['acknowledged']} acknowledged, "
           f"{c['missed']} let go; the platform counted {sum(k['acknowledged'] for k in kept)}"
           f" acknowledged and {sum(k['pages_missed'] for k in kept)} missed, each then paged "
           "onward (a page also lapses unseen while the gateway answers busy)")
    yield (f"visits: {c['visits_planned']} planned, {c['visits_merged']} merged into another, "
           f"{c['visits_refused']} refused past the cap")
    yield (f"disputes: {c['disputes']} registered ({c['disputes_at_enterprise']} at the "
           f"enterprise tier), {c['disputes_agreed_at_first_tier']} agreed at the tier they "
           "started at")
    chief_ratings = (f"; {c['chief_ratings']} quarterly ratings by the three chiefs"
                     if c["chief_ratings"] else "")
    yield f"ratings: {c['ratings']} on {c['invitations']} invitations{chief_ratings}"
    yield (f"events published: {sum(outcome.events.values())} ("
           + ", ".join(f"{name} {n}" for name, n in sorted(outcome.events.items())) + ")")
    yield f"HTTP calls: {outcome.calls} ({outcome.busy} answered busy and sent again)"
    scored = outcome.appraisal["officers"]
    yield (f"appraisal {outcome.year}: {len(scored)} officers scored, "
           f"{sum(o['status'] == 'ranked' for o in scored)} ranked; the list drafted names "
           f"{len(outcome.appraisal['model'])} model and {len(outcome.appraisal['lagging'])} "
           f"lagging (annual list {outcome.annual['status']}, {len(outcome.annual['named'])} "
           "named)")
    yield from table([(scenario.seed, outcome.against_truth())])
    yield "KPIs by planted label (the platform's, per chief, summed; latency: mean of medians)"
    yield "label\tchiefs\tacknowledged\tpages_missed\tfailovers_caused\tmedian_ack_s" \
          "\trequests_on_time\tratings\tmean_score"
    for label in LABELS:
        chiefs = [o for o, (_, planted) in county.truth.items() if planted == label]
        kept = [outcome.kpis[o]["kpis"] for o in chiefs if outcome.kpis.get(o)]
        medians = [k["median_acknowledgement_seconds"] for k in kept
                   if k["median_acknowledgement_seconds"] is not None]
        closed = sum(k["requests_closed"] for k in kept)
        scores = [s for o in chiefs for s in outcome.tally.scores.get(o, ())]
        yield "\t".join(str(x) for x in (
            label or "other", len(chiefs), sum(k["acknowledged"] for k in kept),
            sum(k["pages_missed"] for k in kept), sum(k["failovers_caused"] for k in kept),
            f"{np.mean(medians):.2f}" if medians else "-",
            f"{sum(k['requests_on_time'] for k in kept)}/{closed}", len(scores),
            f"{np.mean(scores):.2f}" if scores else "-"))
    yield "took: " + ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in
                               outcome.took.items())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chiefs", type=int, default=Scenario.chiefs,
                        help="planted officers (default 40; the full county: 200)")
    parser.add_argument("--cases", type=float, default=Scenario.cases,
                        help="closed cases per chief in the year, on average (default 10)")
    parser.add_argument("--seed", type=int, default=Scenario.seed)
    parser.add_argument("--workers", type=int, default=Scenario.workers,
                        help="cases run at once (default 8)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    args = parser.parse_args(argv)
    if args.chiefs < 4:
        parser.error("--chiefs must be at least 4")
    scenario = Scenario(chiefs=args.chiefs, cases=args.cases, seed=args.seed,
                        workers=args.workers)
    signal.signal(signal.SIGTERM, _interrupt)
    stop = threading.Event()
    try:
        with tempfile.TemporaryDirectory(prefix="simulate-") as root:
            with own_platform(root) as platform:
                drive(platform, scenario, progress=not args.no_progress, stop=stop)
    except KeyboardInterrupt:
        stop.set()
        print("infra.simulate: interrupted; the platform is stopped and its vhost deleted",
              file=sys.stderr)
        return 130
    except (DriveFailed, RuntimeError) as error:
        stop.set()
        return f"infra.simulate: {error}"
    return 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
