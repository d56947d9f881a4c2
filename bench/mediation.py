"""Mediation: intake end to end at a steady rate, and the statistics over a province-year.

    python bench/mediation.py [--rate 50] [--seconds 30] [--disputes 150000] [--repeat 5]
                              [--quick] [--keep]

1. intake: the platform as the other benchmarks start it (own vhost, tmp data dir, demo
   county); a mediator POSTs disputes to /v1/disputes on a fixed schedule (--rate per second,
   open loop, for --seconds) while a separate consumer on mediation.events waits for each
   one's `dispute.registered`. Prints p50/p99/max of the HTTP answer and of the event received,
   both from the scheduled send.
2. statistics: --disputes disputes of a province-year (a hundred counties, three stations and
   a park each, disputes spread over the year, about a third flagged, most settled) written
   into a mediation store of their own (the rows its repository writes), then the Weng'an
   table for the whole province, one county's station and one park over the year, --repeat
   times each: min, median and max.

It reports; it never passes or fails. --quick is a smoke run (5 s at 10/s, 3,000 disputes).
"""
import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import dispatch_intake  # bench/, this file's folder, is first on sys.path

from contracts.events import EVENT_SCHEMAS  # noqa: E402
from gateway.auth import issue_token  # noqa: E402
from infra.launch import jwt_secret  # noqa: E402
from kit.storage import open_database  # noqa: E402
from kit.testing import EventTap  # noqa: E402

gateway_read = dispatch_intake.gateway_read
percentile = gateway_read.percentile
QUICK = {"rate": 10.0, "seconds": 5.0, "disputes": 3000, "repeat": 3}
YEAR_START = datetime(2025, 1, 1)


# --- 1. intake --------------------------------------------------------------------------------


def dispute_body(enterprise_id, n):
    return json.dumps({
        "enterprise_id": enterprise_id, "kind": "wage_arrears", "amount_at_stake": 30_000 + n,
        "description": f"bench dispute {n}",
        "parties": [{"kind": "workers", "side": "applicant", "name": f"workers {n}",
                     "headcount": 5},
                    {"kind": "enterprise", "side": "respondent", "name": f"firm {n}"}],
    }).encode()


def intake(url, token, amqp_uri, enterprise_ids, rate, seconds):
    received, lock = {}, threading.Lock()

    def on_event(envelope, perf, wall):
        with lock:
            received.setdefault(envelope["subject"], perf)

    tap = EventTap(amqp_uri, "mediation.events", "dispute.registered", on_event=on_event,
                   schemas=EVENT_SCHEMAS)
    local = threading.local()
    records = []

    def send(index, scheduled):
        if getattr(local, "reporter", None) is None:
            local.reporter = dispatch_intake.Reporter(url, token)
        status, answer = local.reporter.call("POST", "/v1/disputes", dispute_body(
            enterprise_ids[index % len(enterprise_ids)], index))
        with lock:
            records.append((scheduled, time.perf_counter(), answer if status == 201 else None))

    from concurrent.futures import ThreadPoolExecutor
    try:
        with ThreadPoolExecutor(max_workers=32) as pool:
            began = time.perf_counter()
            for index in range(int(rate * seconds)):
                scheduled = began + index / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                pool.submit(send, index, scheduled)
        ids = [answer["id"] for _, _, answer in records if answer]
        tap.wait(lambda _: set(ids) <= set(received), timeout=60)
    finally:
        tap.close()
    http = [answered - scheduled for scheduled, answered, answer in records if answer]
    e2e = [received[a["id"]] - s for s, _, a in records if a and a["id"] in received]
    failed = sum(1 for _, _, a in records if a is None)
    missing = sum(1 for _, _, a in records if a and a["id"] not in received)
    return http, e2e, failed, missing, tap.broken


def row(name, values):
    if not values:
        return f"  {name:<22} none"
    return (f"  {name:<22} n={len(values):>5}  p50 {percentile(values, 50) * 1000:8.1f} ms  "
            f"p99 {percentile(values, 99) * 1000:8.1f} ms  max {max(values) * 1000:8.1f} ms")


def run_intake(args):
    with gateway_read.bench_platform("mediation-bench-", args.keep) as (platform, amqp_uri, _):
        token = issue_token(jwt_secret(platform.data_dir), "mediator", "bench-mediator")
        supervisor = issue_token(jwt_secret(platform.data_dir), "supervisor", "bench")
        session = dispatch_intake.new_session(supervisor)
        enterprise_ids = [e["id"] for e in session.get(
            platform.url + "/v1/enterprises?per_page=100", timeout=30).json()["items"]]
        print(f"1. intake, open loop at {args.rate:g}/s for {args.seconds:g} s ...", flush=True)
        http, e2e, failed, missing, broken = intake(platform.url, token, amqp_uri,
                                                    enterprise_ids, args.rate, args.seconds)
        print(row("HTTP answer", http))
        print(row("event received", e2e))
        print(f"  refused or failed: {failed}; answered but no event: {missing}; "
              f"events breaking their contract: {len(broken)}")


# --- 2. statistics ------------------------------------------------------------------------------


def province_disputes(count, seed=2025):
    """`count` disputes of a year over 100 counties (three stations and one park each)."""
    from services.mediation.domain import Dispute, Timing
    from services.mediation.grading import RuleSet

    rng, rules, timing = random.Random(seed), RuleSet(), Timing()
    kinds = ("wage_arrears", "labour_contract", "injury_compensation", "business_contract",
             "construction_obstruction", "neighbourhood")
    for n in range(count):
        county = rng.randrange(100)
        station = f"s{county:03d}-{rng.randrange(3)}"
        at = YEAR_START + timedelta(seconds=rng.randrange(365 * 86400))
        signals = ["threats"] if rng.random() < 0.05 else []
        data = {"kind": rng.choice(kinds), "amount_at_stake": rng.choice(
                    (5_000, 30_000, 80_000, 300_000, 800_000)),
                "description": "bench", "source": "officer", "signals": signals,
                "parties": [{"kind": "workers", "side": "applicant", "name": f"w{n}",
                             "contact": "", "id_number": "",
                             "headcount": rng.choice((1, 3, 12, 40))},
                            {"kind": "company", "side": "respondent", "name": f"c{n}",
                             "contact": "", "id_number": "", "headcount": 1}]}
        place = {"enterprise_id": f"e{county:03d}-{rng.randrange(330)}", "station_id": station,
                 "park_id": f"p{county:03d}" if rng.random() < 0.4 else None,
                 "grid_id": f"g{county:03d}-{rng.randrange(10)}"}
        dispute = Dispute.register(f"d{n}", place, data, rules, 0, "bench", timing, at)
        if rng.random() < 0.15:
            dispute.record_session("analysis_meeting", at, "station", ["m"], "adjourned", "",
                                   "bench", at)
        if rng.random() < 0.9 and dispute.status == "mediating":
            settled = at + timedelta(days=rng.randrange(1, 40))
            dispute.agree("facts", "issues",
                          [{"party": 1, "obligation": "pay", "due": settled + timedelta(days=10)}],
                          [{"party": 0, "at": settled}, {"party": 1, "at": settled}], "bench",
                          timing, settled)
            if rng.random() < 0.8:
                dispute.term_performed(0, "bench", settled + timedelta(days=rng.randrange(15)))
        dispute.events.clear()
        yield dispute


def run_statistics(args):
    from services.mediation import handlers
    from services.mediation.store import Repository

    workdir = Path(tempfile.mkdtemp(prefix="mediation-stats-"))
    try:
        database = open_database("mediation", None, workdir)
        repo = Repository(database)
        repo.ensure_indexes()
        print(f"2. statistics: writing {args.disputes} disputes of a province-year ...",
              flush=True)
        began, chunk, written = time.perf_counter(), [], 0
        for dispute in province_disputes(args.disputes):
            chunk.append(repo.disputes.row_of(dispute))
            if len(chunk) == 5000:
                written += repo.disputes.table.insert_all(chunk)
                chunk = []
        written += repo.disputes.table.insert_all(chunk)
        print(f"  {written} written in {time.perf_counter() - began:.0f} s", flush=True)
        year = (YEAR_START, YEAR_START + timedelta(days=365))
        for name, area in (("province", None), ("one station", {"station_id": "s042-1"}),
                           ("one park", {"park_id": "p042"})):
            timings = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                table = handlers.statistics(repo, *year, area)
                timings.append(time.perf_counter() - start)
            print(f"  {name:<12} {min(timings) * 1000:7.1f} / "
                  f"{statistics.median(timings) * 1000:7.1f} / {max(timings) * 1000:7.1f} ms "
                  f"(min / median / max of {args.repeat}); screened {table['screened']}, "
                  f"resolved {table['resolved']}, risks {table['risks_found']} "
                  f"({table['risks_defused']} defused, {table['risks_watched']} watched), "
                  f"meetings {table['analysis_meetings']}, median days "
                  f"{table['median_days_to_settle']}")
        database.close()
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--disputes", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--only", choices=("intake", "statistics"))
    args = parser.parse_args(argv)
    if args.quick:
        for name, value in QUICK.items():
            setattr(args, name, value)
    if args.only in (None, "intake"):
        run_intake(args)
    if args.only in (None, "statistics"):
        run_statistics(args)


if __name__ == "__main__":
    sys.exit(main())
