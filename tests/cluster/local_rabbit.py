"""RabbitMQ nodes of a test's own, from the installed rabbitmq-server, beside any broker this
machine already runs (which they never touch).

Each node has its own name (`liaison-a-<run>@localhost`), its own folders (data, logs,
configuration) under the test's tmp folder, its own ports (AMQP, management, Erlang
distribution; all on 127.0.0.1) and an Erlang cookie made for the run, passed on the command
line: the CLI tools can reach only these nodes with it, never the machine's own broker, and no
cookie file is written outside the tmp folder (HOME is the node's folder). The system-wide
rabbitmq-env.conf is not read (RABBITMQ_CONF_ENV_FILE names an empty one), so its NODENAME
cannot apply. The scripts are called directly (`/usr/lib/rabbitmq/bin`), not through
Debian's wrappers, which would run them as the `rabbitmq` user, who cannot write here.
"""
import os
import secrets
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra.sandbox import free_port

SBIN_CANDIDATES = (os.environ.get("RABBITMQ_SBIN", ""), "/usr/lib/rabbitmq/bin",
                   "/usr/local/sbin", "/usr/sbin")
GUEST = ("guest", "guest")


def sbin():
    """The folder of the real rabbitmq-server script, or None when RabbitMQ is not installed.
    Debian's /usr/sbin/rabbitmq-server is a wrapper (rabbitmq-script-wrapper) that switches
    to the rabbitmq user; the scripts it calls live in /usr/lib/rabbitmq/bin."""
    for folder in SBIN_CANDIDATES:
        script = Path(folder or "/nonexistent") / "rabbitmq-server"
        if script.exists() and Path(os.path.realpath(script)).name == "rabbitmq-server":
            return script.parent
    found = shutil.which("rabbitmq-server")
    if found and Path(os.path.realpath(found)).name == "rabbitmq-server":
        return Path(found).parent
    return None


def missing():
    """Why local nodes cannot be started here, or None."""
    if sbin() is None:
        return "rabbitmq-server is not installed (no rabbitmq-server script found)"
    if shutil.which("erl") is None:
        return "Erlang (erl) is not on the PATH"
    return None


class NodeFailed(RuntimeError):
    pass


@dataclass
class Node:
    """One RabbitMQ node. `start()` runs rabbitmq-server in a process group of its own;
    `ctl(...)` runs a CLI tool against it; `kill()` ends it at once (SIGKILL to its group);
    `stop()` halts it, and kills it if it does not stop."""

    short: str                 # a, b, c
    run: str                   # what makes this run's node names unique
    root: Path
    cookie: str
    ctl_port: int              # the first of the CLI tools' 11 distribution ports
    amqp_port: int = field(default_factory=free_port)
    management_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def name(self):
        return f"liaison-{self.short}-{self.run}@localhost"

    @property
    def folder(self):
        return self.root / self.short

    @property
    def management(self):
        return f"http://127.0.0.1:{self.management_port}/api"

    def amqp_uri(self, vhost="/", user="guest", password="guest"):
        from urllib.parse import quote
        return (f"amqp://{user}:{password}@127.0.0.1:{self.amqp_port}/"
                f"{quote(vhost, safe='')}")

    def env(self):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("RABBITMQ_", "ERL_"))}
        folder = self.folder
        env.update({
            "HOME": str(folder),
            "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CTL_DIST_PORT_MIN": str(self.ctl_port),
            "RABBITMQ_CTL_DIST_PORT_MAX": str(self.ctl_port + 10),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS":
                f"-setcookie {self.cookie} -kernel inet_dist_use_interface {{127,0,0,1}}",
        })
        return env

    def configure(self):
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "rabbitmq-env.conf").write_text("")
        (folder / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.amqp_port}\n"
            f"management.tcp.ip = 127.0.0.1\n"
            f"management.tcp.port = {self.management_port}\n"
            # as the production cluster: a node cut off from the others pauses
            "cluster_partition_handling = pause_minority\n")

    def start(self):
        """Run the node: its configuration written (again) for its ports, its data kept."""
        self.configure()
        out = open(self.folder / "server.out", "ab")
        try:
            self.proc = subprocess.Popen([str(sbin() / "rabbitmq-server")], env=self.env(),
                                         cwd=self.folder, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        finally:
            out.close()
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def ctl(self, *args, tool="rabbitmqctl", timeout=120, check=True):
        """Run a CLI tool against this node; its CompletedProcess (text)."""
        done = subprocess.run([str(sbin() / tool), "-n", self.name, "--erlang-cookie",
                               self.cookie, *args], env=self.env(), cwd=self.folder,
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise NodeFailed(f"{tool} {' '.join(args)} on {self.name} failed "
                             f"({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    def wait_started(self, timeout=120):
        """Until the node runs RabbitMQ and its management API answers."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise NodeFailed(f"{self.name} exited with {self.proc.returncode}:\n"
                                 f"{self.tail()}")
            done = self.ctl("await_startup", timeout=60, check=False)
            if done.returncode == 0 and self.answers():
                return self
            last = (done.stderr.strip() or done.stdout.strip() if done.returncode else
                    f"the management API at {self.management} does not answer")
            time.sleep(1.0)
        raise NodeFailed(f"{self.name} did not start within {timeout}s ({last}):\n{self.tail()}")

    def answers(self):
        try:
            return requests.get(f"{self.management}/overview", auth=GUEST, timeout=5).ok
        except requests.RequestException:
            return False

    def tail(self, lines=30):
        found = []
        for path in [self.folder / "server.out", *sorted((self.folder / "log").glob("*.log"))]:
            if path.exists():
                found.append(f"--- {path.name}\n" + "\n".join(
                    path.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(found)

    def kill(self):
        """The node's processes end at once, as a machine's failure would end them."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)

    def stop(self, timeout=60):
        """Halt the node (`rabbitmqctl stop`); kill it if it is still running after
        `timeout` seconds or the CLI cannot reach it."""
        if not self.alive():
            return
        try:
            self.ctl("stop", timeout=timeout, check=False)
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:
            if self.alive():
                self.kill()


class Cluster:
    """Three (or `size`) nodes joined into one cluster: the first started, each other one
    stopped (stop_app), joined to it (join_cluster) and started again (start_app)."""

    def __init__(self, root, size=3):
        self.run = secrets.token_hex(3)
        cookie = secrets.token_hex(16).upper()
        ctl_port = free_port(span=11)
        self.nodes = [Node("abcdefg"[i], self.run, Path(root), cookie, ctl_port)
                      for i in range(size)]

    @property
    def first(self):
        return self.nodes[0]

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def start(self, timeout=180):
        for node in self.nodes:  # all at once: each takes seconds to boot
            node.start()
        for node in self.nodes:
            node.wait_started(timeout)
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", self.first.name)
            node.ctl("start_app")
            node.wait_started(timeout)
        return self

    def running(self):
        """The names of the cluster's running nodes, as the first node's API sees them."""
        answer = requests.get(f"{self.first.management}/nodes", auth=GUEST, timeout=10)
        answer.raise_for_status()
        return sorted(n["name"] for n in answer.json() if n.get("running"))

    def stop(self):
        """Stop every node started, all at once, each whatever happens to the others."""
        errors = []

        def stop(node):
            try:
                node.stop()
            except Exception as error:  # noqa: BLE001 - the others are stopped all the same
                errors.append(f"{node.name}: {error}")

        stopping = [threading.Thread(target=stop, args=(node,)) for node in self.nodes]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        if errors:
            raise NodeFailed("; ".join(errors))
