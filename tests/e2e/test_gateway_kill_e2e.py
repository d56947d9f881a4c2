"""A gateway killed (-9) mid-request under intake at 20 reports/s, and started again: every
answer is 201 or 503 (a request the kill cut off, or sent while no gateway listened, gets no
answer at all), no other process exits, and every report that got no 201, retried with its
Idempotency-Key, ends with exactly one incident; a report that got its 201 gets the same
incident again.

A claim the killed gateway left on a key is taken over once its lease has run out; until
then a retry gets 409, which the client here answers by trying again a little later.
"""
import signal
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from gateway.auth import issue_token
from infra.launch import demo_platform, jwt_secret

pytestmark = pytest.mark.e2e

RATE = 20  # reports per second, sent on schedule whatever the answers
SECONDS = 10
KILL_AFTER = 3  # seconds into the intake
HTTP_TIMEOUT = 15
RETRY_FOR = 60  # seconds a retry may keep meeting 409 (a claim's lease) or 503
NO_ANSWER = "no answer"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    with demo_platform(tmp_path_factory.mktemp("gateway-kill"), "e2e-gateway-kill",
                       {"RPC_TIMEOUT": "2"}) as platform:
        yield platform


class Intake:
    """Reports sent on a fixed schedule from a pool of threads, each with its own key; what
    each got back (status and body, or NO_ANSWER), and how many are in flight now."""

    def __init__(self, url, token):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}
        self.in_flight = 0
        self.lock = threading.Lock()

    def post(self, report, timeout=HTTP_TIMEOUT):
        key, body = report
        with self.lock:
            self.in_flight += 1
        try:
            response = requests.post(self.url + "/v1/incidents", json=body, timeout=timeout,
                                     headers=dict(self.headers, **{"Idempotency-Key": key}))
        except requests.ConnectionError:  # refused, or cut off by the kill
            return NO_ANSWER, None
        finally:
            with self.lock:
                self.in_flight -= 1
        return response.status_code, response.json()

    def on_schedule(self, reports, start):
        def send(indexed):
            index, report = indexed
            time.sleep(max(0.0, start + index / RATE - time.monotonic()))
            return self.post(report)

        with ThreadPoolExecutor(16) as pool:
            return list(pool.map(send, enumerate(reports)))


def _kill_mid_request(platform, intake, timeout=1.5):
    """Kill the gateway with reports in flight inside it, then start it again at once.
    Dispatch is paused (SIGSTOP, not stopped) meanwhile, so the reports that reach the
    gateway claim their keys and wait for dispatch: they are cut off after their claim and,
    once dispatch resumes, after their incident was made. Returns how many were in flight."""
    dispatch = platform.procs["dispatch"]
    dispatch.send_signal(signal.SIGSTOP)
    try:
        deadline = time.monotonic() + timeout  # under RPC_TIMEOUT: none has had its 503 yet
        while intake.in_flight < 3 and time.monotonic() < deadline:
            time.sleep(0.001)
        in_flight = intake.in_flight
        platform.kill("gateway")
    finally:
        dispatch.send_signal(signal.SIGCONT)
    platform.start("gateway")
    return in_flight


def _retry_until_settled(intake, report):
    """The retry's answer once it is neither 409 (another gateway's claim still leased) nor
    503 nor no answer, or the last one after RETRY_FOR seconds; and how many 409s it met."""
    deadline = time.monotonic() + RETRY_FOR
    conflicts = 0
    while True:
        status, body = intake.post(report)
        conflicts += status == 409
        if status not in (409, 503, NO_ANSWER) or time.monotonic() > deadline:
            return status, body, conflicts
        time.sleep(0.5)


def test_a_gateway_killed_mid_request_leaves_every_report_one_incident(platform):
    token = issue_token(jwt_secret(platform.data_dir), "supervisor", "e2e-gateway-kill")
    intake = Intake(platform.url, token)
    enterprises = [e["id"] for e in requests.get(
        platform.url + "/v1/enterprises?per_page=100", headers=intake.headers,
        timeout=30).json()["items"]]
    run = uuid.uuid4().hex[:8]
    reports = [(f"kill-{run}-{i}", {"enterprise_id": enterprises[i % len(enterprises)],
                                    "category": "safety_hazard", "priority": "low",
                                    "description": f"kill {run} {i}", "location": "厂区"})
               for i in range(RATE * SECONDS)]
    others = {name: platform.procs[name] for name in ("enterprise", "dispatch")}

    start = time.monotonic() + 0.5
    with ThreadPoolExecutor(1) as runner:
        sent = runner.submit(intake.on_schedule, reports, start)
        time.sleep(max(0.0, start + KILL_AFTER - time.monotonic()))
        in_flight = _kill_mid_request(platform, intake)
        first = sent.result()

    answers = Counter(status for status, _ in first)
    print(f"\n{len(reports)} reports at {RATE}/s, gateway killed with {in_flight} in flight: "
          f"{dict(answers)}")
    assert set(answers) <= {201, 503, NO_ANSWER}, answers
    assert answers[NO_ANSWER] >= 1, "the kill cut nothing off and no report met the gap"
    assert {name: proc.poll() for name, proc in others.items()} == \
        {"enterprise": None, "dispatch": None}, "another process exited"
    platform.wait_ready(timeout=60)

    retried = [_retry_until_settled(intake, report) for report in reports]
    conflicts = sum(c for _, _, c in retried)
    print(f"retries: {dict(Counter(s for s, _, _ in retried))}, "
          f"{conflicts} met a claim still leased (409) first")
    assert [s for s, _, _ in retried] == [201] * len(reports)
    for (status, body), (_, again, _) in zip(first, retried):
        if status == 201:
            assert again["id"] == body["id"]

    incidents = []
    page = 1
    while True:
        listing = requests.get(f"{platform.url}/v1/incidents?per_page=500&page={page}",
                               headers=intake.headers, timeout=30).json()
        incidents += [i for i in listing["items"] if i["description"].startswith(f"kill {run} ")]
        if page * listing["per_page"] >= listing["total"]:
            break
        page += 1
    per_report = Counter(i["description"] for i in incidents)
    assert per_report == Counter(body["description"] for _, body in reports)
    ids = {i["description"]: i["id"] for i in incidents}
    assert [ids[body["description"]] for _, body in reports] == [a["id"] for _, a, _ in retried]
    assert {name: proc.poll() for name, proc in others.items()} == \
        {"enterprise": None, "dispatch": None}, "another process exited"
