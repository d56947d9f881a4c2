"""How fast an incident reaches its three recipients, and how punctually A fails over to B.

    python bench/dispatch_intake.py [--seconds N] [--rate 100] [--concurrency 8 16]
                                    [--failover-count 200] [--failover-rate 50]
                                    [--failover-window 1] [--profile] [--keep]

Starts the platform (tmp data dir, free ports, a vhost of its own) with ACK_WINDOW_LOW=3600,
ACK_WINDOW_HIGH=--failover-window and TOP_REPEATS=0, loads the demo county, starts the no-op
nameko service of bench/gateway_read.py on the same vhost, and a separate kombu consumer of
the `notification.issued` events on the `dispatch.events` exchange. Then, in one run:

1. no-op RPC, closed loop (C=1 and each --concurrency): the broker's bare RPC rate;
2. intake, open loop: POST /v1/incidents (priority low) at --rate per second for N seconds;
   per incident, from its scheduled send time to the moment the consumer holds all three
   notification.issued events (responsible, duty, station) -> p50, p99, achieved rate;
   and the HTTP answer time on its own;
3. intake, closed loop: C reporters, each POSTs and waits for the three pages before the
   next -> incidents/s, p50, p99 end to end (and of the HTTP answer);
4. failover: --failover-count incidents (priority high) at --failover-rate per second, never
   acknowledged; per incident, (wall time the consumer received the B "failover" page) -
   (the incident's ack deadline from the POST answer) -> p50, p99, max.

It prints the figures with the targets beside them (300 incidents/s sustained, p99 under
50 ms at 100 incidents/s, failover within 250 ms of the deadline at p99) and the ratio of
the sustained rate to the no-op RPC rate. It never passes or fails on time: it only reports.
With --profile it then runs one more closed loop (the first --concurrency) while py-spy
samples the gateway, dispatch and enterprise processes, and prints where their time goes.
See bench/README.md.
"""
import argparse
import gc
import http.client
import importlib.util
import json
import os
import platform as host
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _load_sibling(name):
    """bench/ is not a package: load a sibling benchmark module from its file."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}",
                                                  Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# The no-op service starter, the closed loop, percentiles and the table rows.
gateway_read = _load_sibling("gateway_read")
Result, HEADER, closed_loop, percentile = (gateway_read.Result, gateway_read.HEADER,
                                           gateway_read.closed_loop, gateway_read.percentile)


from gateway.auth import issue_token  # noqa: E402
from infra.launch import jwt_secret  # noqa: E402
from kit.testing import EventTap  # noqa: E402

THREE = ("responsible", "duty", "station")
WARMUP_CALLS = 20  # what gateway_read.closed_loop runs per caller before the window opens
HTTP_TIMEOUT = 10.0
SETTLE_TIMEOUT = 30.0  # how long to wait for the pages of incidents already reported

TARGET_RATE = 300.0  # incidents/s sustained
TARGET_P99_MS = 50.0  # end to end, at 100 incidents/s
TARGET_FAILOVER_P99_MS = 250.0  # after the ack deadline


# --- the separate consumer ---------------------------------------------------------------------


class Pages:
    """Every notification.issued event on dispatch.events, from a separate consumer.

    Keeps, per incident and reason, the first receipt as (perf_counter, time.time(), data);
    lets a reporter wait until an incident's three intake pages are all in."""

    def __init__(self, amqp_uri):
        self.pages = {}  # incident id -> {reason: (perf, wall, data)}
        self.waiters = {}  # incident id -> threading.Event, set when THREE are in
        self.seen = set()  # notification ids
        self.duplicates = 0  # the same notification (id) received again
        self.received = 0
        self.tap = EventTap(amqp_uri, "dispatch.events", "notification.issued",
                            on_event=self._on_event)
        self.lock = self.tap.lock

    def _on_event(self, event, perf, wall):  # called under the tap's lock
        data = event["data"]
        incident_id = data["incident_id"]
        self.received += 1
        if data["notification_id"] in self.seen:
            self.duplicates += 1
            return
        self.seen.add(data["notification_id"])
        got = self.pages.setdefault(incident_id, {})
        if data["reason"] in got:  # e.g. the second "escalation": keep the first
            return
        got[data["reason"]] = (perf, wall, data)
        if all(reason in got for reason in THREE):
            waiter = self.waiters.pop(incident_id, None)
            if waiter is not None:
                waiter.set()

    def wait_three(self, incident_id, timeout):
        """True once the responsible, duty and station pages of the incident are all in."""
        with self.lock:
            got = self.pages.get(incident_id, {})
            if all(reason in got for reason in THREE):
                return True
            waiter = self.waiters.setdefault(incident_id, threading.Event())
        return waiter.wait(timeout)

    def three_in_at(self, incident_id):
        """perf_counter time the last of the three intake pages came in, or None."""
        with self.lock:
            got = self.pages.get(incident_id, {})
            if not all(reason in got for reason in THREE):
                return None
            return max(got[reason][0] for reason in THREE)

    def page(self, incident_id, reason):
        with self.lock:
            return self.pages.get(incident_id, {}).get(reason)

    def close(self):
        self.tap.close()


# --- reporting incidents -----------------------------------------------------------------------


def new_session(token):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


class Reporter:
    """One keep-alive HTTP connection to the gateway, on the standard library's http.client:
    the load generator shares the machine with what it measures, so it should cost little
    (requests costs several times more CPU per call)."""

    def __init__(self, url, token):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.connection = None

    def call(self, method, path, body=None):
        """(status, parsed JSON answer); (None, None) when the call failed."""
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port,
                                                             timeout=HTTP_TIMEOUT)
            self.connection.request(method, path, body, self.headers)
            response = self.connection.getresponse()
            return response.status, json.loads(response.read() or b"null")
        except (OSError, http.client.HTTPException, ValueError):
            self.close()
            return None, None

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def report(reporter, enterprise_id, priority, n):
    """POST one incident; its JSON answer, or None if it was refused or failed."""
    status, answer = reporter.call("POST", "/v1/incidents", json.dumps({
        "enterprise_id": enterprise_id, "category": "safety_hazard", "priority": priority,
        "description": f"bench incident {n}", "location": "厂区"}).encode())
    return answer if status == 201 else None


def open_loop_reports(url, token, enterprise_ids, rate, count, priority, pool_size=64):
    """POST `count` incidents at `rate`/s on a fixed schedule, whatever the answers do.

    Returns (began, records): per incident (scheduled, sent, answered, incident JSON or
    None), all perf_counter times."""
    local = threading.local()
    records, lock = [], threading.Lock()

    def reporter():
        if getattr(local, "reporter", None) is None:
            local.reporter = Reporter(url, token)
        return local.reporter

    def send(index, scheduled):
        sent = time.perf_counter()
        incident = report(reporter(), enterprise_ids[index % len(enterprise_ids)], priority,
                          index)
        answered = time.perf_counter()
        with lock:
            records.append((scheduled, sent, answered, incident))

    def warm(_):  # open every worker's keep-alive connection before the clock starts
        reporter().call("GET", "/healthz")
        time.sleep(0.05)  # so the pool starts (and warms) all of its workers

    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        list(pool.map(warm, range(pool_size)))
        began = time.perf_counter()
        for index in range(count):
            scheduled = began + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index, scheduled)
    return began, records


def intake_open(url, token, enterprise_ids, rate, seconds, pages):
    """Part 2: the open loop at `rate`/s, priority low. Returns (e2e, http, max send lag)."""
    began, records = open_loop_reports(url, token, enterprise_ids, rate, int(rate * seconds),
                                       "low")
    settle_by = time.perf_counter() + SETTLE_TIMEOUT
    e2e, http, failed = [], [], 0
    last_done = last_answer = began
    for scheduled, _sent, answered, incident in records:
        if incident is None:
            failed += 1
            continue
        http.append(answered - scheduled)
        last_answer = max(last_answer, answered)
        pages.wait_three(incident["id"], max(0.0, settle_by - time.perf_counter()))
        done = pages.three_in_at(incident["id"])
        if done is None:
            failed += 1
            continue
        e2e.append(done - scheduled)
        last_done = max(last_done, done)
    lag = max((sent - scheduled for scheduled, sent, _, _ in records), default=0.0)
    return (Result("intake open e2e", "-", e2e, failed, max(last_done - began, seconds),
                   offered=rate),
            Result("intake open HTTP", "-", http, sum(r[3] is None for r in records),
                   max(last_answer - began, seconds), offered=rate),
            lag)


def intake_caller(url, token, enterprise_ids, pages, http_latencies, lock):
    """A closed-loop reporter: POST (priority low), then wait for the three pages. Its HTTP
    answer times after the warm-up calls go into `http_latencies`."""
    def make():
        reporter = Reporter(url, token)
        counter = [int.from_bytes(os.urandom(2), "big")]  # callers start at different places
        calls = [0]

        def call():
            counter[0] += 1
            calls[0] += 1
            started = time.perf_counter()
            incident = report(reporter, enterprise_ids[counter[0] % len(enterprise_ids)],
                              "low", counter[0])
            if incident is None:
                return False
            if calls[0] > WARMUP_CALLS:
                with lock:
                    http_latencies.append(time.perf_counter() - started)
            return pages.wait_three(incident["id"], SETTLE_TIMEOUT)

        return call, reporter.close

    return make


def utc_epoch(iso):
    """An ISO 8601 UTC time from the platform ("...Z" or "+00:00") as a time.time() value."""
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # the platform stores naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def failover_delays(url, token, enterprise_ids, rate, count, window, pages):
    """Part 4: report `count` high-priority incidents at `rate`/s and acknowledge none.
    Returns (delays, fired late, delivery: lists in s; reported, missing, deadline
    disagreements, wall time of the run). `fired late` = the failover page's sent_at (when
    dispatch acted) - the deadline; `delivery` = received - sent_at (outbox, broker, consumer).
    """
    began, records = open_loop_reports(url, token, enterprise_ids, rate, count, "high")
    incidents = [incident for _, _, _, incident in records if incident is not None]
    deadlines = {}
    for incident in incidents:
        deadline = incident.get("deadline")
        if deadline is None:  # fall back on the responsible page's own deadline
            page = pages.page(incident["id"], "responsible")
            deadline = page[2]["ack_deadline"] if page else None
        if deadline is not None:
            deadlines[incident["id"]] = utc_epoch(deadline)
    settle_by = time.time() + window + SETTLE_TIMEOUT
    while time.time() < settle_by:
        if all(pages.page(i, "failover") for i in deadlines):
            break
        time.sleep(0.1)
    delays, late, delivery, missing, disagree = [], [], [], 0, 0
    for incident_id, deadline in deadlines.items():
        responsible = pages.page(incident_id, "responsible")
        if responsible and responsible[2].get("ack_deadline") and \
                abs(utc_epoch(responsible[2]["ack_deadline"]) - deadline) > 1e-3:
            disagree += 1
        failover = pages.page(incident_id, "failover")
        if failover is None:
            missing += 1
            continue
        delays.append(failover[1] - deadline)
        sent_at = utc_epoch(failover[2]["sent_at"])
        late.append(sent_at - deadline)
        delivery.append(failover[1] - sent_at)
    missing += len(records) - len(deadlines)  # refused reports, or no deadline at all
    return (delays, late, delivery, len(records), missing, disagree,
            time.perf_counter() - began)


# --- choosing enterprises ------------------------------------------------------------------------


def choose_enterprises(url, token):
    """(ids for intake: A available, a duty officer and a station; ids for failover: B too)."""
    session = new_session(token)
    listed = session.get(f"{url}/v1/enterprises?per_page=500", timeout=HTTP_TIMEOUT)
    listed.raise_for_status()
    intake, failover = [], []
    for enterprise in listed.json()["items"]:
        answer = session.get(f"{url}/v1/enterprises/{enterprise['id']}/responders",
                             timeout=HTTP_TIMEOUT)
        answer.raise_for_status()
        responders = answer.json()
        seats = {s["seat"]: s for s in responders["seats"]}
        a, b = seats.get("a_officer"), seats.get("b_officer")
        if a and a["available"] and responders["duty_officer"] and responders["station"]:
            intake.append(enterprise["id"])
            if b and b["available"]:
                failover.append(enterprise["id"])
    session.close()
    return intake, failover


# --- where the CPU went -----------------------------------------------------------------------


class CpuMeter:
    """CPU seconds used by the platform's processes, this process, and the whole machine
    (from /proc), between `start()` and `stop()`; Linux only (elsewhere it stays silent)."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, platform):
        self.pids = {key: proc.pid for key, proc in platform.procs.items()}

    def _proc(self, pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / self.TICK  # utime + stime

    def _sample(self):
        sample = {key: self._proc(pid) for key, pid in self.pids.items()}
        times = os.times()
        sample["bench"] = times.user + times.system
        try:
            ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            sample["machine"] = (sum(ticks) - ticks[3] - ticks[4]) / self.TICK  # not idle
        except (OSError, IndexError, ValueError):
            sample["machine"] = None
        return sample, time.perf_counter()

    def start(self):
        self.began = self._sample()
        return self

    def stop(self):
        (before, t0), (after, t1) = self.began, self._sample()
        wall = t1 - t0
        return {key: (after[key] - before[key]) / wall for key in before
                if before[key] is not None and after.get(key) is not None}


def cpu_line(name, shares):
    if not shares:
        return ""
    parts = [f"{key} {100 * shares[key]:.0f}%" for key in ("gateway", "dispatch", "enterprise",
                                                          "bench") if key in shares]
    machine = shares.get("machine")
    tail = (f"; machine busy {100 * machine:.0f}% of {100 * os.cpu_count()}%"
            if machine is not None else "")
    return f"  CPU during {name}: " + ", ".join(parts) + tail


# --- profiling (--profile) ------------------------------------------------------------------------


def start_profilers(platform, seconds, out_dir):
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    profilers = {}
    for key in ("gateway", "dispatch", "enterprise"):
        out = out_dir / f"py-spy-{key}.txt"
        profilers[key] = (out, subprocess.Popen(
            [py_spy, "record", "--nonblocking", "-r", "200", "-d", str(max(1, int(seconds))),
             "-f", "raw", "-o", str(out), "--pid", str(platform.procs[key].pid)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return profilers


FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>.*?)(?::\d+)?\)$")


def _frame_name(frame):
    match = FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", f"{ROOT}/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match['func']} ({path})"


def summarize_profile(path, top=12):
    """Lines: the busiest leaf frames (self time) and functions (inclusive time)."""
    leaf, inclusive, total = Counter(), Counter(), 0
    for line in Path(path).read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        count = int(count)
        frames = [_frame_name(f) for f in stack.split(";")]
        frames = [f for f in frames if not f.startswith("process ") and
                  not f.startswith("thread ")]
        if not frames:
            continue
        total += count
        leaf[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if not total:
        return ["  (no samples)"]
    lines = [f"  {total} busy samples; self time (leaf frames):"]
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in leaf.most_common(top)]
    lines.append("  inclusive time (application and library functions):")
    lines += [f"    {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top * 3)
              if "greenlet" not in name and "eventlet/hubs" not in name
              and not name.startswith("run (") and not name.startswith("_bootstrap")][:top * 2]
    return lines


# --- main ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--rate", type=float, default=100.0,
                        help="open-loop incidents/s (default 100)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[8, 16],
                        help="closed-loop reporters (default 8 16)")
    parser.add_argument("--failover-count", type=int, default=200)
    parser.add_argument("--failover-rate", type=float, default=50.0)
    parser.add_argument("--failover-window", type=float, default=1.0,
                        help="ACK_WINDOW_HIGH in seconds (default 1)")
    parser.add_argument("--profile", action="store_true",
                        help="one more closed-loop run, with py-spy on the platform")
    parser.add_argument("--keep", action="store_true", help="keep the tmp dir (logs, profiles)")
    args = parser.parse_args(argv)
    sys.setswitchinterval(0.001)  # the consumer thread should not wait 5 ms for the GIL

    with gateway_read.bench_platform("dispatch-bench-", args.keep, {
            "TOP_REPEATS": "0", "ACK_WINDOW_LOW": "3600",
            "ACK_WINDOW_HIGH": f"{args.failover_window:g}"}) as (platform, amqp_uri, workdir), \
            closing(Pages(amqp_uri)) as pages:

        token = issue_token(jwt_secret(platform.data_dir), "supervisor", "bench")
        intake_ids, failover_ids = choose_enterprises(platform.url, token)
        if not intake_ids or not failover_ids:
            raise RuntimeError(f"too few enterprises with a full cover: {len(intake_ids)} for "
                               f"intake, {len(failover_ids)} for failover")
        gc.collect()  # as the services do (kit.heap): a full collection over everything set
        gc.freeze()   # up so far would stall the consumer and show up as intake latency

        results, noop_rates, intake_rates = [], {}, {}
        for concurrency in sorted({1, *args.concurrency}):
            print(f"1. no-op RPC, closed loop, C={concurrency} ...", flush=True)
            result = closed_loop("no-op RPC closed", concurrency, args.seconds,
                                 gateway_read.noop_caller(amqp_uri))
            results.append(result)
            noop_rates[concurrency] = result.rate

        cpu = {}
        print(f"2. intake, open loop at {args.rate:g}/s ...", flush=True)
        meter = CpuMeter(platform).start()
        opened, opened_http, lag = intake_open(platform.url, token, intake_ids, args.rate,
                                               args.seconds, pages)
        cpu[f"open loop at {args.rate:g}/s"] = meter.stop()
        results += [opened, opened_http]

        for concurrency in args.concurrency:
            print(f"3. intake, closed loop, C={concurrency} ...", flush=True)
            http, lock = [], threading.Lock()
            meter = CpuMeter(platform).start()
            result = closed_loop("intake closed e2e", concurrency, args.seconds,
                                 intake_caller(platform.url, token, intake_ids, pages, http,
                                               lock))
            cpu[f"closed loop C={concurrency}"] = meter.stop()
            results += [result, Result("intake closed HTTP", concurrency, http, 0,
                                       result.elapsed)]
            intake_rates[concurrency] = result.rate

        profiles, profiled = {}, None
        if args.profile:  # an extra run, so the sampling does not disturb the figures above
            concurrency = args.concurrency[0]
            print(f"(profile) intake, closed loop, C={concurrency}, under py-spy ...",
                  flush=True)
            profilers = start_profilers(platform, args.seconds, workdir)
            profiled = closed_loop("intake closed (py-spy)", concurrency, args.seconds,
                                   intake_caller(platform.url, token, intake_ids, pages, [],
                                                 threading.Lock()))
            for key, (out, proc) in profilers.items():
                proc.wait(timeout=args.seconds + 30)
                profiles[key] = (concurrency, out)

        print(f"4. failover, {args.failover_count} high-priority incidents at "
              f"{args.failover_rate:g}/s, window {args.failover_window:g} s, no "
              f"acknowledgements ...", flush=True)
        meter = CpuMeter(platform).start()
        delays, late, delivery, reported, missing, disagree, failover_wall = failover_delays(
            platform.url, token, failover_ids, args.failover_rate, args.failover_count,
            args.failover_window, pages)
        cpu["failover run"] = meter.stop()

        # --- the report ---------------------------------------------------------------
        ms = 1000.0
        print()
        print(f"host: {host.node()} {os.cpu_count()} CPUs, Python {host.python_version()}; "
              f"{args.seconds:g} s per run; enterprises: {len(intake_ids)} for intake "
              f"(A available, duty officer, station), {len(failover_ids)} for failover "
              f"(B available too)")
        print("e2e = from the POST's (scheduled) send until the consumer holds all three "
              "notification.issued events (responsible, duty, station)")
        print(HEADER)
        print("-" * len(HEADER))
        for result in results:
            print(result.row())
        print(f"open loop: offered {args.rate:g}/s, achieved {opened.rate:.1f}/s "
              f"(incidents with all three pages / wall time), errors {opened.errors}, "
              f"max send lag behind schedule {lag * ms:.1f} ms")
        for name, shares in cpu.items():
            if shares:
                print(cpu_line(name, shares))
        print()
        print(f"failover delay = wall time the consumer received B's \"failover\" page - the "
              f"incident's ack deadline (ACK_WINDOW_HIGH={args.failover_window:g} s):")
        print(f"  reported {reported} at {args.failover_rate:g}/s, failovers received "
              f"{len(delays)}, missing {missing}, run {failover_wall:.1f} s; "
              f"p50 {percentile(delays, 50) * ms:.1f} ms, p99 {percentile(delays, 99) * ms:.1f}"
              f" ms, max {max(delays, default=float('nan')) * ms:.1f} ms, "
              f"min {min(delays, default=float('nan')) * ms:.1f} ms")
        print(f"  of which: dispatch acted late (page sent_at - deadline) p50 "
              f"{percentile(late, 50) * ms:.1f} ms, p99 {percentile(late, 99) * ms:.1f} ms, max "
              f"{max(late, default=float('nan')) * ms:.1f} ms; delivery (received - sent_at) "
              f"p50 {percentile(delivery, 50) * ms:.1f} ms, p99 "
              f"{percentile(delivery, 99) * ms:.1f} ms, max "
              f"{max(delivery, default=float('nan')) * ms:.1f} ms")
        if disagree:
            print(f"  note: {disagree} incidents' POST deadline differs from their responsible "
                  f"page's ack_deadline")
        print(f"  notification.issued events received in all: {pages.received}, duplicates "
              f"(same notification id again): {pages.duplicates}")
        print()
        print(f"{'figure':<40} {'measured':>18}   target")
        print("-" * 78)
        for concurrency in args.concurrency:
            print(f"{f'sustained intake, C={concurrency}':<40} "
                  f"{f'{intake_rates[concurrency]:.1f} incidents/s':>18}   "
                  f"{TARGET_RATE:g} incidents/s")
        print(f"{f'intake e2e p99 at {args.rate:g}/s offered':<40} "
              f"{f'{percentile(opened.latencies, 99) * ms:.1f} ms':>18}   "
              f"under {TARGET_P99_MS:g} ms (at 100/s)")
        print(f"{f'intake HTTP p99 at {args.rate:g}/s offered':<40} "
              f"{f'{percentile(opened_http.latencies, 99) * ms:.1f} ms':>18}   (no target)")
        print(f"{'failover delay p99':<40} "
              f"{f'{percentile(delays, 99) * ms:.1f} ms':>18}   "
              f"within {TARGET_FAILOVER_P99_MS:g} ms of the deadline")
        print()
        for concurrency in args.concurrency:
            base = noop_rates[concurrency]
            ratio = intake_rates[concurrency] / base if base else float("nan")
            print(f"C={concurrency}: sustained intake {intake_rates[concurrency]:.1f} "
                  f"incidents/s vs no-op RPC {base:.1f} calls/s -> ratio {ratio:.3f} "
                  f"(one incident costs ~{1 / ratio if ratio else float('nan'):.1f} no-op RPCs)")
        if profiled is not None:
            print()
            print(f"profiled run (not in the table): {profiled.rate:.1f} incidents/s, p50 "
                  f"{percentile(profiled.latencies, 50) * ms:.1f} ms, p99 "
                  f"{percentile(profiled.latencies, 99) * ms:.1f} ms")
        for key, (concurrency, out) in profiles.items():
            print()
            print(f"py-spy, {key} process, closed-loop intake C={concurrency} ({out.name}):")
            for line in summarize_profile(out):
                print(line)


if __name__ == "__main__":
    main()
