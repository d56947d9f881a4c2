"""How dispatch's cost grows with the data it holds, on the embedded store.

    python bench/store_growth.py [--sizes 0 30000 300000] [--counties 100] [--per-county 330]
                                 [--seconds 65] [--rate 100] [--failover-rate 10]
                                 [--listing-calls 20] [--quick] [--keep]

Starts the platform once as bench/dispatch_intake.py does (own vhost, tmp data dir, demo
county, ACK_WINDOW_LOW=3600, ACK_WINDOW_HIGH=1, TOP_REPEATS=0, a consumer of the pages), and
adds a province to the registry: --counties counties of --per-county enterprises (33,000 by
default), written into its store while it is stopped (bench/preload.py). Then, per size:

0. dispatch is stopped, given a store holding exactly that many closed incidents of the past
   year over every enterprise (bench/province.py, bench/preload.py), started again, and
   left until it answers promptly;
1. intake, open loop: --rate incidents/s (priority low) for --seconds -> p99 from the
   scheduled send until the consumer holds all three pages (and of the HTTP answer);
2. failover: --failover-rate high incidents/s for --seconds, never acknowledged -> p99 of
   (B's failover page received - the ack deadline);
3. listing: dispatch's list_incidents over RPC, --listing-calls times each: the first page
   and page 20 (50 per page), of every incident (as a supervisor lists) and kept to an
   officer's reach (its enterprises, or cases paged to it, as the gateway lists for an
   officer) -> p99.

Runs last 65 s by default so that each includes one of dispatch's minutely jobs (outbox
sweep, gauges). It prints the figures per size and each p99 against its value at the first
size (0: nothing preloaded) with the 1.5x target. It reports; it never passes or fails.
--quick is a smoke run (sizes 0 1000 3000, three counties, 5 s runs). See bench/README.md.
"""
import argparse
import gc
import os
import signal
import sys
import time
from contextlib import closing
from datetime import timedelta

import requests
from nameko.exceptions import RpcTimeout
from nameko.standalone.rpc import ClusterRpcProxy
from prometheus_client.parser import text_string_to_metric_families

import dispatch_intake  # bench/, this file's folder, is first on sys.path
import preload
import province

from contracts.fields import utcnow  # noqa: E402
from gateway.auth import issue_token  # noqa: E402
from infra.launch import jwt_secret  # noqa: E402

gateway_read = dispatch_intake.gateway_read
percentile, new_session = gateway_read.percentile, dispatch_intake.new_session

TARGET_RATIO = 1.5
PER_PAGE, DEEP_PAGE = 50, 20
SETTLE_MIN = 10.0  # s after a start before dispatch counts as settled (its first sweep at 5 s)
PROMPT = 0.25  # s: an answer this fast, three times in a row, means dispatch has settled
CALL_TIMEOUT = 120.0
JOBS = {"dispatch": ("sweep_deadlines", "refresh_gauges", "deadline_reached",
                     "report_incident", "list_incidents"),
        "enterprise": ("refresh_gauges", "responders", "officer_reach")}
QUICK = {"sizes": [0, 1000, 3000], "counties": 3, "seconds": 5.0, "listing_calls": 5}


# --- the platform between sizes -------------------------------------------------------------


def restart(platform, amqp_uri, names, while_stopped):
    """Stop the services `names`, run `while_stopped()`, start them again; returns their
    start time and what while_stopped returned, once each answers a ping."""
    for name in names:
        platform.kill(name, signal.SIGTERM)
    result = while_stopped()
    started = time.monotonic()
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=CALL_TIMEOUT) as cluster:
        for name in names:
            platform.start(name)
            while True:
                try:
                    getattr(cluster, name).ping()
                    break
                except RpcTimeout:
                    if platform.procs[name].poll() is not None:
                        raise RuntimeError(f"{name} exited while starting") from None
    return started, result


def settle(amqp_uri, started, probe_filters):
    """Wait until dispatch has settled after a start: SETTLE_MIN seconds on and three
    listings in a row (one enterprise's incidents) answered within PROMPT."""
    prompt = 0
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=600) as cluster:
        while prompt < 3 or time.monotonic() - started < SETTLE_MIN:
            began = time.perf_counter()
            cluster.dispatch.list_incidents({"per_page": 1}, probe_filters)
            prompt = prompt + 1 if time.perf_counter() - began < PROMPT else 0
            time.sleep(1.0)
    return time.monotonic() - started


def demo_covers(url, token):
    """The registry's responders answer for each demo enterprise that has seats."""
    session = new_session(token)
    listed = session.get(f"{url}/v1/enterprises?per_page=500", timeout=30)
    listed.raise_for_status()
    covers = [session.get(f"{url}/v1/enterprises/{e['id']}/responders", timeout=30).json()
              for e in listed.json()["items"]]
    session.close()
    return [c for c in covers if c.get("seats")]


def officer_reach(amqp_uri, covers):
    """(officer id, the reach filter the gateway sends for it) for the A officer of the first
    enterprise that has one."""
    officer_id = next(s["officer_id"] for c in covers for s in c["seats"]
                      if s["seat"] == "a_officer")
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=CALL_TIMEOUT) as cluster:
        seats = cluster.enterprise.officer_reach(officer_id)["seats"]
    return officer_id, {"reach": {"enterprise_ids": sorted(seats), "officer_id": officer_id}}


# --- measuring ------------------------------------------------------------------------------


def listing(amqp_uri, page, filters, calls):
    """(latencies, timed out) of `calls` list_incidents calls in a row; stops at the first
    call that takes over CALL_TIMEOUT (and waits for dispatch to answer again)."""
    latencies = []
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=CALL_TIMEOUT) as cluster:
        for _ in range(calls):
            began = time.perf_counter()
            try:
                cluster.dispatch.list_incidents({"page": page, "per_page": PER_PAGE}, filters)
            except RpcTimeout:
                break
            latencies.append(time.perf_counter() - began)
    if len(latencies) < calls:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=3600) as cluster:
            cluster.dispatch.ping()
    return latencies, len(latencies) < calls


def job_times(platform, service):
    """{entrypoint: (calls, seconds in all)} from the service's own metrics since its start;
    None if they do not answer."""
    try:
        text = requests.get(platform.metrics_url(service), timeout=30).text
    except requests.RequestException:  # e.g. the process is too busy to answer
        return None
    found = {}
    for family in text_string_to_metric_families(text):
        if family.name != "liaison_entrypoint_duration_seconds":
            continue
        for sample in family.samples:
            name = sample.labels.get("entrypoint")
            if name == "report_incident" and sample.name.endswith("_bucket"):
                found.setdefault("slow intake", {})[float(sample.labels["le"])] = sample.value
            if name in JOBS[service] and sample.name.endswith(("_count", "_sum")):
                calls, total = found.get(name, (0, 0.0))
                if sample.name.endswith("_count"):
                    found[name] = (int(sample.value), total)
                else:
                    found[name] = (calls, sample.value)
    return found


def measure(args, platform, amqp_uri, token, pages, ids, reach):
    """The figures of one size: {figure: latencies}, notes."""
    intake_ids, failover_ids, probe_enterprise = ids
    figures, notes = {}, []
    print(f"  1. intake, open loop at {args.rate:g}/s for {args.seconds:g} s ...", flush=True)
    dispatch_intake.open_loop_reports(platform.url, token, intake_ids, args.rate,
                                      len(intake_ids), "low")  # warm-up: who responds
    meter = dispatch_intake.CpuMeter(platform).start()
    e2e, http, lag = dispatch_intake.intake_open(platform.url, token, intake_ids, args.rate,
                                                 args.seconds, pages)
    notes.append(dispatch_intake.cpu_line("intake", meter.stop()).strip())
    # a report that failed (a 503 when dispatch stalled, a timeout) counts as slower than any
    figures["intake e2e"] = e2e.latencies + [float("inf")] * e2e.errors
    figures["intake HTTP"] = http.latencies + [float("inf")] * http.errors
    notes.append(f"intake: achieved {e2e.rate:.1f}/s, failed {e2e.errors} (inf in the "
                 f"figures), max send lag {lag * 1000:.0f} ms")
    count = int(args.failover_rate * args.seconds)
    print(f"  2. failover, {count} high incidents at {args.failover_rate:g}/s ...", flush=True)
    delays, late, _, reported, missing, _, _ = dispatch_intake.failover_delays(
        platform.url, token, failover_ids, args.failover_rate, count, 1.0, pages)
    figures["failover delay"] = delays
    notes.append(f"failover: {len(delays)} of {reported} failed over, {missing} missing; "
                 f"dispatch acted late p99 {percentile(late, 99) * 1000:.0f} ms")
    print(f"  3. listing, {args.listing_calls} calls each ...", flush=True)
    for label, filters in (("all", {}), (f"reach ({len(reach['reach']['enterprise_ids'])} "
                                         f"enterprises + paged)", reach)):
        for page in (1, DEEP_PAGE):
            latencies, timed_out = listing(amqp_uri, page, filters, args.listing_calls)
            name = f"list {label.split()[0]} p{page}"
            figures[name] = latencies + ([float("inf")] if timed_out else [])
            if timed_out:
                notes.append(f"{name}: a call took over {CALL_TIMEOUT:g} s (inf); stopped "
                             f"there")
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=CALL_TIMEOUT) as cluster:
        stored = cluster.dispatch.list_incidents({"per_page": 1}, {
            "enterprise_id": probe_enterprise})["total"]
    notes.append(f"one intake enterprise now has {stored} incidents")
    for service in JOBS:
        jobs = job_times(platform, service)
        buckets = (jobs or {}).pop("slow intake", None)
        notes.append(f"{service}'s own timings since its start (calls x mean): " + (", ".join(
            f"{name} {calls} x {total / calls * 1000:.1f} ms" for name, (calls, total)
            in sorted(jobs.items()) if calls) if jobs is not None else
            "its metrics did not answer within 30 s"))
        if buckets:  # where the intake's tail is: inside dispatch, or before and after it
            total = buckets[float("inf")]
            notes.append(f"{service}'s report_incident calls over 25 / 50 / 100 ms: " + " / ".join(
                f"{int(total - buckets[le])}" for le in (0.025, 0.05, 0.1)) + f" of {int(total)}")
    return figures, notes


# --- the report -------------------------------------------------------------------------------


def report(sizes, results):
    ms = 1000.0
    base_size = sizes[0]
    names = list(results[base_size][0])
    print()
    print(f"p99 per size (ms); ratio = p99 / p99 at {base_size}; target: each within "
          f"{TARGET_RATIO:g}x")
    header = f"{'figure':<22}" + "".join(f"{size:>12}" for size in sizes) + "".join(
        f"{f'x at {size}':>12}" for size in sizes[1:])
    print(header)
    print("-" * len(header))
    misses = []
    for name in names:
        p99s = [percentile(results[size][0][name], 99) for size in sizes]
        row = f"{name:<22}" + "".join(f"{p * ms:>12.1f}" for p in p99s)
        for size, p99 in zip(sizes[1:], p99s[1:]):
            ratio = p99 / p99s[0] if p99s[0] else float("nan")
            mark = "" if ratio <= TARGET_RATIO else " !"
            if mark:
                misses.append(f"{name} at {size}")
            row += f"{f'{ratio:.2f}{mark}':>12}"
        print(row)
    print()
    print(f"over {TARGET_RATIO:g}x (!): " + (", ".join(misses) if misses else "none"))


def print_size(size, figures, notes):
    ms = 1000.0
    print(f"size {size}:")
    for name, values in figures.items():
        finite = [v for v in values if v != float("inf")]
        print(f"  {name:<22} ok {len(finite):>6}  p50 {percentile(values, 50) * ms:>9.1f} ms  "
              f"p99 {percentile(values, 99) * ms:>9.1f} ms  max "
              f"{max(values, default=float('nan')) * ms:>9.1f} ms")
    for note in notes:
        print(f"  {note}")


# --- main ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0, 30000, 300000],
                        help="incidents stored before each measurement (default 0 30000 "
                             "300000)")
    parser.add_argument("--counties", type=int, default=100)
    parser.add_argument("--per-county", type=int, default=330)
    parser.add_argument("--seconds", type=float, default=65.0, help="length of each run")
    parser.add_argument("--rate", type=float, default=100.0, help="intake incidents/s")
    parser.add_argument("--failover-rate", type=float, default=10.0)
    parser.add_argument("--listing-calls", type=int, default=20)
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: sizes 0 1000 3000, 3 counties, 5 s runs, 5 calls")
    parser.add_argument("--keep", action="store_true", help="keep the tmp dir (logs)")
    args = parser.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    sys.setswitchinterval(0.001)

    with gateway_read.bench_platform("store-growth-", args.keep, {
            "TOP_REPEATS": "0", "ACK_WINDOW_LOW": "3600", "ACK_WINDOW_HIGH": "1"}) as (
            platform, amqp_uri, _), closing(dispatch_intake.Pages(amqp_uri)) as pages:
        token = issue_token(jwt_secret(platform.data_dir), "supervisor", "bench")
        intake_ids, failover_ids = dispatch_intake.choose_enterprises(platform.url, token)
        covers = demo_covers(platform.url, token)
        today = utcnow()
        region = province.build_province(args.counties, args.per_county,
                                         today - timedelta(days=30))
        print(f"adding {len(region.enterprises)} enterprises to the registry ...", flush=True)
        began = time.perf_counter()
        restart(platform, amqp_uri, ["enterprise"],
                lambda: preload.store_registry(platform.data_dir, region))
        print(f"  done in {time.perf_counter() - began:.0f} s", flush=True)
        covers += region.covers()
        officer_id, reach = officer_reach(amqp_uri, covers)
        probe = {"enterprise_id": intake_ids[0]}
        gc.collect()
        gc.freeze()

        results = {}
        for size in args.sizes:
            print(f"size {size}: writing the incidents ...", flush=True)
            began = time.perf_counter()
            # the registry too: its gauges (every 5 minutes) come after this size's runs
            started, written = restart(platform, amqp_uri, ["dispatch", "enterprise"], lambda: (
                preload.store_incidents(platform.data_dir, province.closed_incidents(
                    covers, size, utcnow()))))
            wrote = time.perf_counter() - began
            gc.collect()  # what the preload left must not pause the load generator later
            gc.freeze()
            settled = settle(amqp_uri, started, probe)
            platform.wait_ready()
            print(f"  {written} written in {wrote:.0f} s; dispatch settled {settled:.0f} s "
                  f"after its start", flush=True)
            results[size] = measure(args, platform, amqp_uri, token, pages,
                                    (intake_ids, failover_ids, intake_ids[0]), reach)
            print_size(size, *results[size])

        print()
        print(f"registry: {len(covers)} enterprises with seats ({args.counties} counties of "
              f"{args.per_county} and the demo county); officer for the reach listings: "
              f"{officer_id}; {os.cpu_count()} CPUs")
        report(args.sizes, {size: results[size] for size in args.sizes})


if __name__ == "__main__":
    main()
