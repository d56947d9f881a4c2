"""A Prometheus for a platform: its configuration, and the server run beside the processes.

`configuration(platform)` scrapes every process's metrics port (job = the process's name,
instance = 127.0.0.1:port) and the broker's rabbitmq_prometheus plugin: its totals
(`/metrics`, job `rabbitmq`) and the per-queue series of the platform's vhost only
(`/metrics/detailed?family=queue_coarse_metrics&family=queue_consumer_count&vhost=...`, job
`rabbitmq-queues`), and evaluates the alerting rules of `infra/prometheus/rules.yml`.

`Prometheus(platform).start()` writes it under the platform's data folder and runs
`prometheus` on a free local port (or the one asked), storing its series in
`<data>/prometheus/data`. It is stopped with the platform (`Platform.stop()`), or alone by
`stop()`; a launcher killed outright takes it with it, as it does its processes.
"""
import ctypes
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests
import yaml

from .processes import (PRIVATE_UMASK, ROOT, make_private_dir, open_log, signal_group,
                        stop_deferred)
from .sandbox import free_port

RULES = ROOT / "infra" / "prometheus" / "rules.yml"
BROKER_METRICS_PORT = 15692  # the rabbitmq_prometheus plugin's
QUEUE_FAMILIES = ("queue_coarse_metrics", "queue_consumer_count")
ENABLE_PLUGIN = "rabbitmq-plugins enable rabbitmq_prometheus"
STOP_GRACE = 4.0
NAME = "prometheus"


def installed():
    """The path of the `prometheus` program, or None."""
    return shutil.which("prometheus")


def broker_metrics_address(amqp_uri):
    """host:port of the broker's rabbitmq_prometheus endpoints: RABBIT_PROMETHEUS if set,
    else port 15692 on the broker's host."""
    if os.environ.get("RABBIT_PROMETHEUS"):
        return os.environ["RABBIT_PROMETHEUS"]
    host = urlsplit(amqp_uri).hostname or "localhost"
    return f"[{host}]:{BROKER_METRICS_PORT}" if ":" in host else f"{host}:{BROKER_METRICS_PORT}"


def duration(seconds):
    """A Prometheus duration for `seconds` (a number, or already a duration string)."""
    if isinstance(seconds, str):
        return seconds
    millis = round(float(seconds) * 1000)
    if millis <= 0:
        raise ValueError(f"{seconds!r} is not a positive duration")
    return f"{millis // 1000}s" if millis % 1000 == 0 else f"{millis}ms"


def _targets(platform):
    """process name -> its metrics addresses: instance 1 of every process, and any further
    instance already started (`dispatch#2`)."""
    targets = {name: [platform.metrics_port(name)] for name in platform.names}
    for key in platform.procs:
        name, _, instance = key.partition("#")
        if instance and platform.metrics_port(key) not in targets[name]:
            targets[name].append(platform.metrics_port(key))
    return {name: [f"127.0.0.1:{port}" for port in ports] for name, ports in targets.items()}


def configuration(platform, scrape_interval=15, evaluation_interval=15, rule_files=(RULES,)):
    """The Prometheus configuration (a dict, as YAML has it) for `platform`."""
    interval = duration(scrape_interval)
    broker = broker_metrics_address(platform.amqp_uri)
    scrape_configs = [
        {"job_name": name, "static_configs": [{"targets": targets}]}
        for name, targets in _targets(platform).items()]
    scrape_configs += [
        {"job_name": "rabbitmq", "metrics_path": "/metrics",
         "static_configs": [{"targets": [broker]}]},
        {"job_name": "rabbitmq-queues", "metrics_path": "/metrics/detailed",
         "params": {"family": list(QUEUE_FAMILIES), "vhost": [platform.vhost]},
         "static_configs": [{"targets": [broker]}]},
    ]
    return {
        "global": {
            "scrape_interval": interval,
            # a scrape may not take longer than the interval between two
            "scrape_timeout": interval if _seconds(interval) < 10 else "10s",
            "evaluation_interval": duration(evaluation_interval),
        },
        "rule_files": [str(Path(path).absolute()) for path in rule_files],
        "scrape_configs": scrape_configs,
    }


def _seconds(text):
    return int(text[:-2]) / 1000 if text.endswith("ms") else float(text[:-1]) * {
        "s": 1, "m": 60, "h": 3600}[text[-1]]


def _environment():
    """Prometheus's environment: none of the launcher's credentials or secrets (AMQP_URI,
    JWT_SECRET...), only what a program needs to run."""
    return {name: os.environ[name] for name in ("PATH", "LANG", "LC_ALL", "TZ")
            if name in os.environ}


def _end_with_parent():
    """In the child before exec: SIGTERM when the process that started it dies, even by
    SIGKILL (PR_SET_PDEATHSIG; Linux only), as infra.serve asks for the services."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Prometheus:
    """`prometheus` for `platform`, on 127.0.0.1:`port` (0: a free one)."""

    def __init__(self, platform, port=0, scrape_interval=15, evaluation_interval=15,
                 rule_files=(RULES,)):
        self.platform = platform
        self.port = port or free_port()
        self.options = {"scrape_interval": scrape_interval,
                        "evaluation_interval": evaluation_interval, "rule_files": rule_files}
        self.directory = Path(platform.data_dir) / "prometheus"
        self.config_file = self.directory / "prometheus.yml"
        self.storage = self.directory / "data"
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def write_configuration(self):
        make_private_dir(self.directory)
        text = yaml.safe_dump(configuration(self.platform, **self.options), sort_keys=False)
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as file:
            file.write(text)
        return self.config_file

    def start(self):
        """Write the configuration and start prometheus; the platform stops it with its own
        processes. Raises FileNotFoundError if prometheus is not installed."""
        binary = installed()
        if binary is None:
            raise FileNotFoundError("prometheus is not installed (infra/setup installs it)")
        self.write_configuration()
        out = subprocess.DEVNULL
        if self.platform.log_dir is not None:
            make_private_dir(self.platform.log_dir)
            out = open_log(self.platform.log_dir / f"{NAME}.log")
        try:
            with stop_deferred():  # a started child is always recorded for stop()
                self.proc = subprocess.Popen(
                    [binary, f"--config.file={self.config_file}",
                     f"--storage.tsdb.path={self.storage}",
                     f"--web.listen-address=127.0.0.1:{self.port}"],
                    cwd=self.directory, env=_environment(), stdin=subprocess.DEVNULL,
                    stdout=out, stderr=subprocess.STDOUT, process_group=0, umask=PRIVATE_UMASK,
                    preexec_fn=_end_with_parent)
                self.platform.companions[NAME] = self.proc
        finally:
            if out is not subprocess.DEVNULL:
                out.close()  # the child has its own copy
        return self

    def wait_ready(self, timeout=30):
        """True once prometheus answers ready; False if it exits or does not within
        `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                return False
            try:
                if requests.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.2)
        return False

    def api(self, path, **params):
        """The `data` of the HTTP API's answer at /api/v1/`path`."""
        answer = requests.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        answer.raise_for_status()
        return answer.json()["data"]

    def stop(self, timeout=STOP_GRACE):
        """SIGTERM prometheus, SIGKILL it after `timeout` seconds."""
        if self.proc is None:
            return
        self.platform.companions.pop(NAME, None)
        signal_group(self.proc, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            signal_group(self.proc, signal.SIGKILL)
            self.proc.wait()
