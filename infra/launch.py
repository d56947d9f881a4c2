"""Run the platform: every service and the gateway as its own nameko process.

`python -m infra.launch` starts them, waits until the gateway is ready, loads the demo county
(once: a registry that already has stations is left alone), prints the gateway URL and a
supervisor token, restarts a process that dies, and stops them all on Ctrl-C.
"""
import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "infra" / "config.yaml"

# (name, nameko module, metrics port offset from the base)
PROCESSES = (
    ("enterprise", "services.enterprise.service", 1),
    ("dispatch", "services.dispatch.service", 2),
    ("gateway", "gateway.service", 0),
)


def jwt_secret(data_dir):
    """JWT_SECRET from the environment, else one kept in the data folder across runs."""
    if os.environ.get("JWT_SECRET"):
        return os.environ["JWT_SECRET"]
    path = Path(data_dir) / "jwt_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


@dataclass
class Platform:
    """The platform's processes, with their environment; usable from tests too."""

    data_dir: Path
    gateway_port: int = 8000
    metrics_base: int = 9100
    amqp_uri: str = "amqp://guest:guest@localhost:5672/"
    extra_env: dict = field(default_factory=dict)
    log_dir: Path | None = None
    procs: dict = field(default_factory=dict)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.gateway_port}"

    def env(self, metrics_port):
        env = dict(os.environ)
        env.update({
            "AMQP_URI": self.amqp_uri, "DATA_DIR": str(self.data_dir),
            "GATEWAY_PORT": str(self.gateway_port), "METRICS_PORT": str(metrics_port),
            "JWT_SECRET": jwt_secret(self.data_dir), "PYTHONUNBUFFERED": "1",
        })
        env.update(self.extra_env)
        return env

    def start(self, name=None, instance=1):
        """Start every process, or the one named; instance 2, 3... runs another copy of it
        beside the first (as `name#2`), sharing its work."""
        for proc_name, module, _ in PROCESSES:
            if name in (None, proc_name):
                key = proc_name if instance == 1 else f"{proc_name}#{instance}"
                out = subprocess.DEVNULL
                if self.log_dir is not None:
                    self.log_dir.mkdir(parents=True, exist_ok=True)
                    out = open(self.log_dir / f"{key}.log", "ab")
                self.procs[key] = subprocess.Popen(
                    [sys.executable, "-m", "nameko", "run", "--config", str(CONFIG), module],
                    cwd=ROOT, env=self.env(self.metrics_port(key)), stdout=out,
                    stderr=subprocess.STDOUT)
                if out is not subprocess.DEVNULL:
                    out.close()  # the child has its own copy

    def metrics_port(self, key):
        name, _, instance = key.partition("#")
        offset = dict((n, o) for n, _, o in PROCESSES)[name]
        return self.metrics_base + offset + 10 * (int(instance or 1) - 1)

    def metrics_url(self, key):
        return f"http://127.0.0.1:{self.metrics_port(key)}/metrics"

    def kill(self, name, sig=signal.SIGKILL):
        proc = self.procs[name]
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop(self, timeout=15):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode} while starting")
            try:
                if requests.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"the gateway at {self.url} was not ready within {timeout}s")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("DATA_DIR", str(ROOT / "data")))
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", 8000)))
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo county")
    args = parser.parse_args(argv)

    from gateway.auth import issue_token

    from .load_demo import load_demo
    from .retire import retire_queues

    platform = Platform(Path(args.data_dir), args.port,
                        amqp_uri=os.environ.get("AMQP_URI", "amqp://guest:guest@localhost:5672/"),
                        log_dir=Path(args.data_dir) / "logs")
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    moved = retire_queues(platform.amqp_uri)
    if moved:
        print(f"Moved {moved} messages from retired queues.")
    platform.start()
    try:
        platform.wait_ready()
        if not args.no_demo:
            print(load_demo(platform.amqp_uri))
        token = issue_token(jwt_secret(platform.data_dir), "supervisor", "demo-supervisor")
        print(f"\nGateway:   {platform.url}/v1   (API document: {platform.url}/v1/openapi.json)")
        print("Metrics:   " + ", ".join(platform.metrics_url(n) for n, _, _ in PROCESSES))
        print(f"Logs:      {platform.log_dir}")
        print(f"Supervisor token (8 h):\n{token}\n")
        print(f"Try: curl -H 'Authorization: Bearer <token>' {platform.url}/v1/coverage")
        print("Ctrl-C stops every process.")
        while not stopping:
            time.sleep(0.5)
            for key, proc in list(platform.procs.items()):
                if proc.poll() is not None and not stopping:
                    print(f"{key} exited with {proc.returncode}; starting it again")
                    name, _, instance = key.partition("#")
                    platform.start(name, int(instance or 1))
    finally:
        print("stopping...")
        platform.stop()
        print("stopped")


if __name__ == "__main__":
    main()
