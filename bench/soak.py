"""A soak: the whole platform taking in incidents at a steady rate for a long while.

    python bench/soak.py [--minutes 30] [--rate 50] [--priority low] [--senders 64] [--keep]

Starts the platform (every service and the gateway its own process, a vhost of its own, a
tmp data folder, free ports, the embedded store) with the demo county loaded, then POSTs
incidents to /v1/incidents at --rate a second on a fixed schedule, whatever the answers do,
from --senders threads, each with one keep-alive connection and every report with an
Idempotency-Key of its own, as a careful client sends them. It prints:

- the resident memory (VmRSS of /proc/<pid>/status) of every process at the start, after
  the demo county is loaded and before the first report;
- per minute of schedule: reports sent, answered 201, failed (another answer, no answer or
  a client timeout of 10 s), the achieved rate, and the POST's latency p50 / p95 / p99 / max
  in milliseconds, counted from each report's scheduled time (a stall shows in the latency
  of every report it delayed), and the platform's total RSS then;
- the RSS of every process at the end, and how much each grew.

It never passes or fails. Ctrl-C ends the run early and still prints the end. See
bench/README.md.
"""
import argparse
import http.client
import json
import math
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gateway.auth import issue_token  # noqa: E402
from infra.launch import demo_platform, jwt_secret  # noqa: E402

HTTP_TIMEOUT = 10.0
MINUTE = 60.0


def rss_kib(pid):
    """The resident set of process `pid` in KiB (VmRSS), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def memory(platform):
    """{process: RSS in KiB} of every running process of the platform."""
    return {name: rss_kib(proc.pid) for name, proc in platform.procs.items()
            if proc.poll() is None}


def mib(kib):
    return "-" if kib is None else f"{kib / 1024:.1f}"


class Reporter:
    """One keep-alive HTTP connection to the gateway (http.client: the load generator shares
    the machine with what it measures, so it should cost little)."""

    def __init__(self, url, token):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname, parts.port
        self.token = token
        self.connection = None

    def post(self, path, body, key):
        """The answer's status, or None when there was no answer. A kept-alive connection the
        gateway closed while it was idle (it closes one after HTTP_READ_TIMEOUT) fails before
        any answer: the report is sent again at once on a new connection, with the same
        Idempotency-Key, as a careful client does."""
        reused = self.connection is not None
        status = self._post(path, body, key)
        if status is None and reused:
            status = self._post(path, body, key)
        return status

    def _post(self, path, body, key):
        headers = {"Authorization": f"Bearer {self.token}", "Idempotency-Key": key,
                   "Content-Type": "application/json"}
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port,
                                                             timeout=HTTP_TIMEOUT)
            self.connection.request("POST", path, json.dumps(body).encode(), headers)
            response = self.connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            if self.connection is not None:
                self.connection.close()
            self.connection = None
            return None


def percentile(ordered, q):
    if not ordered:
        return math.nan
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


class Soak:
    """Reports on schedule; per minute of schedule, (latency, ok) of each answered report."""

    def __init__(self, platform, token, enterprise_ids, rate, priority, senders):
        self.platform, self.token = platform, token
        self.enterprise_ids, self.rate, self.priority = enterprise_ids, rate, priority
        self.senders = senders
        self.run = uuid.uuid4().hex[:8]
        self.local = threading.local()
        self.lock = threading.Lock()
        self.minutes = {}   # minute -> [(latency s, ok)]
        self.scheduled = {}  # minute -> reports scheduled in it
        self.stopping = threading.Event()

    def _reporter(self):
        if getattr(self.local, "reporter", None) is None:
            self.local.reporter = Reporter(self.platform.url, self.token)
        return self.local.reporter

    def _send(self, n, scheduled, minute):
        status = self._reporter().post("/v1/incidents", {
            "enterprise_id": self.enterprise_ids[n % len(self.enterprise_ids)],
            "category": "safety_hazard", "priority": self.priority, "location": "厂区",
            "description": f"soak {self.run} #{n}"}, key=f"soak-{self.run}-{n}")
        latency = time.perf_counter() - scheduled
        with self.lock:
            self.minutes.setdefault(minute, []).append((latency, status == 201))

    def drive(self, began, seconds):
        """Schedule every report of the run (blocks until the last is scheduled)."""
        with ThreadPoolExecutor(self.senders) as pool:
            for n in range(int(seconds * self.rate)):
                scheduled = began + n / self.rate
                delay = scheduled - time.perf_counter()
                if delay > 0 and self.stopping.wait(delay):
                    break
                minute = int((scheduled - began) // MINUTE)
                with self.lock:
                    self.scheduled[minute] = self.scheduled.get(minute, 0) + 1
                pool.submit(self._send, n, scheduled, minute)

    def done(self, minute):
        with self.lock:
            return len(self.minutes.get(minute, ())) >= self.scheduled.get(minute, 0)

    def row(self, minute, span=MINUTE):
        """Minute `minute`'s figures; `span`, its seconds (the last may be short)."""
        with self.lock:
            answers = list(self.minutes.get(minute, ()))
            sent = self.scheduled.get(minute, 0)
        ok = sorted(latency for latency, good in answers if good)
        failed = len(answers) - len(ok)
        unanswered = sent - len(answers)
        p = [percentile(ok, q) * 1000 for q in (50, 95, 99)] + [(ok[-1] if ok else math.nan)
                                                                * 1000]
        rss = sum(v for v in memory(self.platform).values() if v)
        return (f"{minute + 1:>6}{sent:>8}{len(ok):>8}{failed + unanswered:>8}"
                f"{len(ok) / span:>9.1f}" + "".join(f"{v:>9.1f}" for v in p)
                + f"{mib(rss):>11}")


HEADER = (f"{'minute':>6}{'sent':>8}{'201':>8}{'failed':>8}{'rate/s':>9}{'p50 ms':>9}"
          f"{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}{'RSS MiB':>11}")


def print_memory(title, rss, before=None):
    print(f"\n{title}")
    print(f"{'process':<12}{'RSS MiB':>10}" + (f"{'grew MiB':>10}" if before else ""))
    for name, kib in rss.items():
        line = f"{name:<12}{mib(kib):>10}"
        if before:
            start = before.get(name)
            line += f"{(kib - start) / 1024 if kib and start else math.nan:>10.1f}"
        print(line)
    print(flush=True)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30, help="length of the run")
    parser.add_argument("--rate", type=float, default=50, help="incidents a second")
    parser.add_argument("--priority", default="low",
                        choices=("emergency", "high", "medium", "low"),
                        help="of every report (its acknowledgement window is the platform's "
                             "default: low 3600 s, so no deadline fires in a short run)")
    parser.add_argument("--senders", type=int, default=64, help="threads sending reports")
    parser.add_argument("--keep", action="store_true",
                        help="keep the tmp folder with the processes' logs")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    print(f"starting the platform (logs in {workdir / 'logs'}) ...", flush=True)
    with demo_platform(workdir, "bench-soak") as platform:
        token = issue_token(jwt_secret(platform.data_dir), "supervisor", "bench-soak")
        enterprise_ids = [e["id"] for e in requests.get(
            platform.url + "/v1/enterprises?per_page=100", timeout=30,
            headers={"Authorization": f"Bearer {token}"}).json()["items"]]
        start_rss = memory(platform)
        print_memory("memory at the start", start_rss)
        print(f"{args.rate:g} incidents/s ({args.priority}) for {args.minutes:g} min, "
              f"latency from each report's scheduled time", flush=True)
        print(HEADER, flush=True)

        soak = Soak(platform, token, enterprise_ids, args.rate, args.priority, args.senders)
        seconds = args.minutes * MINUTE
        began = time.perf_counter()
        driver = threading.Thread(target=soak.drive, args=(began, seconds), daemon=True)
        driver.start()
        minutes = math.ceil(seconds / MINUTE)
        printed = 0
        try:
            while printed < minutes:
                end_of_minute = began + (printed + 1) * MINUTE
                grace = end_of_minute + HTTP_TIMEOUT + 1
                now = time.perf_counter()
                if (now >= end_of_minute and soak.done(printed)) or now >= grace \
                        or (not driver.is_alive() and soak.done(printed)):
                    print(soak.row(printed, min(MINUTE, seconds - printed * MINUTE)),
                          flush=True)
                    printed += 1
                    continue
                time.sleep(0.2)
        except KeyboardInterrupt:
            soak.stopping.set()
            print("stopped early", flush=True)
        driver.join(timeout=HTTP_TIMEOUT + 5)
        end_rss = memory(platform)
        print_memory("memory at the end", end_rss, before=start_rss)
        gone = [name for name, proc in platform.procs.items() if proc.poll() is not None]
        if gone:
            print(f"processes that exited during the run: {', '.join(gone)}")
    if args.keep:
        print(f"kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
