"""How fast the gateway answers a read, next to what the broker alone allows.

    python bench/gateway_read.py [--seconds N] [--concurrency 1 8] [--rate 100]

Starts the platform (tmp data dir, free ports, a vhost of its own), loads the demo county,
starts a no-op nameko service on the same vhost, then measures in one run:

1. no-op RPC, closed loop: C callers, each with its own ClusterRpcProxy, call `noop()`
   back to back for N seconds -> calls/s, p50, p99;
2. gateway, closed loop: C callers, each with its own requests.Session, GET
   /v1/enterprises/{id} (supervisor token) back to back -> requests/s, p50, p99;
3. gateway, open loop: requests sent on a fixed schedule (--rate per second) for N seconds,
   whatever the answers do -> p50, p99 (from the scheduled send time) and the achieved rate.

It prints a table and the ratio gateway rate / no-op rate per concurrency. It never passes
or fails on time: it only reports. See bench/README.md for what each figure means.
"""
import argparse
import logging
import os
import platform as host
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import requests

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
# Probing the no-op service before it has declared its queue returns the message; quiet.
logging.getLogger("amqp").setLevel(logging.ERROR)

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nameko.standalone.rpc import ClusterRpcProxy  # noqa: E402

from gateway.auth import issue_token  # noqa: E402
from infra.launch import CONFIG, Platform, jwt_secret  # noqa: E402
from infra.load_demo import load_demo  # noqa: E402
from infra.sandbox import create_vhost, delete_vhost, free_port  # noqa: E402

BROKER = "localhost:5672"


# --- setup ------------------------------------------------------------------------------------


def start_noop(amqp_uri, log_path):
    env = dict(os.environ, AMQP_URI=amqp_uri, METRICS_PORT="0", PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        [sys.executable, "-m", "nameko", "run", "--config", str(CONFIG), "noop_service"],
        cwd=ROOT / "bench", env=env, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)


def wait_noop(amqp_uri, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the no-op service exited with {proc.returncode}")
        try:
            with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=2) as cluster:
                cluster.noop.noop()
            return
        except Exception:  # not declared yet (UnknownService) or not answering yet
            time.sleep(0.3)
    raise RuntimeError(f"the no-op service did not answer within {timeout}s")


@contextmanager
def bench_platform(prefix, keep, extra_env=None):
    """The platform under test, as every benchmark here sets it up: its own vhost, a tmp data
    dir, free ports, every service its own process, the demo county, and the no-op service
    beside it. Yields (platform, amqp_uri, workdir); stops and removes it all afterwards
    (the tmp dir stays with `keep`)."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    vhost = platform = noop = None
    try:
        vhost = create_vhost("bench")
        amqp_uri = f"amqp://guest:guest@{BROKER}/{vhost}"
        platform = Platform(workdir / "data", free_port(), free_port(span=13),
                            amqp_uri=amqp_uri, log_dir=workdir / "logs",
                            extra_env={"MONGO_URI": "", **(extra_env or {})})
        print(f"starting the platform on vhost {vhost} (logs in {workdir / 'logs'}) ...",
              flush=True)
        platform.start()
        platform.wait_ready()
        print(load_demo(amqp_uri), flush=True)
        noop = start_noop(amqp_uri, workdir / "logs" / "noop.log")
        wait_noop(amqp_uri, noop)
        yield platform, amqp_uri, workdir
    finally:
        if noop is not None and noop.poll() is None:
            noop.terminate()
            try:
                noop.wait(timeout=15)
            except subprocess.TimeoutExpired:
                noop.kill()
                noop.wait()
        if platform is not None:
            platform.stop()
        if vhost is not None:
            delete_vhost(vhost)
        if keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


# --- measuring --------------------------------------------------------------------------------


def percentile(values, q):
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Result:
    def __init__(self, name, concurrency, latencies, errors, elapsed, offered=None):
        self.name = name
        self.concurrency = concurrency
        self.latencies = latencies
        self.errors = errors
        self.elapsed = elapsed
        self.offered = offered

    @property
    def rate(self):
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def row(self):
        ms = 1000.0
        offered = f"{self.offered:g}/s" if self.offered else "closed"
        return (f"{self.name:<22} {self.concurrency!s:>4} {offered:>8} "
                f"{len(self.latencies):>8} {self.rate:>10.1f} "
                f"{percentile(self.latencies, 50) * ms:>8.2f} "
                f"{percentile(self.latencies, 99) * ms:>8.2f} {self.errors:>6}")


HEADER = (f"{'run':<22} {'C':>4} {'load':>8} {'ok':>8} {'rate/s':>10} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'errors':>6}")


def closed_loop(name, concurrency, seconds, make_caller):
    """`concurrency` threads, each calling its own `make_caller()` back to back."""
    latencies, lock = [], threading.Lock()
    errors = [0]
    window = {}

    def go():  # run by the barrier once every caller has warmed up, before any goes on
        window["began"] = time.perf_counter()
        window["stop_at"] = window["began"] + seconds

    ready = threading.Barrier(concurrency + 1, action=go)

    def worker():
        try:
            call, close = make_caller()
            for _ in range(20):  # warm up: connections, reply queues
                call()
        except BaseException:
            ready.abort()  # the run cannot start: let everyone (and main) know
            raise
        try:
            mine, failed = [], 0
            ready.wait()
            while True:
                started = time.perf_counter()
                if started >= window["stop_at"]:
                    break
                try:
                    good = call()
                except Exception:
                    good = False
                if good:
                    mine.append(time.perf_counter() - started)
                else:
                    failed += 1
            with lock:
                latencies.extend(mine)
                errors[0] += failed
        finally:
            close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    ready.wait()
    for thread in threads:
        thread.join()
    return Result(name, concurrency, latencies, errors[0],
                  time.perf_counter() - window["began"])


def noop_caller(amqp_uri):
    def make():
        proxy = ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=10)
        cluster = proxy.start()

        def call():
            cluster.noop.noop()
            return True

        return call, proxy.stop

    return make


def gateway_caller(url, token, ids):
    def make():
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        counter = [0]

        def call():
            counter[0] += 1
            enterprise_id = ids[counter[0] % len(ids)]
            return session.get(f"{url}/v1/enterprises/{enterprise_id}", timeout=10).ok

        return call, session.close

    return make


def open_loop(url, token, ids, rate, seconds, pool_size=64):
    """Send at `rate`/s on a fixed schedule; latency counts from the scheduled time, so a
    slow answer cannot hide the requests it delayed (no coordinated omission)."""
    local = threading.local()
    latencies, lock = [], threading.Lock()
    errors = [0]
    last_done = [0.0]

    def send(index, scheduled):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.headers["Authorization"] = f"Bearer {token}"
        try:
            good = session.get(f"{url}/v1/enterprises/{ids[index % len(ids)]}",
                               timeout=10).ok
        except requests.RequestException:
            good = False
        done = time.perf_counter()
        with lock:
            if good:
                latencies.append(done - scheduled)
            else:
                errors[0] += 1
            last_done[0] = max(last_done[0], done)

    total = int(rate * seconds)
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        for _ in pool.map(lambda i: send(i, time.perf_counter()), range(pool_size)):
            pass  # warm up every worker's session
        latencies.clear()
        errors[0] = 0
        last_done[0] = 0.0
        began = time.perf_counter()
        for index in range(total):
            scheduled = began + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index, scheduled)
    elapsed = max(last_done[0] - began, seconds)
    return Result("gateway GET open", "-", latencies, errors[0], elapsed, offered=rate)


def officer_reading(platform, token, ids):
    """An officer's token and the enterprises it holds a seat on: the A officer of the first
    enterprise that has one. Its reads go through the access policy's seat check (one more
    RPC to the registry per read)."""
    headers = {"Authorization": f"Bearer {token}"}
    for enterprise_id in ids:
        answer = requests.get(f"{platform.url}/v1/enterprises/{enterprise_id}/responders",
                              headers=headers, timeout=10).json()
        a = next((s for s in answer["seats"] if s["seat"] == "a_officer"), None)
        if a is not None:
            officer = issue_token(jwt_secret(platform.data_dir), "officer", "bench-officer",
                                  officer_id=a["officer_id"])
            listed = requests.get(f"{platform.url}/v1/enterprises?per_page=500", timeout=10,
                                  headers={"Authorization": f"Bearer {officer}"}).json()
            return officer, [e["id"] for e in listed["items"]]
    raise RuntimeError("no enterprise in the demo county has an A officer")


# --- main ---------------------------------------------------------------------------------------


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each run")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rate", type=float, default=100.0, help="open-loop requests/s")
    parser.add_argument("--keep", action="store_true", help="keep the tmp dir (logs)")
    args = parser.parse_args(argv)

    with bench_platform("gateway-bench-", args.keep) as (platform, amqp_uri, _):
        token = issue_token(jwt_secret(platform.data_dir), "supervisor", "bench")
        listed = requests.get(f"{platform.url}/v1/enterprises?per_page=500", timeout=10,
                              headers={"Authorization": f"Bearer {token}"})
        listed.raise_for_status()
        ids = [e["id"] for e in listed.json()["items"]]

        results, noop_rates, gateway_rates = [], {}, {}
        for concurrency in args.concurrency:
            print(f"no-op RPC, closed loop, C={concurrency} ...", flush=True)
            result = closed_loop("no-op RPC closed", concurrency, args.seconds,
                                 noop_caller(amqp_uri))
            results.append(result)
            noop_rates[concurrency] = result.rate
        for concurrency in args.concurrency:
            print(f"gateway GET, closed loop, C={concurrency} ...", flush=True)
            result = closed_loop("gateway GET closed", concurrency, args.seconds,
                                 gateway_caller(platform.url, token, ids))
            results.append(result)
            gateway_rates[concurrency] = result.rate
        officer_token, seat_ids = officer_reading(platform, token, ids)
        officer_rates = {}
        for concurrency in args.concurrency:
            print(f"gateway GET as an officer, closed loop, C={concurrency} ...", flush=True)
            result = closed_loop("gateway GET officer", concurrency, args.seconds,
                                 gateway_caller(platform.url, officer_token, seat_ids))
            results.append(result)
            officer_rates[concurrency] = result.rate
        print(f"gateway GET, open loop at {args.rate:g}/s ...", flush=True)
        results.append(open_loop(platform.url, token, ids, args.rate, args.seconds))

        print()
        print(f"host: {host.node()} {os.cpu_count()} CPUs, Python {host.python_version()}; "
              f"{args.seconds:g} s per run; enterprises: {len(ids)}")
        print(HEADER)
        print("-" * len(HEADER))
        for result in results:
            print(result.row())
        print()
        for concurrency in args.concurrency:
            base = noop_rates[concurrency]
            ratio = gateway_rates[concurrency] / base if base else float("nan")
            print(f"C={concurrency}: gateway {gateway_rates[concurrency]:.1f}/s vs no-op RPC "
                  f"{base:.1f}/s -> ratio {ratio:.2f}")
            officer = officer_rates[concurrency]
            print(f"C={concurrency}: gateway as an officer {officer:.1f}/s -> ratio "
                  f"{officer / base if base else float('nan'):.2f} (its seats checked per read)")
        opened = results[-1]
        print(f"open loop: offered {args.rate:g}/s, achieved {opened.rate:.1f}/s, "
              f"errors {opened.errors}")


if __name__ == "__main__":
    main()
