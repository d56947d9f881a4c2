"""Agency feeds on the real platform, with real per-agency broker users: what an agency's user
may and may not do, what reaches it of the demo county's events, replay, deletion, and the
feeds process stopped and killed."""
import json
import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, unquote

import amqp
import pytest
from amqp.exceptions import AccessRefused, NotAllowed, PreconditionFailed

from contracts import topology
from contracts.events import EVENT_SCHEMAS

PHONE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# a resident ID number: area, birth date, sequence, check digit (an enterprise's credit code,
# also 18 characters, is an organisation's public registration, not a person's)
ID_NUMBER = re.compile(r"(?<!\d)\d{6}(19|20)\d{2}(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])\d{3}"
                       r"[\dXx](?![\dA-Za-z])")
# every catalogued type, by the prefixes of their names (a new service's types included)
ALL_TYPES = [{"prefix": {"type": p}}
             for p in sorted({t.split(".")[0] + "." for t in EVENT_SCHEMAS})]


def _vhost(platform):
    return unquote(urlsplit(platform.amqp_uri).path[1:])


def connect(platform, credentials):
    connection = amqp.Connection("localhost:5672", userid=credentials["username"],
                                 password=credentials["password"],
                                 virtual_host=_vhost(platform), connect_timeout=5)
    connection.connect()
    return connection


def drain(connection, queue, until=None, timeout=20.0, quiet=1.0):
    """Messages taken from `queue` as (envelope, headers): until `until(received)` holds,
    or nothing came for `quiet` seconds (and at most `timeout`)."""
    channel = connection.channel()
    channel.basic_qos(0, 200, False)
    received = []

    def take(message):
        received.append((json.loads(message.body), message.headers or {}))
        channel.basic_ack(message.delivery_tag)

    tag = channel.basic_consume(queue, callback=take)
    deadline = time.monotonic() + timeout
    last = time.monotonic()
    while time.monotonic() < deadline:
        if until is not None and until(received):
            break
        try:
            connection.drain_events(timeout=0.2)
            last = time.monotonic()
        except TimeoutError:
            if until is None and time.monotonic() - last > quiet:
                break
    channel.basic_cancel(tag)
    channel.close()
    return received


@pytest.fixture(scope="module")
def admin(token):
    return token("admin", sub="e2e-feeds-admin")


@pytest.fixture(scope="module")
def subscribe(api, admin):
    made = []

    def make(agency, filters=ALL_TYPES, purpose=None, expect=201):
        answer = api("POST", "/v1/subscriptions", admin,
                     json={"agency": agency, "filters": filters,
                           **({"purpose": purpose} if purpose else {})})
        assert answer.status_code == expect, answer.text
        body = answer.json()
        if expect == 201:
            made.append(body["id"])
        return body

    yield make
    for subscription_id in made:
        api("DELETE", f"/v1/subscriptions/{subscription_id}", admin)


def report_incident(api, supervisor, enterprise_id, description):
    answer = api("POST", "/v1/incidents", supervisor, json={
        "enterprise_id": enterprise_id, "category": "other", "priority": "low",
        "description": description, "location": "东门 13912345678"})
    assert answer.status_code == 201, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def enterprise_ids(api, supervisor):
    return [e["id"] for e in api("GET", "/v1/enterprises?per_page=100",
                                 supervisor).json()["items"]]


def test_an_agency_user_reads_its_own_queue_and_nothing_else(platform, api, supervisor, admin,
                                                             subscribe, enterprise_ids):
    mine = subscribe("market_regulation", [{"prefix": {"type": "incident."}}])
    other = subscribe("emergency_management", [{"exact": {"type": "incident.closed"}}])
    assert mine["credentials"]["username"] == mine["broker_user"]
    shown = api("GET", f"/v1/subscriptions/{mine['id']}", admin)
    assert shown.status_code == 200 and "credentials" not in shown.json()  # shown once
    assert api("GET", f"/v1/subscriptions/{mine['id']}").status_code == 401
    incident = report_incident(api, supervisor, enterprise_ids[0], "仓库被盗，联系人张伟")

    connection = connect(platform, mine["credentials"])
    try:
        got = drain(connection, mine["protocolsettings"]["queue"],
                    until=lambda r: any(e["data"].get("incident_id") == incident["id"]
                                        for e, _ in r))
        assert any(e["type"] == "incident.reported" and e["data"]["incident_id"] == incident["id"]
                   for e, _ in got)
        assert all(e["type"].startswith("incident.") for e, _ in got)
        reported = next(e for e, _ in got if e["type"] == "incident.reported"
                        and e["data"]["incident_id"] == incident["id"])
        assert "description" not in reported["data"] and "location" not in reported["data"]
        assert reported["specversion"] == "1.0" and reported["sequence"].isdigit()

        def refused(attempt):
            channel = connection.channel()
            with pytest.raises((AccessRefused, NotAllowed, PreconditionFailed)):
                attempt(channel)
                connection.drain_events(timeout=1)  # a refused publish arrives as a close

        refused(lambda ch: ch.basic_get(other["protocolsettings"]["queue"]))
        refused(lambda ch: ch.basic_get(topology.ARCHIVE))
        refused(lambda ch: ch.queue_declare("agency-own-queue", durable=True,
                                            auto_delete=False))
        refused(lambda ch: ch.exchange_declare("agency-exchange", "topic"))
        for exchange, key in (("dispatch.events", "incident.closed"),
                              ("enterprise.events", "enterprise.updated"),
                              ("nameko-rpc", "dispatch.report_incident"),
                              ("", "dispatch.incident_reports"),
                              (topology.REPORTS_EXCHANGE, "emergency_management")):
            def publish(ch, exchange=exchange, key=key):
                ch.confirm_select()
                ch.basic_publish(amqp.Message(b"{}", user_id=mine["broker_user"]),
                                 exchange=exchange, routing_key=key)
            refused(publish)
    finally:
        connection.close()


def test_a_report_is_the_sending_agency_s_whatever_its_body_says(platform, api, supervisor,
                                                                 admin, subscribe,
                                                                 enterprise_ids):
    mine = subscribe("environment", [{"prefix": {"type": "incident."}}])
    reference = uuid.uuid4().hex
    connection = connect(platform, mine["credentials"])
    try:
        channel = connection.channel()
        channel.confirm_select()
        report = {"enterprise_id": enterprise_ids[1], "category": "other", "priority": "low",
                  "description": "排污口异常", "reference": reference,
                  "source": "public_security_bureau"}
        channel.basic_publish(amqp.Message(json.dumps(report).encode(),
                                           content_type="application/json",
                                           user_id=mine["broker_user"]),
                              exchange=topology.REPORTS_EXCHANGE, routing_key="environment")
        bad = {"enterprise_id": enterprise_ids[1], "category": "no-such-category"}
        channel.basic_publish(amqp.Message(json.dumps(bad).encode(),
                                           user_id=mine["broker_user"]),
                              exchange=topology.REPORTS_EXCHANGE, routing_key="environment")
        channel.basic_publish(amqp.Message(b"\x80 not json", user_id=mine["broker_user"]),
                              exchange=topology.REPORTS_EXCHANGE, routing_key="environment")
    finally:
        connection.close()

    deadline = time.monotonic() + 30
    made = []
    while time.monotonic() < deadline and not made:
        items = api("GET", "/v1/incidents?per_page=200", supervisor).json()["items"]
        made = [i for i in items if i.get("reporter_id") == "environment"]
        time.sleep(0.3)
    assert made, "the report made no incident"
    assert all(i["reporter_role"] == "agency" for i in made)
    assert not [i for i in items if i.get("reporter_id") == "public_security_bureau"]

    connection = connect(platform, mine["credentials"])
    try:
        letters = []
        channel = connection.channel()
        deadline = time.monotonic() + 20
        while len(letters) < 2 and time.monotonic() < deadline:
            message = channel.basic_get(mine["protocolsettings"]["dead_letter_queue"],
                                        no_ack=True)
            if message is None:
                time.sleep(0.2)
                continue
            letters.append(message.headers)
    finally:
        connection.close()
    reasons = sorted(h["x-error"] for h in letters)
    assert len(reasons) == 2 and all(len(r) <= 200 and "Traceback" not in r for r in reasons)
    assert any("category" in r for r in reasons) and any("JSON" in r for r in reasons)


def test_deleting_a_subscription_cuts_the_agency_off_at_once(platform, api, admin, subscribe):
    mine = subscribe("labour", [{"prefix": {"type": "incident."}}])
    connection = connect(platform, mine["credentials"])
    channel = connection.channel()
    channel.basic_consume(mine["protocolsettings"]["queue"], callback=lambda m: None)
    answer = api("DELETE", f"/v1/subscriptions/{mine['id']}", admin)
    assert answer.status_code == 200 and answer.json()["state"] == "deleted"
    with pytest.raises(Exception):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                connection.drain_events(timeout=0.5)
            except TimeoutError:
                continue
        raise AssertionError("the agency's open connection was not closed")
    with pytest.raises(AccessRefused):
        connect(platform, mine["credentials"])
    again = api("DELETE", f"/v1/subscriptions/{mine['id']}", admin)
    assert again.status_code == 409


def test_bad_subscriptions_are_refused_naming_the_field(api, admin, token):
    for body, field in (({"agency": "Bad Name", "filters": ALL_TYPES}, "agency"),
                        ({"agency": "justice", "filters": []}, "filters"),
                        ({"agency": "justice", "filters": [{"exact": {"type": "x"},
                                                            "prefix": {"type": "y"}}]},
                         "filters"),
                        ({"agency": "justice", "filters": ALL_TYPES,
                          "purpose": {"basis": "because", "description": "x",
                                      "fields": ["description"]}}, "purpose")):
        answer = api("POST", "/v1/subscriptions", admin, json=body)
        assert answer.status_code == 400, answer.text
        assert field in json.dumps(answer.json().get("fields", {})), answer.text
    listed = api("GET", "/v1/subscriptions?per_page=500", admin).json()["items"]
    assert not [s for s in listed if s["agency"] == "justice"]
    for role in ("supervisor", "officer", "agency", "enterprise", "mediator"):
        answer = api("GET", "/v1/subscriptions", token(role, sub=f"e2e-{role}",
                                                         officer_id="o-1",
                                                         enterprise_id="e-1"))
        assert answer.status_code == 403, (role, answer.status_code)


def _personal_data(api, supervisor):
    """Names and phone numbers the registry holds (the demo county's officers and enterprises'
    contacts): none of it may reach an agency without a purpose."""
    names, phones = set(), set()
    for page in range(1, 4):
        answer = api("GET", f"/v1/officers?per_page=100&page={page}", supervisor)
        if answer.status_code != 200:
            break
        for officer in answer.json()["items"]:
            names.add(officer["name"])
            if officer.get("phone"):
                phones.add(officer["phone"])
    return names, phones


def _leaves(value, key=""):
    """(key, string) of every string in an envelope, ids and times left out."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v, key)
    elif isinstance(value, str) and not (key in ("id", "subject", "sequence", "time")
                                         or key.endswith(("_id", "_ids", "_at"))):
        yield key, value


def _archived_types(platform, since):
    """The event types in the archive from `since` on."""
    return {envelope["type"] for _, envelope in _archive(platform)
            if datetime.fromisoformat(envelope["time"]) >= since}


def test_no_personal_data_or_free_text_reaches_an_agency_without_a_purpose(
        platform, api, supervisor, admin, subscribe, enterprise_ids):
    since = datetime.now(timezone.utc) - timedelta(hours=2)  # the demo county's load included
    mine = subscribe("township_government", ALL_TYPES)
    marker = uuid.uuid4().hex
    planted = f"联系人张伟 13800138000 身份证 11010119900307123X {marker}"
    made = [report_incident(api, supervisor, enterprise_ids[n], f"{planted} #{n}")["id"]
            for n in range(3)]
    replay = api("POST", f"/v1/subscriptions/{mine['id']}/replay", admin,
                 json={"since": since.isoformat()})
    assert replay.status_code == 200, replay.text
    names = {o["name"] for o in api("GET", "/v1/officers?per_page=500",
                                    supervisor).json()["items"]}
    assert len(names) > 50, "the demo county has named officers"

    connection = connect(platform, mine["credentials"])
    try:
        got = drain(connection, mine["protocolsettings"]["queue"], quiet=3.0, timeout=60,
                    until=None)
    finally:
        connection.close()
    envelopes = [e for e, _ in got]
    assert {e["data"].get("incident_id") for e in envelopes} >= set(made)
    archived = _archived_types(platform, since)
    assert {e["type"] for e in envelopes} == archived  # every type the county produced
    assert len(archived) >= 15
    for envelope in envelopes:
        text = json.dumps(envelope, ensure_ascii=False)
        assert marker not in text and "联系人" not in text
        for key, value in _leaves(envelope):
            assert not PHONE.search(value), (envelope["type"], key, value)
            assert not ID_NUMBER.search(value), (envelope["type"], key, value)
            assert value not in names, (envelope["type"], key, "an officer's name")

    # with a recorded purpose, the fields it names come through, and only those
    purposeful = subscribe("justice", [{"exact": {"type": "incident.reported"}}],
                           purpose={"basis": "statutory_duty",
                                    "description": "案件线索移送核查",
                                    "fields": ["description"]})
    incident = report_incident(api, supervisor, enterprise_ids[4], f"{planted} justice")
    connection = connect(platform, purposeful["credentials"])
    try:
        got = drain(connection, purposeful["protocolsettings"]["queue"],
                    until=lambda r: any(e["data"]["incident_id"] == incident["id"]
                                        for e, _ in r))
    finally:
        connection.close()
    reported = next(e for e, _ in got if e["data"]["incident_id"] == incident["id"])
    assert marker in reported["data"]["description"]
    assert "location" not in reported["data"] and "reporter_id" not in reported["data"]


def _archive(platform):
    """Every event in the archive as (offset, envelope), read as the platform's own user."""
    connection = amqp.Connection("localhost:5672", userid="guest", password="guest",
                                 virtual_host=_vhost(platform))
    connection.connect()
    try:
        channel = connection.channel()
        channel.basic_qos(0, 500, False)
        found = []

        def take(message):
            found.append((int(message.headers["x-stream-offset"]), json.loads(message.body)))
            channel.basic_ack(message.delivery_tag)

        channel.basic_consume(topology.ARCHIVE, callback=take,
                              arguments={"x-stream-offset": "first"})
        while True:
            try:
                connection.drain_events(timeout=1.0)
            except TimeoutError:
                return found
    finally:
        connection.close()


class Producer:
    """Reports an incident every `pause` seconds until stopped (live events keep coming)."""

    def __init__(self, api, supervisor, enterprise_ids, pause=0.2):
        import threading

        self.made, self.stopping = [], threading.Event()
        self.thread = threading.Thread(target=self._run, args=(api, supervisor, enterprise_ids,
                                                               pause), daemon=True)

    def _run(self, api, supervisor, enterprise_ids, pause):
        n = 0
        while not self.stopping.is_set():
            answer = api("POST", "/v1/incidents", supervisor, json={
                "enterprise_id": enterprise_ids[n % len(enterprise_ids)], "category": "other",
                "priority": "low", "description": f"live {n}"})
            if answer.status_code == 201:
                self.made.append(answer.json()["id"])
            n += 1
            time.sleep(pause)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        self.thread.join(timeout=30)


def test_replay_from_ten_minutes_back_while_live_events_keep_coming(
        platform, api, supervisor, admin, subscribe, enterprise_ids):
    filters = [{"prefix": {"type": "incident."}}]
    since = datetime.now(timezone.utc) - timedelta(minutes=10)
    for n in range(3):  # something inside the window for sure
        report_incident(api, supervisor, enterprise_ids[n], f"before the replay {n}")
    mine = subscribe("replayer", filters)
    received = []
    connection = connect(platform, mine["credentials"])
    try:
        with Producer(api, supervisor, enterprise_ids) as producer:
            time.sleep(1.0)
            answer = api("POST", f"/v1/subscriptions/{mine['id']}/replay", admin,
                         json={"since": since.isoformat()})
            assert answer.status_code == 200, answer.text
            requested = answer.json()["replay"]["requested_at"]

            def live_after_catching_up(got):
                state = api("GET", f"/v1/subscriptions/{mine['id']}", admin).json()["replay"]
                return state["state"] == "live" and len(got) > state["delivered"] + 5

            received += drain(connection, mine["protocolsettings"]["queue"], timeout=90,
                              until=live_after_catching_up)
        received += drain(connection, mine["protocolsettings"]["queue"], quiet=2.0)
    finally:
        connection.close()

    sequences = [int(e["sequence"]) for e, _ in received]
    ids = [e["id"] for e, _ in received]
    assert sequences == sorted(sequences) and len(set(ids)) == len(ids), "in order, once"
    last = sequences[-1]
    expected = [envelope["id"] for offset, envelope in _archive(platform)
                if offset <= last and envelope["type"].startswith("incident.")
                and datetime.fromisoformat(envelope["time"]) >= since]
    assert ids == expected, "every event since then, exactly once, in order, then live ones"
    assert set(producer.made) & {e["data"]["incident_id"] for e, _ in received}

    audit = api("GET", f"/v1/subscriptions/{mine['id']}/deliveries?per_page=500"
                       f"&since={requested.replace('+', '%2B')}", admin).json()["items"]
    assert [d["event_id"] for d in audit] == ids  # what the audit says went out, did
    modes = [d["mode"] for d in audit]
    assert modes == sorted(modes, key=lambda m: m != "replay") and "live" in modes


def test_a_stopped_feeds_process_loses_nothing_and_a_killed_one_only_repeats(
        platform, api, supervisor, subscribe, enterprise_ids):
    import signal

    mine = subscribe("stopper", [{"exact": {"type": "incident.reported"}}])
    platform.kill("feeds", signal.SIGTERM)
    while_stopped = [report_incident(api, supervisor, enterprise_ids[n], f"stopped {n}")["id"]
                     for n in range(5)]
    platform.start("feeds")
    with Producer(api, supervisor, enterprise_ids, pause=0.05) as producer:
        time.sleep(2.0)
        platform.kill("feeds")  # SIGKILL while events stream in
        platform.start("feeds")
        time.sleep(1.0)
    wanted = set(while_stopped) | set(producer.made)
    connection = connect(platform, mine["credentials"])
    try:
        got = drain(connection, mine["protocolsettings"]["queue"], timeout=60,
                    until=lambda r: wanted <= {e["data"]["incident_id"] for e, _ in r})
        got += drain(connection, mine["protocolsettings"]["queue"], quiet=2.0)
    finally:
        connection.close()
    delivered = {e["data"]["incident_id"] for e, _ in got}
    assert wanted <= delivered, f"{len(wanted - delivered)} events lost"
    first = {}
    for envelope, _ in got:  # a repeat is the same event: same id, same sequence
        assert first.setdefault(envelope["id"], envelope["sequence"]) == envelope["sequence"]
    repeats = len(got) - len(first)
    assert repeats <= 500, "at most what was in flight (one batch) is delivered again"


def test_an_agency_reaches_its_own_subscription_and_its_document_only(api, admin, token,
                                                                      subscribe):
    mine = subscribe("market_supervision", [{"exact": {"type": "incident.closed"}},
                                            {"prefix": {"type": "dispute."}}])
    theirs = subscribe("fire_brigade", [{"prefix": {"type": "incident."}}])
    agency = token("agency", sub="market_supervision")
    shown = api("GET", f"/v1/subscriptions/{mine['id']}", agency)
    assert shown.status_code == 200 and shown.json()["agency"] == "market_supervision"
    for path in (f"/v1/subscriptions/{theirs['id']}",
                 f"/v1/subscriptions/{theirs['id']}/asyncapi",
                 f"/v1/subscriptions/{theirs['id']}/deliveries"):
        assert api("GET", path, agency).status_code == 403, path
    assert api("POST", f"/v1/subscriptions/{theirs['id']}/replay", agency,
               json={"since": datetime.now(timezone.utc).isoformat()}).status_code == 403
    for method, path in (("GET", "/v1/subscriptions"), ("POST", "/v1/subscriptions"),
                         ("DELETE", f"/v1/subscriptions/{mine['id']}")):
        assert api(method, path, agency, json={}).status_code == 403, path

    document = api("GET", f"/v1/subscriptions/{mine['id']}/asyncapi", agency)
    assert document.status_code == 200, document.text
    messages = document.json()["components"]["messages"]
    assert "incident.closed" in messages and "dispute.registered" in messages
    assert not [t for t in messages if t.startswith(("incident.reported", "officer.", "visit."))]
    reported = messages["dispute.escalated"]["payload"]["properties"]["data"]["properties"]
    assert "actor" not in reported and "dispute_id" in reported

    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    asked = api("POST", f"/v1/subscriptions/{mine['id']}/replay", agency,
                json={"since": since.isoformat()})
    assert asked.status_code == 200 and asked.json()["replay"]["requested_by"].startswith(
        "agency:")
    for since, why in (("2000-01-01T00:00:00Z", "older than the archive keeps"),
                       ("2999-01-01T00:00:00Z", "future")):
        refused = api("POST", f"/v1/subscriptions/{mine['id']}/replay", admin,
                      json={"since": since})
        assert refused.status_code == 400 and why in refused.text, refused.text


def test_the_feeds_process_counts_its_work_as_every_entrypoint_is_counted(
        platform, api, supervisor, admin, subscribe, enterprise_ids):
    """Requests, errors and durations for the fan-out and the report intake, under the same
    names and labels as every worker's, and the deliveries by agency."""
    import requests

    mine = subscribe("statistics", [{"prefix": {"type": "incident."}}])
    report_incident(api, supervisor, enterprise_ids[0], "metrics probe")
    assert api("POST", f"/v1/subscriptions/{mine['id']}/replay", admin,
               json={"since": (datetime.now(timezone.utc)
                               - timedelta(minutes=1)).isoformat()}).status_code == 200
    connection = connect(platform, mine["credentials"])
    try:
        channel = connection.channel()
        channel.basic_publish(amqp.Message(b"not json", user_id=mine["broker_user"]),
                              exchange=topology.REPORTS_EXCHANGE, routing_key="statistics")
    finally:
        connection.close()

    def counted(text, entrypoint):
        found = re.search(r'^liaison_entrypoint_requests_total\{entrypoint="%s",'
                          r'service="feeds"\} (\S+)$' % entrypoint, text, re.M)
        return found is not None and float(found.group(1)) > 0

    deadline = time.monotonic() + 20
    while True:
        text = requests.get(platform.metrics_url("feeds"), timeout=10).text
        if all(counted(text, e) for e in ("fanout_live", "fanout_replay", "report_intake")) \
                or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    for entrypoint in ("fanout_live", "fanout_replay", "report_intake"):
        assert counted(text, entrypoint), entrypoint
        assert f'liaison_entrypoint_duration_seconds_count{{entrypoint="{entrypoint}"' in text
    assert re.search(r'^liaison_feed_deliveries_total\{agency="statistics",'
                     r'mode="(live|replay)"\} ', text, re.M)
    assert re.search(r'^liaison_feed_reports_total\{agency="statistics",outcome="refused"\} ',
                     text, re.M)
