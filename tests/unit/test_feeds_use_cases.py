"""The feeds component's use cases on the in-memory fake of the kit's storage, with a fake
fan-out and a fake broker: subscriptions made (one per agency, the purpose checked), deleted
(the agency cut off before anything else), replayed (the time checked), the audit read and
pruned; the reports' check; the retention's syntax."""
from datetime import datetime, timedelta

import pytest

from kit.errors import ValidationFailed
from kit.tables import MemoryDatabase
from services.feeds import handlers
from services.feeds.domain import LIVE, REPLAYING, broker_user, retention_of
from services.feeds.exceptions import (AgencySubscribed, BrokerRefused, SubscriptionDeleted,
                                       SubscriptionNotFound)
from services.feeds.intake import check_report
from services.feeds.store import Repository

NOW = datetime(2026, 6, 1, 9, 0)
INCIDENTS = [{"prefix": {"type": "incident."}}]


class FakeFanout:
    retention = timedelta(days=90)

    def __init__(self):
        self.declared, self.removed, self.replays, self.refreshed = [], [], [], 0

    def declare_agency(self, agency):
        self.declared.append(agency)

    def remove_agency(self, agency):
        self.removed.append(agency)

    def go_live(self, add):
        self.refreshed += 1
        return add(42)

    def refresh(self):
        self.refreshed += 1

    def start_replay(self, subscription):
        self.replays.append(subscription.id)


class FakeAdmin:
    def __init__(self, fail=False):
        self.users, self.revoked, self.fail = {}, [], fail

    def provision(self, user, password, agency):
        if self.fail:
            raise BrokerRefused("the broker's management API is unreachable")
        self.users[user] = (password, agency)

    def revoke(self, user):
        self.revoked.append(user)
        self.users.pop(user, None)


@pytest.fixture
def repo():
    repository = Repository(MemoryDatabase())
    repository.ensure_indexes()
    return repository


def create(repo, fanout=None, admin=None, **changes):
    data = dict({"agency": "market_regulation", "filters": INCIDENTS, "purpose": None},
                **changes)
    return handlers.create(repo, fanout or FakeFanout(), admin or FakeAdmin(), "county-a",
                           data, "admin:root", NOW)


def test_a_subscription_gets_its_queue_and_a_user_of_its_own_and_starts_live_from_now(repo):
    fanout, admin = FakeFanout(), FakeAdmin()
    subscription, password = create(repo, fanout, admin)
    assert subscription.broker_user == "county-a.agency.market_regulation"
    assert admin.users[subscription.broker_user] == (password, "market_regulation")
    assert len(password) >= 24 and fanout.declared == ["market_regulation"]
    assert subscription.live_from == 42 and fanout.refreshed == 1
    assert subscription.filters == [{"prefix": "incident."}]
    assert handlers.view(subscription, "amqp://u:p@broker:5672/county-a")["sink"] == \
        "amqp://broker:5672/county-a"
    assert "p@" not in repr(handlers.view(subscription, "amqp://u:p@broker:5672/county-a"))


def test_one_active_subscription_per_agency_and_nothing_made_when_refused(repo):
    create(repo)
    admin = FakeAdmin()
    with pytest.raises(AgencySubscribed):
        create(repo, admin=admin)
    assert admin.users == {}
    with pytest.raises(BrokerRefused):
        create(repo, admin=FakeAdmin(fail=True), agency="justice")
    assert not repo.active_for("justice")


def test_a_purpose_must_name_protected_fields_of_the_subscribed_types(repo):
    with pytest.raises(ValidationFailed) as refused:
        create(repo, purpose={"basis": "statutory_duty", "description": "线索核查",
                              "fields": ["description", "officer_ids"]})
    assert "purpose.fields" in str(refused.value)
    made, _ = create(repo, purpose={"basis": "statutory_duty", "description": "线索核查",
                                    "fields": ["description"]})
    assert made.purpose["fields"] == ["description"]


def test_deleting_revokes_the_user_first_and_keeps_the_record(repo):
    fanout, admin = FakeFanout(), FakeAdmin()
    subscription, _ = create(repo, fanout, admin)
    deleted = handlers.delete(repo, fanout, admin, subscription.id, "admin:root", NOW)
    assert admin.revoked == [subscription.broker_user] and fanout.removed == [
        "market_regulation"]
    assert deleted.state == "deleted" and repo.subscriptions.get(subscription.id).deleted_at
    with pytest.raises(SubscriptionDeleted):
        handlers.delete(repo, fanout, admin, subscription.id, "admin:root", NOW)
    again, _ = create(repo, fanout, admin)  # the agency may subscribe again
    assert again.id != subscription.id
    with pytest.raises(SubscriptionNotFound):
        handlers.delete(repo, fanout, admin, "nope", "admin:root", NOW)


def test_a_replay_is_asked_from_a_time_the_archive_still_keeps(repo):
    fanout = FakeFanout()
    subscription, _ = create(repo, fanout)
    for since, why in ((NOW + timedelta(minutes=1), "future"),
                       (NOW - timedelta(days=91), "older than the archive keeps")):
        with pytest.raises(ValidationFailed, match=why):
            handlers.replay(repo, fanout, subscription.id, since, "agency:x", NOW)
    asked = handlers.replay(repo, fanout, subscription.id, NOW - timedelta(minutes=10),
                            "agency:market_regulation", NOW)
    assert asked.replaying and asked.replay.state == REPLAYING
    assert fanout.replays == [subscription.id]
    asked.caught_up(100, 7, NOW)
    assert asked.live_from == 100 and asked.replay.state == LIVE and not asked.replaying


def test_the_audit_is_read_by_subscription_and_pruned_by_age(repo):
    subscription, _ = create(repo)
    other, _ = create(repo, agency="justice")
    rows = [{"subscription_ids": [subscription.id, other.id], "agencies": ["a", "b"],
             "event_id": f"ev{n}", "type": "incident.closed", "offset": n,
             "event_time": NOW, "delivered_at": NOW - timedelta(days=400 - n * 100),
             "mode": "live"} for n in range(4)]
    rows.append(dict(rows[0], subscription_ids=[other.id], event_id="only-other", offset=9,
                     delivered_at=NOW))
    repo.record_deliveries(rows)
    mine, total = handlers.deliveries(repo, subscription.id, None, None, 0, 100)
    assert total == 4 and [d["event_id"] for d in mine] == ["ev0", "ev1", "ev2", "ev3"]
    assert mine[1]["sequence"] == "0000000000000001"
    assert handlers.prune(repo, NOW, timedelta(days=365)) == 1
    assert handlers.deliveries(repo, subscription.id, None, None, 0, 100)[1] == 3
    with pytest.raises(SubscriptionNotFound):
        handlers.deliveries(repo, "nope", None, None, 0, 10)


def test_a_report_takes_its_source_from_the_agency_never_from_its_body():
    body = (b'{"enterprise_id": "e1", "category": "other", "priority": "low", '
            b'"description": "x", "reference": "r1", "source": "public_security_bureau"}')
    report, reason = check_report(body, "environment")
    assert reason is None and report["source"] == "environment"
    for bad, field in ((b"[1]", "body"), (b"\xff", "body"),
                       (b'{"enterprise_id": "e1", "reference": "r"}', "category"),
                       (b'{"enterprise_id": "e1", "category": "other", "priority": "low", '
                        b'"description": "x", "reference": "r", "extra": 1}', "extra")):
        report, reason = check_report(bad, "environment")
        assert report is None and field in reason and len(reason) <= 200


def test_the_retention_reads_as_rabbitmq_writes_it_and_users_carry_their_vhost():
    assert retention_of("90D") == timedelta(days=90)
    assert retention_of("12h") == timedelta(hours=12)
    for bad in ("90", "D", "9x", "-1D"):
        with pytest.raises(ValueError):
            retention_of(bad)
    assert broker_user("/", "justice") == "default.agency.justice"
    assert broker_user("county-b", "justice") == "county-b.agency.justice"
