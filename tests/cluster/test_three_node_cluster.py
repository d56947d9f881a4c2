"""The platform on a three-node RabbitMQ cluster with quorum queues (QUEUE_TYPE=quorum): one
node dies while work goes through, and nothing accepted is lost.

The cluster is the test's own (tests/cluster/local_rabbit.py): three nodes of the installed
rabbitmq-server beside the shared broker, on their own ports, joined to the first. The whole
platform runs on it (one process per service, connected to the first node, the launcher's
management calls on the first node's API), with the demo county and an agency subscribed to
`incident.reported`. The leaders of the quorum queues are spread over the nodes
(`rabbitmq-queues rebalance quorum`), and the node other than the first that leads the most
is killed (SIGKILL: a machine lost, not a polite stop) while

- incidents come in over HTTP (each with its Idempotency-Key; one answered 503 is sent again
  with its key), and
- reports from another system are published, with publisher confirms, on
  `dispatch.incident_reports` (a quorum queue dispatch consumes through kit.reliable).

Then: every queue the dead node led has a new leader on a live node; the node is started
again and every queue has its three members online again; every incident answered 201, and
every report the broker confirmed, is an incident (one per key, one per report); the agency's
quorum queue got each one's `incident.reported`; no dead-letter queue holds anything; and no
process of the platform stopped. Every node started is stopped at the end, whatever happened.
"""
import itertools
import json
import time
import uuid
from functools import partial

import amqp
import eventlet
import pytest
import requests

from contracts.identities import external_incident_id
from gateway.auth import issue_token
from infra.launch import Platform, jwt_secret
from infra.load_demo import load_demo
from infra.sandbox import free_port
from kit.testing import eventually

from .local_rabbit import GUEST, Cluster, missing

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.cluster,
    pytest.mark.skipif(missing() is not None, reason=f"no local RabbitMQ cluster: {missing()}"),
]

VHOST = "liaison-cluster"
AGENCY = "market_regulation"
RPC_TIMEOUT = 5
RATE = 8            # incidents a second over HTTP, and as many reports over AMQP
BEFORE, DOWN, AFTER = 4, 10, 4   # seconds of work before the kill, while down, after restart
SOURCE = "cluster-test"
wait_for = partial(eventually, every=0.5)
# Queues of the platform that are not its own durable queues, and stay what they are.
NOT_OURS = ("rpc-", "rpc.reply-", "dispatch.registry-changes.")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("rabbit"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def platform(cluster, tmp_path_factory):
    first = cluster.first
    for path, body in ((f"vhosts/{VHOST}", None),
                       (f"permissions/{VHOST}/guest",
                        {"configure": ".*", "write": ".*", "read": ".*"})):
        requests.put(f"{first.management}/{path}", auth=GUEST, json=body,
                     timeout=10).raise_for_status()
    root = tmp_path_factory.mktemp("platform")
    with pytest.MonkeyPatch.context() as patch:
        # the launcher makes each process's broker user, and gives feeds BROKER_ADMIN_URI,
        # through the management API RABBIT_MANAGEMENT names: the first node's
        patch.setenv("RABBIT_MANAGEMENT", first.management)
        platform = Platform(root / "data", free_port(), free_port(span=13),
                            amqp_uri=first.amqp_uri(VHOST),
                            extra_env={"QUEUE_TYPE": "quorum", "MONGO_URI": "",
                                       "RPC_TIMEOUT": str(RPC_TIMEOUT),
                                       "RABBIT_MANAGEMENT": first.management},
                            log_dir=root / "logs")
        try:
            platform.start()
            platform.wait_ready(timeout=120)
            assert load_demo(platform.amqp_uri).startswith("Demo county loaded")
            yield platform
        finally:
            platform.stop()


@pytest.fixture(scope="module")
def session(platform):
    session = requests.Session()
    session.headers["Authorization"] = "Bearer " + issue_token(
        jwt_secret(platform.data_dir), "supervisor", "cluster-test-supervisor")
    yield session
    session.close()


def queues(cluster):
    """name -> the first node's view of each queue of the platform's vhost."""
    answer = requests.get(f"{cluster.first.management}/queues/{VHOST}", auth=GUEST,
                          timeout=10, params={"columns": "name,type,arguments,leader,members,"
                                                         "online,node"})
    answer.raise_for_status()
    return {q["name"]: q for q in answer.json()}


def ours(found):
    return {name: q for name, q in found.items()
            if not name.startswith(NOT_OURS) and q["type"] != "stream"}


class Intake:
    """Incidents over HTTP at RATE a second, each with its own Idempotency-Key, in green
    threads, whatever the answers take; `answers` keeps each key's last answer."""

    def __init__(self, platform, session, enterprises):
        self.url = platform.url + "/v1/incidents"
        self.auth = session.headers["Authorization"]
        self.enterprises = enterprises
        self.run = uuid.uuid4().hex[:6]
        self.answers = {}   # key -> (status, body)
        self.accepted = []  # when each 201 came
        self.sent_again = 0
        self.pool = eventlet.GreenPool(1000)
        self.stopping = False
        self.driver = None

    def body(self, n):
        return {"enterprise_id": self.enterprises[n % len(self.enterprises)],
                "category": "other", "priority": "low", "location": "东门",
                "description": f"cluster {self.run} #{n}"}

    def post(self, n):
        key = f"{self.run}-{n}"
        try:
            response = requests.post(self.url, json=self.body(n), timeout=30, headers={
                "Authorization": self.auth, "Idempotency-Key": key})
            self.answers[key] = (response.status_code, response.json())
            if response.status_code == 201:
                self.accepted.append(time.monotonic())
        except (requests.RequestException, ValueError) as error:
            self.answers[key] = (type(error).__name__, None)

    def _drive(self):
        started = time.monotonic()
        for n in itertools.count():
            eventlet.sleep(max(0.0, started + n / RATE - time.monotonic()))
            if self.stopping:
                return
            self.pool.spawn_n(self.post, n)

    def settle(self, timeout=60):
        """Send again, with its key, every report not answered 201, until each is."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pending = [key for key, (status, _) in self.answers.items() if status != 201]
            if not pending:
                return
            for key in pending:
                self.sent_again += 1
                self.post(int(key.rpartition("-")[2]))
            time.sleep(0.5)

    def __enter__(self):
        self.driver = eventlet.spawn(self._drive)
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.driver.wait()
        self.pool.waitall()


class Reports:
    """Reports from another system, published at RATE a second on dispatch's quorum queue
    through the first node, each waiting for the broker's confirm (at most 10 s); one not
    confirmed is sent again (same reference) on a new connection. `confirmed` holds the
    references the broker confirmed."""

    def __init__(self, amqp_uri_parts, enterprises):
        self.host, self.vhost = amqp_uri_parts
        self.enterprises = enterprises
        self.run = uuid.uuid4().hex[:6]
        self.confirmed, self.failures = [], []
        self.confirmed_at = []
        self.stopping = False
        self.thread = None

    def _connect(self):
        connection = amqp.Connection(self.host, userid="guest", password="guest",
                                     virtual_host=self.vhost, connect_timeout=5)
        connection.connect()
        channel = connection.channel()
        channel.confirm_select()
        return connection, channel

    def _drive(self):
        connection, channel = self._connect()
        started = time.monotonic()
        n = 0
        while not self.stopping:
            eventlet.sleep(max(0.0, started + n / RATE - time.monotonic()))
            reference = f"{self.run}-{n}"
            body = {"enterprise_id": self.enterprises[n % len(self.enterprises)],
                    "category": "other", "priority": "low", "location": "西门",
                    "description": f"report {reference}", "source": SOURCE,
                    "reference": reference}
            try:
                channel.basic_publish_confirm(
                    amqp.Message(json.dumps(body), content_type="application/json",
                                 delivery_mode=2),
                    exchange="", routing_key="dispatch.incident_reports", mandatory=True,
                    confirm_timeout=10)
                self.confirmed.append(reference)
                self.confirmed_at.append(time.monotonic())
                n += 1
            except Exception as error:  # noqa: BLE001 - not confirmed: sent again
                self.failures.append(f"{reference}: {type(error).__name__}: {error}")
                try:
                    connection.collect()
                except Exception:  # noqa: BLE001
                    pass
                eventlet.sleep(0.5)
                connection, channel = self._connect()
        connection.close()

    def __enter__(self):
        self.thread = eventlet.spawn(self._drive)
        return self

    def __exit__(self, *exc):
        self.stopping = True
        self.thread.wait()


def incident_of_report(reference):
    return external_incident_id(SOURCE, reference)


def drain_agency_queue(cluster, seen):
    """Take every message in the agency's queue (through the first node) into `seen`:
    incident id -> count of `incident.reported`."""
    connection = amqp.Connection(f"127.0.0.1:{cluster.first.amqp_port}", userid="guest",
                                 password="guest", virtual_host=VHOST, connect_timeout=5)
    connection.connect()
    try:
        channel = connection.channel()
        while (message := channel.basic_get(f"feed.{AGENCY}", no_ack=True)) is not None:
            envelope = json.loads(message.body)
            if envelope["type"] == "incident.reported":
                incident = envelope["data"]["incident_id"]
                seen[incident] = seen.get(incident, 0) + 1
    finally:
        connection.close()
    return seen


def message_count(cluster, queue):
    connection = amqp.Connection(f"127.0.0.1:{cluster.first.amqp_port}", userid="guest",
                                 password="guest", virtual_host=VHOST, connect_timeout=5)
    connection.connect()
    try:
        return connection.channel().queue_declare(queue, passive=True).message_count
    finally:
        connection.close()


def test_a_node_dies_under_load_and_nothing_accepted_is_lost(cluster, platform, session):
    started = time.monotonic()
    nodes = [n.name for n in cluster.nodes]
    assert cluster.running() == sorted(nodes)
    first = cluster.first

    # An agency receives every incident.reported in its own (quorum) queue.
    admin = issue_token(jwt_secret(platform.data_dir), "admin", "cluster-test-admin")
    made = session.post(platform.url + "/v1/subscriptions", timeout=30,
                        headers={"Authorization": f"Bearer {admin}"},
                        json={"agency": AGENCY,
                              "filters": [{"exact": {"type": "incident.reported"}}]})
    assert made.status_code == 201, made.text

    # The platform's own durable queues are quorum queues on all three nodes, with a delivery
    # limit where they feed a consumer; nameko's RPC queues stay classic; the archive a stream.
    found = queues(cluster)
    own = ours(found)
    for name in ("dispatch.incident_reports", "dispatch.incident_reports.dead",
                 "enterprise.file", "appraisal.kpi_events", "mediation.incidents",
                 "feeds.reports", "feeds.reports.dead", f"feed.{AGENCY}",
                 f"feed.{AGENCY}.dead"):
        assert name in own, sorted(found)
    for name, queue in own.items():
        assert queue["type"] == "quorum", (name, queue)
        assert sorted(queue["members"]) == sorted(nodes), (name, queue)
        limit = queue["arguments"].get("x-delivery-limit")
        assert limit == (None if name.endswith(".dead") else 20), (name, queue["arguments"])
    assert found["rpc-dispatch"]["type"] == "classic"
    assert found["feeds.archive"]["type"] == "stream"

    # Leaders spread over the nodes; the victim is the node, not the first, leading most.
    first.ctl("rebalance", "quorum", "--vhost-pattern", f"^{VHOST}$", tool="rabbitmq-queues")
    leaders = wait_for(lambda: {n: q["leader"] for n, q in ours(queues(cluster)).items()
                                if q.get("leader")}, 30)
    counts = {node: sum(leader == node for leader in leaders.values()) for node in nodes[1:]}
    victim = cluster.node(max(counts, key=counts.get))
    led = sorted(name for name, leader in leaders.items() if leader == victim.name)
    assert led, f"no quorum queue is led by a node other than the first: {leaders}"

    enterprises = [e["id"] for e in session.get(platform.url + "/v1/enterprises?per_page=100",
                                                timeout=30).json()["items"]]
    assert enterprises
    with Intake(platform, session, enterprises) as intake, \
            Reports((f"127.0.0.1:{first.amqp_port}", VHOST), enterprises) as reports:
        time.sleep(BEFORE)
        victim.kill()
        killed = time.monotonic()

        def moved():
            now = ours(queues(cluster))
            done = {name: now[name]["leader"] for name in led
                    if now[name].get("leader") not in (None, "", victim.name)
                    and victim.name not in now[name].get("online", [])}
            return done if len(done) == len(led) else None

        new_leaders = wait_for(moved, 60)
        assert new_leaders, f"the queues {victim.name} led have no new leader: " \
                            f"{ {n: ours(queues(cluster))[n] for n in led} }"
        elected = time.monotonic() - killed
        assert set(new_leaders.values()) <= set(nodes) - {victim.name}
        time.sleep(max(0.0, DOWN - (time.monotonic() - killed)))

        restarting = time.monotonic()
        victim.start()
        victim.wait_started(180)
        assert wait_for(lambda: cluster.running() == sorted(nodes), 60)
        time.sleep(AFTER)

    def all_online():
        now = ours(queues(cluster))
        return all(sorted(q.get("online", [])) == sorted(nodes) for q in now.values())

    assert wait_for(all_online, 60), "not every queue has its three members online again"

    # Work went on while the node was down.
    def while_down(times):
        return sum(killed <= t < restarting for t in times)

    assert while_down(intake.accepted) >= DOWN * RATE // 2, intake.accepted
    assert while_down(reports.confirmed_at) >= DOWN * RATE // 2, reports.confirmed_at

    # Every incident accepted over HTTP is there, once per key.
    intake.settle()
    statuses = {key: status for key, (status, _) in intake.answers.items()}
    assert set(statuses.values()) == {201}, {k: s for k, s in statuses.items() if s != 201}
    http_ids = {body["id"] for _, body in intake.answers.values()}
    assert len(http_ids) == len(intake.answers)
    for incident in http_ids:
        answer = session.get(f"{platform.url}/v1/incidents/{incident}", timeout=30)
        assert answer.status_code == 200, (incident, answer.text)

    # Every report the broker confirmed was handled by dispatch's reliable consumer.
    report_ids = {incident_of_report(r) for r in reports.confirmed}

    def missing_reports():
        return [i for i in report_ids
                if session.get(f"{platform.url}/v1/incidents/{i}", timeout=30).status_code
                != 200]

    left = wait_for(lambda: not missing_reports(), 90, every=2)
    assert left, f"reports confirmed but never made incidents: {missing_reports()}"
    assert wait_for(lambda: message_count(cluster, "dispatch.incident_reports") == 0, 60)

    # The agency's quorum queue got every one of them.
    seen = {}
    wanted = http_ids | report_ids
    assert wait_for(lambda: wanted <= set(drain_agency_queue(cluster, seen)), 90, every=2), \
        f"{len(wanted - set(seen))} incidents never reached the agency"

    # Nothing was dead-lettered (refused, or given up after the delivery limit).
    dead = {name: message_count(cluster, name) for name in ours(queues(cluster))
            if name.endswith(".dead")}
    assert not any(dead.values()), dead
    assert all(proc.poll() is None for proc in platform.procs.values())

    print(f"\ncluster: {len(nodes)} nodes; killed {victim.name}, the leader of {len(led)} of "
          f"{len(leaders)} quorum queues; new leaders within {elected:.1f}s on "
          f"{sorted(set(new_leaders.values()))}; {len(http_ids)} incidents over HTTP "
          f"({while_down(intake.accepted)} while the node was down, {intake.sent_again} sent "
          f"again after a 503); {len(report_ids)} confirmed reports "
          f"({while_down(reports.confirmed_at)} while down, {len(reports.failures)} publishes "
          f"sent again); all {len(wanted)} reached the agency; nothing dead-lettered; "
          f"{time.monotonic() - started:.0f}s")
