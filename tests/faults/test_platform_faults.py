"""The whole platform under faults while work goes on.

One platform (the demo county, a vhost of its own, acknowledgement windows of seconds, the
top of the ladder paged once) takes in about 1,000 incidents over HTTP at a steady rate from
a pool of threads, each with an Idempotency-Key and sent again with it after a 503, a claim
still leased (409) or no answer. Every fifth is acknowledged by whoever is paged and closed,
which makes a rating invitation, and some of those are rated by their enterprise; disputes
come in beside them; an agency's subscription to `incident.reported` is read all along with
the agency's own broker user. The rest are never acknowledged: their deadlines fail over and
escalate up the ladder to the top, where they are flagged, so deadlines are always pending.

Meanwhile, in turn: kill -9 of the gateway, enterprise, dispatch, mediation, appraisal, feeds
and field work, each started again at once, then a broker restart (stop_app, a few seconds down,
start_app). After each, the time from the restart until the platform serves again (the
gateway's /readyz is 200, and the restarted service, every one after the broker, answers its
RPC ping and a cheap read through the gateway) is kept and printed in a table. No test fails
on a time; a fault after which the platform does not serve within READY_TIMEOUT fails.

Then the checks, each its own test on the one run: no case lost (every incident and dispute
answered 201 is listed with its id, one per key), no page doubled, every deadline fired
once, every closed case invited once, the agency received every incident made, and the work
report counted every incident once.
"""
import shutil
import threading
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from gateway.auth import issue_token
from infra.launch import demo_platform, jwt_secret

from .support import (NO_ANSWER, SERVICES, SUMMARY, Client, Reader, declare_observer,
                      restart_broker, time_to_ready, vhost_of, wait_for)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.faults,
    pytest.mark.skipif(shutil.which("rabbitmqctl") is None,
                       reason="rabbitmqctl is not installed: the broker cannot be restarted"),
]

COUNT = 1000            # incidents taken in
RATE = 10               # a second, on schedule whatever the answers
SENDERS = 32            # threads sending them
CLOSE_EVERY = 5         # every fifth is acknowledged and closed (priority medium)
RATE_EVERY = 2          # and every second of those rated by its enterprise
WINDOWS = {"ACK_WINDOW_HIGH": "3", "ACK_WINDOW_LOW": "6", "ACK_WINDOW_MEDIUM": "10"}
WARM_UP = 8             # seconds of intake before the first fault: deadlines pending
GAP = 4                 # seconds of work between a fault's recovery and the next fault
BROKER_DOWN = 3         # seconds the broker stays stopped
READY_TIMEOUT = 120     # a fault the platform does not recover from within this fails
SETTLE_TIMEOUT = 240    # for every ladder to reach its end, every invitation, every event
FAULTS = ("gateway", "enterprise", "dispatch", "mediation", "appraisal", "feeds", "fieldwork",
          "broker")
LADDER_KINDS = {"missed": "incident.page_missed", "failover": "incident.failed_over",
                "escalation": "incident.escalated", "flagged": "incident.flagged_unacknowledged"}
CLOSED = ("resolved", "referred", "cancelled")
AGENCY = "fault_watch"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with demo_platform(tmp_path_factory.mktemp("faults"), "faults",
                       {"RPC_TIMEOUT": "3", "TOP_REPEATS": "0", **WINDOWS}) as platform:
        yield platform


class Tokens:
    def __init__(self, platform):
        self.secret = jwt_secret(platform.data_dir)
        self.supervisor = issue_token(self.secret, "supervisor", "faults-supervisor")
        self.admin = issue_token(self.secret, "admin", "faults-admin")
        self.mediator = issue_token(self.secret, "mediator", "faults-mediator")
        self.cache = {}

    def officer(self, officer_id):
        key = ("officer", officer_id)
        if key not in self.cache:
            self.cache[key] = issue_token(self.secret, "officer", f"faults-{officer_id}",
                                          officer_id=officer_id)
        return self.cache[key]

    def enterprise(self, enterprise_id):
        key = ("enterprise", enterprise_id)
        if key not in self.cache:
            self.cache[key] = issue_token(self.secret, "enterprise", f"faults-{enterprise_id}",
                                          enterprise_id=enterprise_id)
        return self.cache[key]


def full_ladders(client, tokens):
    """Enterprises whose A, B, station leader and bureau leader are all there today, with a
    duty officer: each unacknowledged incident of theirs climbs all four steps."""
    found = []
    for enterprise in client.listing("/v1/enterprises", tokens.supervisor, per_page=100):
        status, responders, _ = client.insist(
            "GET", f"/v1/enterprises/{enterprise['id']}/responders", tokens.supervisor)
        assert status == 200, responders
        seats = {s["seat"]: s for s in responders["seats"]}
        if all(seats.get(k) and seats[k]["available"] for k in (
                "a_officer", "b_officer", "station_leader", "bureau_leader")) \
                and responders["duty_officer"]:
            found.append(enterprise["id"])
    assert len(found) >= 10, found
    return found


def dispute_body(enterprise_id, n, run):
    return {"enterprise_id": enterprise_id, "kind": "wage_arrears",
            "parties": [{"kind": "workers", "side": "applicant", "name": f"第{n}车间工人",
                         "contact": "13800000000", "headcount": 12},
                        {"kind": "enterprise", "side": "respondent", "name": f"某公司{n}",
                         "id_number": "913304820000000001"}],
            "amount_at_stake": 52000, "description": f"faults {run} dispute {n}"}


class Work:
    """Everything that goes on while the faults happen, and what each part got back."""

    def __init__(self, platform, client, tokens, enterprises):
        self.platform, self.client, self.tokens = platform, client, tokens
        self.enterprises = enterprises
        self.run = uuid.uuid4().hex[:8]
        self.incidents = {}     # n -> (key, description, final status, body)
        self.closures = {}      # incident id -> the closed incident, or why not
        self.disputes = []      # (key, description, final status, body)
        self.ratings = {}       # invitation id -> (status, body)
        self.numbers = {}       # incident id -> n
        self.stopping = threading.Event()
        self.senders = ThreadPoolExecutor(SENDERS)
        self.closers = ThreadPoolExecutor(8)
        self.intake_done = threading.Event()
        self.threads = []

    # --- incidents ---------------------------------------------------------------------------

    def start(self):
        for target in (self._drive, self._disputes, self._rater):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self.threads.append(thread)

    def _drive(self):
        started = time.monotonic()
        futures = []
        for n in range(COUNT):
            if self.stopping.wait(max(0.0, started + n / RATE - time.monotonic())):
                break
            futures.append(self.senders.submit(self._report, n))
        for future in futures:
            future.result()
        self.intake_done.set()

    def _report(self, n):
        key = f"faults-{self.run}-{n}"
        description = f"faults {self.run} incident {n}"
        closing = n % CLOSE_EVERY == 0
        body = {"enterprise_id": self.enterprises[n % len(self.enterprises)],
                "category": "safety_hazard", "location": "厂区", "description": description,
                "priority": "medium" if closing else ("high" if n % 2 else "low")}
        status, answer, _ = self.client.insist("POST", "/v1/incidents", self.tokens.supervisor,
                                               body, key)
        self.incidents[n] = (key, description, status, answer)
        if status == 201:
            self.numbers[answer["id"]] = n
            if closing:
                self.closers.submit(self._close, answer["id"])

    def _close(self, incident_id):
        """Acknowledge whatever page is current, as its recipient, then resolve: as an officer
        and a supervisor would, whatever the faults answer meanwhile."""
        client, tokens = self.client, self.tokens
        deadline = time.monotonic() + 180
        path = f"/v1/incidents/{incident_id}"
        while time.monotonic() < deadline:
            status, incident, _ = client.insist("GET", path, tokens.supervisor)
            if status != 200:
                self.closures[incident_id] = f"read {status}: {incident}"
                return
            if incident["state"] in CLOSED:
                self.closures[incident_id] = incident
                return
            if incident["state"] in ("acknowledged", "on_scene"):
                client.insist("POST", path + "/transitions", tokens.supervisor,
                              {"state": "resolved"}, key=f"close-{incident_id}")
                continue
            pages = [p for p in incident["notifications"] if p["step"] is not None]
            page = pages[-1]
            client.insist("POST", path + "/acknowledgements",
                          tokens.officer(page["recipient"]["id"]),
                          {"notification_id": page["id"]}, key=f"ack-{page['id']}")
            time.sleep(0.2)
        self.closures[incident_id] = "not closed within 180 s"

    # --- disputes and ratings ------------------------------------------------------------------

    def _disputes(self):
        n = 0
        while not self.stopping.is_set():
            key = f"faults-{self.run}-d{n}"
            body = dispute_body(self.enterprises[n % len(self.enterprises)], n, self.run)
            status, answer, _ = self.client.insist("POST", "/v1/disputes", self.tokens.mediator,
                                                   body, key)
            self.disputes.append((key, body["description"], status, answer))
            n += 1
            self.stopping.wait(1.0)

    def rate_once(self):
        """Rate, as its enterprise, the officer of every invitation of ours that should be
        rated and was not yet."""
        for invitation in self.client.listing("/v1/appraisal/invitations",
                                              self.tokens.supervisor):
            n = self.numbers.get(invitation["case_id"])
            if n is None or (n // CLOSE_EVERY) % RATE_EVERY or invitation["id"] in self.ratings:
                continue
            status, answer, _ = self.client.insist(
                "POST", f"/v1/appraisal/invitations/{invitation['id']}/ratings",
                self.tokens.enterprise(invitation["enterprise_id"]),
                {"officer_id": invitation["officer_ids"][0], "score": 4, "satisfied": True},
                key=f"rate-{invitation['id']}")
            self.ratings[invitation["id"]] = (status, answer)

    def _rater(self):
        while not self.stopping.is_set():
            self.rate_once()
            self.stopping.wait(2.0)

    def finish(self):
        """Wait for the intake and the closures, then stop the disputes and the rater."""
        assert self.intake_done.wait(COUNT / RATE + 600), "the intake did not finish"
        self.senders.shutdown(wait=True)
        self.closers.shutdown(wait=True)
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=240)


def inflict(platform, probe, tokens, fault):
    """One fault; returns (moment of the fault, moment of the restart, seconds from the
    restart until the platform serves again, or None)."""
    struck = time.monotonic()
    if fault == "broker":
        restarted = restart_broker(BROKER_DOWN)
        services = SERVICES  # every one had to find the broker again
    else:
        platform.kill(fault)  # SIGKILL
        platform.start(fault)
        restarted = time.monotonic()
        # a new gateway: its readiness, and a read through it
        services = ("enterprise",) if fault == "gateway" else (fault,)
    ready = time_to_ready(platform, probe, tokens.admin, services, restarted, READY_TIMEOUT)
    return struck, restarted, ready


def table(rows):
    """`restart at`: seconds from the fault to the restart (the kill and start; the broker's
    stop_app, its time down, to start_app); `ready after`: from the restart until the platform
    served again; `calls retried`: the work's calls answered 503, 409 or nothing meanwhile."""
    lines = ["", "time to ready after each fault (from the restart)",
             f"{'fault':<12}{'restart at s':>14}{'ready after s':>15}{'calls retried':>15}"]
    for fault, down, ready, retried in rows:
        shown = f"{ready:.2f}" if ready is not None else "never"
        lines.append(f"{fault:<12}{down:>14.2f}{shown:>15}{retried:>15}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def run(platform):
    """The workload with every fault, once; what it saw, for the checks below."""
    client = Client(platform.url)
    tokens = Tokens(platform)
    enterprises = full_ladders(client, tokens)

    status, subscription, _ = client.insist("POST", "/v1/subscriptions", tokens.admin, {
        "agency": AGENCY, "filters": [{"exact": {"type": "incident.reported"}}]},
        key=f"subscribe-{AGENCY}")
    assert status == 201, subscription
    vhost = vhost_of(platform.amqp_uri)
    agency = Reader(vhost, subscription["credentials"]["username"],
                    subscription["credentials"]["password"],
                    subscription["protocolsettings"]["queue"])
    observer = Reader(vhost, "guest", "guest", declare_observer(
        platform.amqp_uri, "dispatch.events", ["incident.#", "notification.issued"]))

    work = Work(platform, client, tokens, enterprises)
    work.start()
    probe = Client(platform.url)  # the readiness probe's calls are not the work's
    rows = []
    try:
        time.sleep(WARM_UP)
        for fault in FAULTS:
            struck, restarted, ready = inflict(platform, probe, tokens, fault)
            until = restarted + (ready if ready is not None else READY_TIMEOUT)
            with client.lock:
                retried = sum(1 for at, _, _, status in client.attempts
                              if struck <= at <= until + 1
                              and (status == NO_ANSWER or status in (409, 502, 503, 504)))
            rows.append((fault, restarted - struck, ready, retried))
            if ready is None:
                break
            time.sleep(GAP)
        SUMMARY[:] = table(rows).splitlines()
        print(table(rows), flush=True)
        if rows[-1][2] is None:  # the platform is gone: report that, check nothing more
            client.abandoned.set()
            yield {"rows": rows, "alive": {n: p.poll() for n, p in platform.procs.items()}}
            return
        work.finish()

        made = {n: answer["id"] for n, (_, _, status, answer) in work.incidents.items()
                if status == 201}
        ours = set(made.values())

        def ours_listed():
            return [i for i in client.listing("/v1/incidents", tokens.supervisor)
                    if i["id"] in ours]

        def settled(incident):
            return incident["state"] in CLOSED or incident["unacknowledged"]

        settle = {}

        def all_settled():
            settle["incidents"] = ours_listed()
            return all(settled(i) for i in settle["incidents"])

        wait_for(all_settled, SETTLE_TIMEOUT, every=3)
        incidents = settle.get("incidents") or ours_listed()

        invited = {f"incident:{i['id']}" for i in incidents
                   if i["state"] in CLOSED and i["acknowledged_by"]}
        wait_for(lambda: invited <= {v["id"] for v in client.listing(
            "/v1/appraisal/invitations", tokens.supervisor)}, 120, every=2)
        work.rate_once()  # the invitations that came in last
        invitations = client.listing("/v1/appraisal/invitations", tokens.supervisor)

        stored_steps = {(i["id"], LADDER_KINDS[a["kind"]], a["detail"])
                        for i in incidents for a in i["audit"] if a["kind"] in LADDER_KINDS}
        stored_pages = {p["id"] for i in incidents for p in i["notifications"]}

        def observed(envelopes):
            steps = {(e["data"]["incident_id"], e["type"], e["data"]["detail"])
                     for e in envelopes if e["type"] in LADDER_KINDS.values()}
            pages = {e["data"]["notification_id"] for e in envelopes
                     if e["type"] == "notification.issued"}
            return stored_steps <= steps and stored_pages <= pages

        observer.wait(observed, 120)
        agency.wait(lambda got: ours <= {e["data"]["incident_id"] for e in got}, 120)
        time.sleep(2)  # anything repeated still on its way
        disputes = client.listing("/v1/disputes", tokens.supervisor)
        every_incident = client.listing("/v1/incidents", tokens.supervisor)
        today = datetime.now(timezone.utc).date()
        period = (f"/v1/work-report?area_kind=county&start={today - timedelta(days=1)}"
                  f"&end={today + timedelta(days=1)}")
        counted = {}

        def report_caught_up():
            status, body, _ = client.insist("GET", period, tokens.supervisor)
            counted.update(body.get("figures", {}) if status == 200 else {})
            return counted.get("incidents") == len(every_incident)

        wait_for(report_caught_up, 120, every=2)
        time.sleep(2)  # anything counted twice would show by now
        report_caught_up()
        alive = {name: proc.poll() for name, proc in platform.procs.items()}
        yield {"rows": rows, "work": work, "made": made, "incidents": incidents,
               "invitations": invitations, "disputes": disputes, "alive": alive,
               "every_incident": every_incident, "report": counted,
               "events": observer.snapshot(), "feed": agency.snapshot(),
               "reconnects": (observer.reconnects, agency.reconnects)}
    finally:
        work.stopping.set()
        agency.close()
        observer.close()


# --- the checks ------------------------------------------------------------------------------


@pytest.fixture
def finished(run):
    """The run, when the platform recovered from every fault (else there is nothing to
    check: the first test says which fault it did not recover from)."""
    if "incidents" not in run:
        pytest.fail(f"the platform did not recover from the {run['rows'][-1][0]} fault")
    return run


def test_every_fault_is_recovered_from_while_work_goes_on(run):
    assert [fault for fault, *_ in run["rows"]] == list(FAULTS), \
        f"stopped after {run['rows'][-1][0]}: it never became ready again"
    never = [fault for fault, _, ready, _ in run["rows"] if ready is None]
    assert not never, f"not ready within {READY_TIMEOUT}s after: {never}"
    assert all(code is None for code in run["alive"].values()), run["alive"]
    # The faults were felt: someone was answered 503 or nothing while they lasted.
    assert sum(retried for *_, retried in run["rows"]) > 0


def test_no_case_lost(finished):
    run = finished
    work, incidents = run["work"], run["incidents"]
    answers = Counter(status for _, _, status, _ in work.incidents.values())
    assert len(work.incidents) == COUNT and answers == {201: COUNT}, answers
    listed = {i["id"]: i for i in incidents}
    assert set(run["made"].values()) == set(listed), "an incident answered 201 is not listed"
    by_description = Counter(i["description"] for i in incidents)
    assert set(by_description.values()) == {1}, "a report made two incidents"
    for n, (_, description, _, answer) in work.incidents.items():
        assert listed[answer["id"]]["description"] == description

    disputes = work.disputes
    assert len(disputes) >= 20 and {status for _, _, status, _ in disputes} == {201}, \
        Counter(status for _, _, status, _ in disputes)
    stored = {d["id"]: d for d in run["disputes"]
              if d["description"].startswith(f"faults {work.run} dispute ")}
    assert {answer["id"] for *_, answer in disputes} == set(stored)
    assert len({d["description"] for d in stored.values()}) == len(disputes)


def test_no_page_doubled(finished):
    run = finished
    ours = {i["id"] for i in run["incidents"]}
    for incident in run["incidents"]:
        pages = Counter((p["recipient"]["id"], p["reason"], p["step"])
                        for p in incident["notifications"])
        assert set(pages.values()) == {1}, (incident["id"], pages)
    envelopes = defaultdict(set)  # a page published again keeps its envelope id
    for event in run["events"]:
        if event["type"] == "notification.issued" and event["data"]["incident_id"] in ours:
            envelopes[event["data"]["notification_id"]].add(event["id"])
    written_twice = {page: ids for page, ids in envelopes.items() if len(ids) > 1}
    assert written_twice == {}, ("the same page written twice", written_twice)
    stored = {p["id"] for i in run["incidents"] for p in i["notifications"]}
    assert set(envelopes) == stored, "a page published that the store does not hold, or not"


def test_every_deadline_fired_once(finished):
    run = finished
    unsettled = [i["id"] for i in run["incidents"]
                 if not (i["state"] in CLOSED or i["unacknowledged"])]
    assert not unsettled, f"{len(unsettled)} ladders did not reach their end"
    for incident in run["incidents"]:
        steps = Counter((a["kind"], a["detail"]) for a in incident["audit"]
                        if a["kind"] in LADDER_KINDS)
        assert all(n == 1 for n in steps.values()), (incident["id"], steps)
        if incident["unacknowledged"]:  # the whole ladder, each step once
            kinds = Counter(kind for kind, _ in steps.elements())
            assert kinds == {"missed": 4, "failover": 1, "escalation": 2, "flagged": 1}, \
                (incident["id"], kinds)
    flagged = sum(i["unacknowledged"] for i in run["incidents"])
    assert flagged >= COUNT // 2, "too few ladders ran to the top to say much"

    ours = {i["id"] for i in run["incidents"]}
    fired = defaultdict(set)  # (incident, type, step) -> envelope ids
    for event in run["events"]:
        if event["type"] in LADDER_KINDS.values() and event["data"]["incident_id"] in ours:
            fired[(event["data"]["incident_id"], event["type"], event["data"]["detail"])].add(
                event["id"])
    twice = {step: ids for step, ids in fired.items() if len(ids) > 1}
    assert twice == {}, ("a deadline fired twice", list(twice.items())[:5])
    stored = {(i["id"], LADDER_KINDS[a["kind"]], a["detail"])
              for i in run["incidents"] for a in i["audit"] if a["kind"] in LADDER_KINDS}
    assert set(fired) == stored


def test_every_closed_case_got_exactly_one_invitation(finished):
    run = finished
    work = run["work"]
    closing = [i for i in run["incidents"] if run["work"].numbers[i["id"]] % CLOSE_EVERY == 0]
    not_closed = {k: v for k, v in work.closures.items() if not isinstance(v, dict)}
    assert not not_closed and len(work.closures) == len(closing), not_closed
    closed = [i for i in run["incidents"] if i["state"] in CLOSED]
    assert {i["id"] for i in closed} == {i["id"] for i in closing}
    invitations = Counter(v["id"] for v in run["invitations"])
    assert set(invitations.values()) <= {1}, "an invitation listed twice"
    expected = {f"incident:{i['id']}" for i in closed if i["acknowledged_by"]}
    ours = {v for v in invitations if v.split(":", 1)[1] in work.numbers}
    assert ours == expected, (len(expected - ours), len(ours - expected))
    assert len(expected) >= len(closed) * 0.9, "most closed cases were acknowledged first"

    rated = {v["id"]: v for v in run["invitations"] if v["id"] in work.ratings}
    # a rating whose answer a killed gateway cut off, run again, is ALREADY_RATED
    statuses = Counter(status if status != 409 else answer["error"]
                       for status, answer in work.ratings.values())
    assert set(statuses) <= {200, 201, "ALREADY_RATED"} and rated, statuses
    for invitation in rated.values():
        assert [r["score"] for r in invitation["ratings"]] == [4], invitation


def test_the_agency_received_every_incident_reported(finished):
    run = finished
    ours = {i["id"] for i in run["incidents"]}
    received = defaultdict(set)  # incident -> {(envelope id, sequence)}
    for envelope in run["feed"]:
        assert envelope["type"] == "incident.reported", envelope["type"]
        received[envelope["data"]["incident_id"]].add((envelope["id"], envelope["sequence"]))
    missing = ours - set(received)
    assert not missing, f"{len(missing)} incidents never reached the agency"
    different = {i: seen for i, seen in received.items() if i in ours and len(seen) > 1}
    assert different == {}, ("an incident's report delivered as two events",
                             list(different.items())[:5])
    repeats = len(run["feed"]) - len({e["id"] for e in run["feed"]})
    print(f"\nagency: {len(run['feed'])} deliveries, {repeats} repeated (same id and "
          f"sequence); readers reconnected {run['reconnects']}")


def test_the_work_report_counted_every_incident_once(finished):
    """The report's read model took in every incident through every fault (its own kill -9
    and the broker's restart among them) and counted none twice."""
    run = finished
    reported = len(run["every_incident"])
    assert run["report"].get("incidents") == reported, (run["report"].get("incidents"),
                                                       reported)
