"""Run the platform: every service and the gateway as its own nameko process.

`python -m infra.launch` starts them, waits until the gateway is ready, loads the demo county
(once: a registry that already has stations is left alone), prints the gateway URL and a
supervisor token, restarts a process that dies, and stops them all on Ctrl-C (or SIGTERM,
SIGHUP) within 5 s. When `prometheus` is installed it runs beside them (infra/prometheus.py:
every process's metrics and the broker's, the alerting rules of infra/prometheus/rules.yml),
on a free port (`--prometheus-port`), and its URL is printed too. A second platform runs
beside it on other ports, another data folder and a vhost of its own (`--port 0
--metrics-port 0 --vhost NAME --data-dir DIR`).

The user of AMQP_URI (guest by default) is the launcher's only: it makes, through the
management API, a broker user for each process (`<vhost>.<process>`, a new password at every
start of the launcher, allowed on the platform's vhost only), runs the process as that user,
and deletes the users it made when it stops.

Everything the platform writes under the data folder is private to the user running it.
"""
import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import requests

# eventlet announces its maintenance mode when the demo loader imports nameko; not news here.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from gateway.auth import TokenRules, WeakSecret, check_secret  # noqa: E402

from .broker_users import (ENABLE_MANAGEMENT, Management, ManagementUnavailable,
                           management_url, process_user, with_credentials)
from .processes import (PRIVATE_UMASK, ROOT, Stopping, ignore_signals, make_private_dir,
                        open_log, signal_group, stop_deferred, stop_on_signals)
from .sandbox import create_vhost, delete_vhost, free_port

CONFIG = ROOT / "infra" / "config.yaml"
STOP_GRACE = 4.0  # seconds a process has to stop on SIGTERM before it is killed
USERS_GRACE = 0.8  # seconds the broker users of the stopped processes have to be deleted

# (name, nameko module, metrics port offset from the base): a new service registers here.
PROCESSES = (
    ("enterprise", "services.enterprise.service", 1),
    ("dispatch", "services.dispatch.service", 2),
    ("mediation", "services.mediation.service", 3),
    ("appraisal", "services.appraisal.service", 4),
    ("feeds", "services.feeds.service", 5),
    ("fieldwork", "services.fieldwork.service", 6),
    ("gateway", "gateway.service", 0),
)
RPC_QUEUES = tuple(f"rpc-{name}" for name, _, _ in PROCESSES if name != "gateway")
# Processes that manage the broker itself (declare users and permissions for the agencies)
# through the management API: their user is a broker administrator, and they are given
# BROKER_ADMIN_URI. Every other process gets a plain user and no management API.
MANAGES_BROKER = frozenset({"feeds"})


class RefusedToStart(Exception):
    """The platform cannot start as asked; the message says what to change."""


# --- private files ------------------------------------------------------------------------


def jwt_secret(data_dir):
    """JWT_SECRET from the environment, else the one kept in `data_dir/jwt_secret`, made on
    first use. The file is created with mode 0600 (never readable by others, not even for a
    moment) and appears complete or not at all. An existing file that group or others may
    read is refused rather than tightened: whoever read it can forge tokens, so it must be
    replaced. A secret under 32 bytes is refused (WeakSecret)."""
    if os.environ.get("JWT_SECRET"):
        return check_secret(os.environ["JWT_SECRET"])
    path = Path(data_dir) / "jwt_secret"
    if not os.path.lexists(path):
        make_private_dir(path.parent)
        _create_secret(path)
    info = os.lstat(path)
    if not path.is_file() or path.is_symlink():
        raise RefusedToStart(f"{path} is not a regular file; remove it to have a secret made")
    if info.st_mode & 0o077:
        raise RefusedToStart(
            f"{path} is readable or writable by other users (mode {info.st_mode & 0o777:o}), "
            f"so tokens signed with it may be forged. Delete it to have a new one made (tokens "
            f"issued with it stop working), or, if no one can have read it: chmod 600 {path}")
    return check_secret(path.read_text().strip(), name=str(path))


def _create_secret(path):
    import secrets

    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_urlsafe(48) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(temporary, path)  # fails if another launcher made one meanwhile: theirs holds
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


# --- the broker and ports -----------------------------------------------------------------


def with_vhost(amqp_uri, vhost):
    """`amqp_uri` naming `vhost` instead of its own."""
    parts = urlsplit(amqp_uri)
    return urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))


def broker_name(amqp_uri):
    """The broker and vhost of `amqp_uri`, without credentials, for messages."""
    parts = urlsplit(amqp_uri)
    return f"{parts.hostname}:{parts.port or 5672} vhost {_vhost(amqp_uri)!r}"


def _vhost(amqp_uri):
    return unquote(urlsplit(amqp_uri).path[1:]) or "/"


def ensure_vhost(amqp_uri):
    """Create the vhost of `amqp_uri` through the RabbitMQ management API if it does not
    exist, and let the URI's user use it fully."""
    from amqp.exceptions import AMQPError, NotAllowed
    from kombu import Connection

    try:
        with Connection(amqp_uri, connect_timeout=5) as connection:
            connection.connect()
        return
    except NotAllowed:
        pass
    except (OSError, AMQPError) as error:
        raise _unreachable(amqp_uri, error) from None
    parts = urlsplit(amqp_uri)
    user, password = unquote(parts.username or "guest"), unquote(parts.password or "guest")
    vhost = quote(_vhost(amqp_uri), safe="")
    api = management_url(amqp_uri)
    try:
        requests.put(f"{api}/vhosts/{vhost}", auth=(user, password),
                     timeout=10).raise_for_status()
        requests.put(f"{api}/permissions/{vhost}/{quote(user, safe='')}", auth=(user, password),
                     json={"configure": ".*", "write": ".*", "read": ".*"},
                     timeout=10).raise_for_status()
    except requests.RequestException as error:
        name = _vhost(amqp_uri)
        raise RefusedToStart(
            f"vhost {name!r} does not exist and the management API at {api} could not create "
            f"it ({error}). Create it with: rabbitmqctl add_vhost {name} && "
            f"rabbitmqctl set_permissions -p {name} {user} '.*' '.*' '.*'") from None


def check_broker_free(amqp_uri):
    """Refuse when another platform's services already consume this vhost's RPC queues: its
    services would answer our gateway's calls."""
    from amqp.exceptions import AMQPError, NotFound
    from kombu import Connection

    try:
        with Connection(amqp_uri, connect_timeout=5) as connection:
            for queue in RPC_QUEUES:
                channel = connection.channel()  # a refused passive declare closes it
                try:
                    _, _, consumers = channel.queue_declare(queue, passive=True)
                except NotFound:
                    continue
                channel.close()
                if consumers:
                    raise RefusedToStart(
                        f"another platform is running on {broker_name(amqp_uri)} ({queue} has "
                        f"{consumers} consumer(s)); its services would answer this one's "
                        "calls. Stop it, or start this platform on a vhost of its own: "
                        "--vhost NAME (or AMQP_VHOST=NAME)")
    except (OSError, AMQPError) as error:
        raise _unreachable(amqp_uri, error) from None


def check_management(amqp_uri):
    """Refuse unless the management API answers and the user of `amqp_uri` may make users
    there: the launcher makes each of its processes a broker user of its own."""
    try:
        Management.of_broker(amqp_uri).check_administrator()
    except ManagementUnavailable as error:
        raise _no_management(amqp_uri, error) from None


def _no_management(amqp_uri, error):
    user = unquote(urlsplit(amqp_uri).username or "guest")
    return RefusedToStart(
        f"cannot make the processes' broker users: {error}. The launcher runs each process as "
        f"a broker user of its own, made through the RabbitMQ management API as {user!r}, a "
        f"broker administrator. Enable the API with: {ENABLE_MANAGEMENT} (RABBIT_MANAGEMENT "
        f"names it if it is not at {management_url(amqp_uri)}), and name an administrator in "
        "AMQP_URI")


def _unreachable(amqp_uri, error):
    return RefusedToStart(f"cannot use the broker at {broker_name(amqp_uri)}: {error} "
                          "(infra/setup starts a local one; AMQP_URI names another)")


def _in_use(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
        return False


# --- the processes ------------------------------------------------------------------------


@dataclass
class Platform:
    """The platform's processes, with their environment; usable from tests too.

    Each process runs in a process group of its own with a private umask: a terminal's Ctrl-C
    reaches only whoever runs the platform, which stops the processes with SIGTERM.

    `amqp_uri` names a broker administrator, used by the platform object only: each process
    runs as a broker user of its own (`broker_env`), deleted by stop()."""

    data_dir: Path
    gateway_port: int = 8000
    metrics_base: int = 9100
    amqp_uri: str = "amqp://guest:guest@localhost:5672/"
    extra_env: dict = field(default_factory=dict)
    log_dir: Path | None = None
    procs: dict = field(default_factory=dict)
    # process name -> (broker user, password): made at the process's first start, kept
    # until stop() deletes the users, so a process started again runs as before.
    users: dict = field(default_factory=dict, init=False, repr=False)
    made: list = field(default_factory=list, init=False)  # the broker users this platform made
    # name -> Popen of a program that serves the platform without being one of its processes
    # (Prometheus, infra/prometheus.py): stopped with them, and not started again if it exits.
    companions: dict = field(default_factory=dict, init=False, repr=False)
    _api: Management | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def names(self):
        """The name of every process of the platform, in the order they start."""
        return [name for name, _, _ in PROCESSES]

    @property
    def vhost(self):
        return _vhost(self.amqp_uri)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.gateway_port}"

    def env(self, name, metrics_port):
        env = dict(os.environ)
        env.pop("BROKER_ADMIN_URI", None)  # only for a process that manages the broker
        env.update({
            "DATA_DIR": str(self.data_dir),
            "GATEWAY_PORT": str(self.gateway_port), "METRICS_PORT": str(metrics_port),
            "JWT_SECRET": jwt_secret(self.data_dir), "PYTHONUNBUFFERED": "1",
            **self.broker_env(name),
        })
        env.update(self.extra_env)
        return env

    def broker_env(self, name):
        """The process's AMQP_URI, naming its own broker user (made now, with a new password,
        if it has none yet), and, for a process in MANAGES_BROKER, BROKER_ADMIN_URI: the
        management API with that user, a broker administrator. Raises RefusedToStart if the
        management API cannot make the user."""
        if name not in self.users:
            user = process_user(_vhost(self.amqp_uri), name)
            password = secrets.token_urlsafe(24)
            if user not in self.made:  # noted first: stop() deletes it however far this got
                self.made.append(user)
            try:
                self._management().put_user(
                    user, password, _vhost(self.amqp_uri),
                    tags=("administrator",) if name in MANAGES_BROKER else ())
            except ManagementUnavailable as error:
                raise _no_management(self.amqp_uri, error) from None
            self.users[name] = (user, password)
        user, password = self.users[name]
        env = {"AMQP_URI": with_credentials(self.amqp_uri, user, password)}
        if name in MANAGES_BROKER:
            env["BROKER_ADMIN_URI"] = with_credentials(management_url(self.amqp_uri), user,
                                                       password)
        return env

    def _management(self):
        if self._api is None:
            self._api = Management.of_broker(self.amqp_uri)
        return self._api

    def start(self, name=None, instance=1):
        """Start every process, or the one named; instance 2, 3... runs another copy of it
        beside the first (as `name#2`), sharing its work."""
        jwt_secret(self.data_dir)  # first: a secret others could read is refused, not tightened
        make_private_dir(self.data_dir)
        for proc_name, module, _ in PROCESSES:
            if name in (None, proc_name):
                key = proc_name if instance == 1 else f"{proc_name}#{instance}"
                env = self.env(proc_name, self.metrics_port(key))
                out = subprocess.DEVNULL
                if self.log_dir is not None:
                    make_private_dir(self.log_dir)
                    out = open_log(self.log_dir / f"{key}.log")
                with stop_deferred():  # a started child is always recorded for stop()
                    self.procs[key] = subprocess.Popen(
                        [sys.executable, "-m", "infra.serve", str(CONFIG), module],
                        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                        process_group=0, umask=PRIVATE_UMASK)
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

    def stop(self, timeout=STOP_GRACE):
        """SIGTERM every process (nameko stops its containers) and companion, and SIGKILL the
        process group of any still running after `timeout` seconds; then delete the broker
        users made for them (those only: another platform's are left alone)."""
        procs = [*self.procs.values(), *self.companions.values()]
        self.companions = {}
        for proc in procs:
            signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(proc, signal.SIGKILL)
                proc.wait()
        self.delete_users()

    def delete_users(self, within=USERS_GRACE):
        """Delete the broker users made for the processes, taking at most `within` seconds;
        one that could not be deleted is named on stderr."""
        names, self.made, self.users = self.made, [], {}
        if not names:
            return
        left = self._management().delete_users(names, within=within)
        if left:
            print(f"infra.launch: could not delete the broker users {', '.join(left)}; "
                  "delete each with: rabbitmqctl delete_user NAME", file=sys.stderr, flush=True)

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


# --- the command --------------------------------------------------------------------------


def _port(value):
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a port (0 picks a free one)")
    return port


def parse_args(argv):
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=env("DATA_DIR") or str(ROOT / "data"),
                        help="databases, logs and the JWT secret (DATA_DIR; default data/)")
    parser.add_argument("--port", type=_port, default=env("GATEWAY_PORT") or 8000,
                        help="the gateway's HTTP port (GATEWAY_PORT; default 8000; 0: free)")
    parser.add_argument("--metrics-port", type=_port, default=env("METRICS_BASE_PORT") or 9100,
                        help="metrics of the gateway; the registry and dispatch use the next "
                             "two (METRICS_BASE_PORT; default 9100; 0: free)")
    parser.add_argument("--vhost", default=env("AMQP_VHOST") or None,
                        help="the broker vhost, made if missing (AMQP_VHOST; default: that of "
                             "AMQP_URI); a second platform on one broker needs its own")
    parser.add_argument("--no-demo", action="store_true", help="do not load the demo county")
    parser.add_argument("--prometheus-port", type=_port, default=env("PROMETHEUS_PORT") or 0,
                        help="Prometheus's HTTP port, when prometheus is installed "
                             "(PROMETHEUS_PORT; default 0: a free one)")
    parser.add_argument("--no-prometheus", action="store_true",
                        help="do not run Prometheus beside the platform")
    return parser.parse_args(argv)


def prepare(args):
    """The platform to run, after every check that can refuse it: the secret, the ports, the
    broker. Raises RefusedToStart or WeakSecret."""
    os.umask(PRIVATE_UMASK)  # the launcher's own files and every child's are private
    data_dir = Path(args.data_dir).absolute()
    jwt_secret(data_dir)  # first: a secret others could read is refused, not tightened
    make_private_dir(data_dir)
    gateway_port = args.port or free_port()
    metrics_base = args.metrics_port or free_port(span=len(PROCESSES))
    ports = [("the gateway", gateway_port)] + [
        (f"{name} metrics", metrics_base + offset) for name, _, offset in PROCESSES]
    if args.prometheus_port and not args.no_prometheus:
        ports.append(("Prometheus", args.prometheus_port))
    for what, port in ports:
        if _in_use(port):
            raise RefusedToStart(f"port {port} ({what}) is in use, perhaps by another platform; "
                                 "choose others with --port, --metrics-port and "
                                 "--prometheus-port (or GATEWAY_PORT, METRICS_BASE_PORT and "
                                 "PROMETHEUS_PORT), or 0 for free ones")
    amqp_uri = os.environ.get("AMQP_URI") or "amqp://guest:guest@localhost:5672/"
    if args.vhost:
        amqp_uri = with_vhost(amqp_uri, args.vhost)
        ensure_vhost(amqp_uri)
    check_broker_free(amqp_uri)
    check_management(amqp_uri)
    return Platform(data_dir, gateway_port, metrics_base, amqp_uri=amqp_uri,
                    log_dir=data_dir / "logs")


@contextmanager
def demo_platform(root, name, env=None):
    """The whole platform, one process per service, on a vhost of its own (`name-...`), a data
    folder under `root`, free ports and the embedded store, with the demo county loaded;
    stopped, and its vhost deleted, on the way out."""
    from .load_demo import load_demo

    vhost = create_vhost(name)
    platform = Platform(root / "data", free_port(), free_port(span=13),
                        amqp_uri=f"amqp://guest:guest@localhost:5672/{vhost}",
                        extra_env={"MONGO_URI": "", **(env or {})}, log_dir=root / "logs")
    try:
        platform.start()
        platform.wait_ready(timeout=60)
        load_demo(platform.amqp_uri)
        yield platform
    finally:
        platform.stop()
        delete_vhost(vhost)


def main(argv=None):
    args = parse_args(argv)
    stop_on_signals()
    try:
        platform = prepare(args)
    except (RefusedToStart, WeakSecret) as error:
        sys.exit(f"infra.launch: not started: {error}")
    except Stopping:
        return

    from . import prometheus
    from .load_demo import load_demo
    from .retire import retire_queues

    failed = None
    monitor = None
    try:
        moved = retire_queues(platform.amqp_uri, queue_type=os.environ.get("QUEUE_TYPE"))
        if moved:
            print(f"Moved {moved} messages from retired queues.")
        platform.start()
        if not args.no_prometheus and prometheus.installed():
            monitor = prometheus.Prometheus(platform, port=args.prometheus_port).start()
        platform.wait_ready()
        if not args.no_demo:
            print(load_demo(platform.amqp_uri))
        rules = TokenRules.from_config({**os.environ, "JWT_SECRET": jwt_secret(platform.data_dir)})
        token = rules.issue("supervisor", "launcher:demo-supervisor")
        print(f"\nGateway:   {platform.url}/v1   (API document: {platform.url}/v1/openapi.json)")
        print("Metrics:   " + ", ".join(platform.metrics_url(n) for n, _, _ in PROCESSES))
        if monitor is not None and monitor.wait_ready(timeout=15):
            print(f"Prometheus: {monitor.url}   (active alerts: {monitor.url}/api/v1/alerts; "
                  "rules in infra/prometheus/rules.yml)")
        elif monitor is not None:
            print(f"Prometheus: did not start; see {platform.log_dir / 'prometheus.log'}")
            monitor = None
        elif not args.no_prometheus:
            print("Prometheus: not started: prometheus is not installed (infra/setup "
                  "installs it)")
        print(f"Broker:    {broker_name(platform.amqp_uri)}")
        print(f"Data:      {platform.data_dir}   (logs in {platform.log_dir})")
        print(f"Supervisor token (8 h):\n{token}\n")
        print(f"Try: curl -H 'Authorization: Bearer <token>' {platform.url}/v1/coverage")
        print("Ctrl-C stops every process.", flush=True)
        while True:
            time.sleep(0.5)
            if monitor is not None and monitor.proc.poll() is not None:
                print(f"prometheus exited with {monitor.proc.returncode}; see "
                      f"{platform.log_dir / 'prometheus.log'}", flush=True)
                platform.companions.pop(prometheus.NAME, None)
                monitor = None
            for key, proc in list(platform.procs.items()):
                if proc.poll() is not None:
                    print(f"{key} exited with {proc.returncode}; starting it again", flush=True)
                    name, _, instance = key.partition("#")
                    platform.start(name, int(instance or 1))
    except Stopping:
        pass
    except RefusedToStart as error:  # the management API went away since prepare()
        failed = f"infra.launch: {error}"
    except RuntimeError as error:  # a process that cannot start: its log says why
        failed = f"infra.launch: {error}; see {platform.log_dir}"
    finally:
        ignore_signals()
        print("stopping...", flush=True)
        platform.stop()
        print("stopped", flush=True)
    if failed:
        sys.exit(failed)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # before the launcher's own handler was set: nothing started
        sys.exit(130)
