"""The launcher as a user runs it: two platforms side by side on one machine and one broker,
each stopped by a terminal's Ctrl-C (SIGINT to its whole process group); each process a broker
user of its own; and what it refuses before starting anything."""
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from amqp.exceptions import AccessRefused
from kombu import Connection

from infra import launch
from infra.launch import MANAGES_BROKER, PROCESSES, Platform
from infra.sandbox import MANAGEMENT, MANAGEMENT_AUTH, create_vhost, delete_vhost, free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120
STOP_WITHIN = 5.0
# The launcher runs Prometheus beside the processes when it is installed.
COMPANIONS = 1 if shutil.which("prometheus") else 0


def _env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("JWT_SECRET", "DATA_DIR", "GATEWAY_PORT", "METRICS_BASE_PORT",
                        "AMQP_VHOST", "METRICS_PORT")}
    env.update(extra)
    return env


class Launched:
    """`python -m infra.launch ARGS` in a process group of its own, as a shell starts a job;
    its output goes to a file."""

    def __init__(self, root, *args, env=None):
        self.data_dir = root / "data"
        self.output = root / "launcher.out"
        root.mkdir(parents=True, exist_ok=True)
        with open(self.output, "wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "infra.launch", "--data-dir", str(self.data_dir), *args],
                cwd=ROOT, env=env or _env(), stdout=out, stderr=subprocess.STDOUT,
                process_group=0)
        self.pids = set()

    def text(self):
        return self.output.read_text(errors="replace")

    def wait_started(self):
        deadline = time.monotonic() + START_TIMEOUT
        while "Ctrl-C stops" not in self.text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the launcher did not start:\n{self.text()}\n"
                                     f"{self.log_text()}")
            time.sleep(0.3)
        out = self.text()
        self.url = re.search(r"Gateway:\s+(\S+)/v1", out).group(1)
        self.metrics = re.findall(r"http://\S+/metrics", out)
        self.token = re.search(r"Supervisor token \(8 h\):\n(\S+)", out).group(1)
        prometheus = re.search(r"Prometheus: (http://\S+)", out)
        self.prometheus = prometheus.group(1) if prometheus else None
        self.pids = {self.proc.pid, *_descendants(self.proc.pid)}
        return self

    def interrupt(self):
        """Ctrl-C as a terminal sends it: SIGINT to every process in the job's group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def alive(self):
        return {pid for pid in self.pids if _alive(pid)}

    def log_text(self):
        logs = self.data_dir / "logs"
        return "".join(p.read_text(errors="replace") for p in sorted(logs.glob("*.log"))) \
            if logs.exists() else ""

    def get(self, path, token=None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return requests.get(self.url + path, headers=headers, timeout=15)

    def cleanup(self):
        for pid in self.alive() | ({self.proc.pid} if self.proc.poll() is None else set()):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)


def _processes():
    """pid -> (state, parent pid) of every process on this machine."""
    table = {}
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(path.parent.name)] = (fields[0], int(fields[1]))
    return table


def _descendants(pid):
    table = _processes()
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, (_, parent) in table.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pid):
    state = _processes().get(pid, ("gone",))[0]
    return state not in ("gone", "Z")  # a zombie has ended; only its exit status is left


def _gone_within(launched, seconds):
    deadline = time.monotonic() + seconds
    while launched.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    return launched.alive()


def _consumers(vhost, queue):
    with Connection(f"amqp://guest:guest@localhost:5672/{vhost}") as connection:
        return connection.default_channel.queue_declare(queue, passive=True).consumer_count


def _management(path, auth=MANAGEMENT_AUTH, **params):
    return requests.get(f"{MANAGEMENT}/{path}", auth=auth, params=params, timeout=10)


def _users_of(vhost):
    """The broker users whose names say they belong to a platform on `vhost`."""
    return {user["name"] for user in _management("users", columns="name").json()
            if user["name"].startswith(f"{vhost}.")}


def _connected_users(vhost, expected, timeout=20):
    """The users of the connections on `vhost`, once the management API lists a connection by
    each of `expected` (it learns of a new connection shortly after it opens)."""
    deadline = time.monotonic() + timeout
    while True:
        connections = _management(f"vhosts/{vhost}/connections", columns="user,vhost").json()
        users = [connection["user"] for connection in connections]
        if expected <= set(users) or time.monotonic() > deadline:
            return users
        time.sleep(0.3)


def _environ(pid):
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _private(path):
    return stat.S_IMODE(os.lstat(path).st_mode) & 0o077 == 0


@pytest.fixture
def vhosts():
    """vhosts(create=False): a name for a vhost (the launcher makes it), or a vhost made
    here; deleted at the end."""
    names = []

    def new(create=False):
        names.append(create_vhost("e2e-launch") if create
                     else f"e2e-launch-{uuid.uuid4().hex[:10]}")
        return names[-1]

    yield new
    for name in names:
        delete_vhost(name)


def test_two_platforms_side_by_side_each_stopped_by_ctrl_c(tmp_path, vhosts):
    vhost_a, vhost_b = vhosts(), vhosts()
    free = ("--no-demo", "--port", "0", "--metrics-port", "0")
    first = Launched(tmp_path / "a", *free, "--vhost", vhost_a)
    second = None
    try:
        first.wait_started()
        second = Launched(tmp_path / "b", *free, "--vhost", vhost_b).wait_started()

        # Each on its own ports, answering with its own secret only.
        assert first.url != second.url and not set(first.metrics) & set(second.metrics)
        for one, other in ((first, second), (second, first)):
            assert one.get("/readyz").status_code == 200
            assert one.get("/v1/stations", one.token).status_code == 200
            assert one.get("/v1/stations", other.token).status_code == 401
            for url in one.metrics:
                assert requests.get(url, timeout=10).status_code == 200
        # Each platform's services answer only its own gateway.
        assert _consumers(vhost_a, "rpc-enterprise") == _consumers(vhost_b, "rpc-enterprise") == 1
        # the launcher, each of its processes and Prometheus, each platform's own
        assert len(first.pids) == len(second.pids) == 1 + len(PROCESSES) + COMPANIONS
        if COMPANIONS:
            assert first.prometheus and second.prometheus
            assert first.prometheus != second.prometheus
            for one in (first, second):
                assert requests.get(one.prometheus + "/-/ready", timeout=10).status_code == 200
            assert (first.data_dir / "prometheus" / "data").is_dir()

        # Everything under the data folder is private to the user running the platform.
        written = [first.data_dir, *first.data_dir.rglob("*")]
        names = {p.name for p in written}
        assert {"jwt_secret", "logs", "gateway.log", "enterprise", "dispatch"} <= names
        assert any(p.name == "documents.sqlite3" and p.parent.name == "enterprise"
                   for p in written)  # the embedded database
        assert [p for p in written if not _private(p)] == []

        first.interrupt()
        assert _gone_within(first, STOP_WITHIN) == set()
        assert first.proc.wait(timeout=5) == 0
        assert "stopped" in first.text()
        assert "Traceback" not in first.text() + first.log_text()

        assert second.get("/readyz").status_code == 200
        assert second.get("/v1/stations", second.token).status_code == 200

        second.interrupt()
        assert _gone_within(second, STOP_WITHIN) == set()
        assert "Traceback" not in second.text() + second.log_text()
    finally:
        for launched in (first, second):
            if launched is not None:
                launched.cleanup()


def test_a_platform_where_one_runs_is_refused_before_anything_starts(tmp_path, vhosts):
    vhost = vhosts()
    running = Launched(tmp_path / "running", "--no-demo", "--port", "0", "--metrics-port", "0",
                       "--vhost", vhost)
    try:
        running.wait_started()
        port = running.url.rsplit(":", 1)[1]
        refusals = [
            (("--vhost", vhost), "another platform is running on .* vhost '" + vhost),
            (("--vhost", vhosts(), "--port", port), f"port {port} \\(the gateway\\) is in use"),
        ]
        for n, (args, message) in enumerate(refusals):
            refused = Launched(tmp_path / f"refused{n}", "--no-demo", "--port", "0",
                               "--metrics-port", "0", *args)
            assert refused.proc.wait(timeout=60) != 0
            assert re.search(message, refused.text()), refused.text()
            assert not (refused.data_dir / "logs").exists()  # no process was started
        assert running.get("/readyz").status_code == 200
    finally:
        running.interrupt()
        running.cleanup()


def test_a_weak_secret_stops_the_launcher_and_the_gateway(tmp_path, vhosts):
    launcher = Launched(tmp_path, "--no-demo", "--port", "0", env=_env(JWT_SECRET="abc"))
    assert launcher.proc.wait(timeout=60) != 0
    assert "JWT_SECRET has 3 bytes; it needs at least 32" in launcher.text()
    assert "secrets.token_urlsafe(48)" in launcher.text()
    assert not launcher.data_dir.exists()

    gateway = subprocess.run(
        [sys.executable, "-m", "infra.serve", "infra/config.yaml", "gateway.service"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=_env(JWT_SECRET="abc", DATA_DIR=str(tmp_path / "gw"), GATEWAY_PORT="0",
                 AMQP_URI=f"amqp://guest:guest@localhost:5672/{vhosts(create=True)}"))
    assert gateway.returncode != 0
    assert "JWT_SECRET has 3 bytes; it needs at least 32" in gateway.stderr
    assert "secrets.token_urlsafe(48)" in gateway.stderr


def test_a_launcher_killed_outright_takes_its_processes_with_it(tmp_path, vhosts):
    vhost = vhosts()
    launched = Launched(tmp_path / "k", "--no-demo", "--port", "0", "--metrics-port", "0",
                        "--vhost", vhost)
    try:
        launched.wait_started()
        services = launched.pids - {launched.proc.pid}
        assert len(services) == len(PROCESSES) + COMPANIONS
        launched.proc.kill()  # SIGKILL: the launcher cannot stop anything itself
        launched.proc.wait(timeout=5)
        deadline = time.monotonic() + STOP_WITHIN
        while {pid for pid in services if _alive(pid)} and time.monotonic() < deadline:
            time.sleep(0.05)
        assert {pid for pid in services if _alive(pid)} == set()

        # Its processes' broker users are left behind; deleting the vhost deletes them.
        assert _users_of(vhost) == {f"{vhost}.{name}" for name, _, _ in PROCESSES}
        delete_vhost(vhost)
        assert _users_of(vhost) == set()
    finally:
        launched.cleanup()


def test_each_process_runs_as_a_broker_user_of_its_own_deleted_when_the_launcher_stops(
        tmp_path, vhosts):
    vhost = vhosts(create=True)
    expected = {f"{vhost}.{name}" for name, _, _ in PROCESSES}
    launched = Launched(tmp_path, "--no-demo", "--port", "0", "--metrics-port", "0",
                        "--vhost", vhost)
    try:
        launched.wait_started()

        # Every connection on the platform's vhost is by one of its processes' users; none
        # by guest, the administrator the launcher itself was given.
        users = _connected_users(vhost, expected)
        assert set(users) == expected, users
        assert "guest" not in users
        # Plain users, allowed on the platform's vhost only; only a process that manages the
        # broker (the feeds process makes agencies' users) is an administrator.
        for name, _, _ in PROCESSES:
            user = f"{vhost}.{name}"
            assert _management(f"users/{user}").json()["tags"] == (
                ["administrator"] if name in MANAGES_BROKER else [])
            permissions = _management(f"users/{user}/permissions").json()
            assert [(p["vhost"], p["configure"], p["write"], p["read"]) for p in permissions] \
                == [(vhost, ".*", ".*", ".*")]
        # A process knows only its own credentials, and no way into the management API.
        modules = {module: name for name, module, _ in PROCESSES}
        served = 0
        for pid in launched.pids - {launched.proc.pid}:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            if "infra.serve" not in args:
                # Prometheus: no credentials at all, nor the launcher's secrets
                assert Path(args[0]).name == "prometheus"
                assert not {"AMQP_URI", "BROKER_ADMIN_URI", "JWT_SECRET"} & set(_environ(pid))
                continue
            served += 1
            name = modules[args[args.index("infra.serve") + 2]]
            env = _environ(pid)
            assert env["AMQP_URI"].startswith(f"amqp://{vhost}.{name}:")
            assert "guest" not in env["AMQP_URI"]
            if name in MANAGES_BROKER:
                assert env["BROKER_ADMIN_URI"].startswith(f"http://{vhost}.{name}:")
            else:
                assert "BROKER_ADMIN_URI" not in env
        assert served == len(PROCESSES)
        assert _users_of(vhost) == expected

        launched.interrupt()
        assert _gone_within(launched, STOP_WITHIN) == set()
        assert launched.proc.wait(timeout=5) == 0
        assert "Traceback" not in launched.text() + launched.log_text()
        assert _users_of(vhost) == set()  # the launcher deleted the users it made
    finally:
        launched.cleanup()


def test_a_process_started_again_keeps_its_user_and_a_new_platform_makes_new_ones(
        tmp_path, vhosts, monkeypatch):
    vhost = vhosts(create=True)
    monkeypatch.setattr(launch, "MANAGES_BROKER", frozenset({"appraisal"}))
    monkeypatch.setenv("BROKER_ADMIN_URI", "http://guest:guest@localhost:15672/api")
    # Someone else's user under the vhost's prefix: not the platform's to delete.
    bystander = f"{vhost}.bystander"
    requests.put(f"{MANAGEMENT}/users/{bystander}", auth=MANAGEMENT_AUTH, timeout=10,
                 json={"password": uuid.uuid4().hex, "tags": ""}).raise_for_status()

    def new_platform():
        return Platform(tmp_path / "data", free_port(), free_port(span=13),
                        amqp_uri=f"amqp://guest:guest@localhost:5672/{vhost}")

    platform = new_platform()
    try:
        dispatch = platform.env("dispatch", 0)
        assert dispatch["AMQP_URI"].startswith(f"amqp://{vhost}.dispatch:")
        assert "BROKER_ADMIN_URI" not in dispatch  # not even the one inherited
        assert platform.env("dispatch", 0)["AMQP_URI"] == dispatch["AMQP_URI"]
        with Connection(dispatch["AMQP_URI"], connect_timeout=5) as connection:
            connection.connect()
        user, password = platform.users["dispatch"]
        assert _management("whoami", auth=(user, password)).status_code == 401

        # A process declared to manage the broker: an administrator, with the API's address.
        appraisal = platform.env("appraisal", 0)
        admin = appraisal["BROKER_ADMIN_URI"]
        assert admin.startswith(f"http://{vhost}.appraisal:") and admin.endswith(
            "@localhost:15672/api")
        whoami = requests.get(f"{admin}/whoami", timeout=10).json()
        assert whoami == {"name": f"{vhost}.appraisal", "tags": ["administrator"]}
        assert _users_of(vhost) == {f"{vhost}.dispatch", f"{vhost}.appraisal", bystander}

        platform.stop()
        assert _users_of(vhost) == {bystander}  # only the users it made
        with pytest.raises(AccessRefused):
            with Connection(dispatch["AMQP_URI"], connect_timeout=5) as connection:
                connection.connect()

        # A new start: the same user names, new passwords.
        platform = new_platform()
        again = platform.env("dispatch", 0)["AMQP_URI"]
        assert again.startswith(f"amqp://{vhost}.dispatch:") and again != dispatch["AMQP_URI"]
    finally:
        platform.stop()
    assert _users_of(vhost) == {bystander}


def _put_user(name, vhost):
    quoted = requests.utils.quote(name, safe="")
    requests.put(f"{MANAGEMENT}/users/{quoted}", auth=MANAGEMENT_AUTH, timeout=10,
                 json={"password": uuid.uuid4().hex, "tags": ""}).raise_for_status()
    requests.put(f"{MANAGEMENT}/permissions/{vhost}/{quoted}", auth=MANAGEMENT_AUTH,
                 timeout=10, json={"configure": ".*", "write": ".*", "read": ".*"}
                 ).raise_for_status()


def test_deleting_a_sandbox_vhost_deletes_the_users_left_on_it(vhosts):
    vhost = vhosts(create=True)
    # Left behind by a launcher killed outright, and by a process that made users of its own.
    left = {f"{vhost}.dispatch", f"{vhost}.agency.north"}
    # The vhost `<vhost>.b` is another one, though its users' names start with `<vhost>.`.
    neighbour = create_vhost(f"{vhost}.b")
    try:
        for name in left:
            _put_user(name, vhost)
        _put_user(f"{neighbour}.dispatch", neighbour)
        assert _users_of(vhost) == left | {f"{neighbour}.dispatch"}

        delete_vhost(vhost)
        assert _users_of(vhost) == {f"{neighbour}.dispatch"}
        assert "guest" in {user["name"] for user in _management("users").json()}
    finally:
        delete_vhost(neighbour)
    assert _users_of(neighbour) == set()


def test_a_broker_without_the_management_api_is_refused_before_anything_starts(tmp_path,
                                                                                vhosts):
    closed = f"http://127.0.0.1:{free_port()}/api"
    refused = Launched(tmp_path, "--no-demo", "--port", "0", "--metrics-port", "0",
                       "--vhost", vhosts(create=True), env=_env(RABBIT_MANAGEMENT=closed))
    assert refused.proc.wait(timeout=60) != 0
    assert f"management API at {closed} does not answer" in refused.text()
    assert "rabbitmq-plugins enable rabbitmq_management" in refused.text()
    assert not (refused.data_dir / "logs").exists()  # no process was started
