"""The feeds component's repository on the three backends: the live position, the delivery
audit found by subscription (a multikey index over the subscriptions an event went to) in
delivery order, with a time window, and pruned by age; the active subscriptions of an agency.
On the embedded store, the audit's reads go through an index (SQLite's plan says so)."""
from datetime import datetime, timedelta

import pytest

from kit.sqlite import SqliteTable
from kit.testing import backend_fixture
from services.feeds.domain import Subscription
from services.feeds.store import Repository

T0 = datetime(2026, 6, 1, 9, 0)
backend = backend_fixture("feeds")


@pytest.fixture
def repo(backend):
    repository = Repository(backend.database)
    repository.ensure_indexes()
    return repository


def row(n, subscriptions, at):
    return {"subscription_ids": subscriptions, "agencies": subscriptions, "event_id": f"ev{n}",
            "type": "incident.closed", "offset": n, "event_time": at, "delivered_at": at,
            "mode": "live"}


def test_the_position_moves_and_checkpoints_say_where_a_replay_starts(repo):
    assert repo.next_offset() == 0 and repo.first_done_since(T0) is None
    for first, after, minute in ((0, 17, 0), (17, 18, 5), (18, 40, 9)):
        repo.advance(first, after, T0 + timedelta(minutes=minute))
    assert repo.next_offset() == 40
    assert repo.first_done_since(T0 - timedelta(minutes=1)) == 0
    assert repo.first_done_since(T0 + timedelta(minutes=1)) == 17
    assert repo.first_done_since(T0 + timedelta(minutes=9)) == 18
    assert repo.first_done_since(T0 + timedelta(minutes=10)) is None
    repo.prune_deliveries(T0 + timedelta(minutes=6))  # checkpoints age with the audit
    assert repo.first_done_since(T0 - timedelta(minutes=1)) == 18


def test_the_audit_is_found_by_subscription_in_order_and_pruned_by_age(repo):
    repo.record_deliveries([row(n, ["s1", "s2"] if n % 2 else ["s1"],
                                T0 + timedelta(minutes=n)) for n in range(10)])
    rows, total = repo.deliveries_of("s2")
    assert total == 5 and [r["offset"] for r in rows] == [1, 3, 5, 7, 9]
    rows, total = repo.deliveries_of("s1", since=T0 + timedelta(minutes=3),
                                     until=T0 + timedelta(minutes=6), skip=1, limit=2)
    assert total == 3 and [r["offset"] for r in rows] == [4, 5]
    assert repo.prune_deliveries(T0 + timedelta(minutes=4)) == 4
    assert repo.deliveries_of("s1")[1] == 6 and repo.deliveries_of("s3") == ([], 0)


def test_an_agency_s_active_subscriptions(repo):
    for n, (agency, state) in enumerate((("justice", "active"), ("justice", "deleted"),
                                         ("labour", "active"))):
        repo.subscriptions.add(Subscription(
            id=f"s{n}", agency=agency, filters=[{"exact": "incident.closed"}], purpose=None,
            broker_user=f"v.agency.{agency}", created_at=T0, created_by="admin:x",
            state=state))
    assert [s.id for s in repo.active_for("justice")] == ["s0"]
    assert sorted(s.id for s in repo.active()) == ["s0", "s2"]


def test_on_the_embedded_store_the_audit_is_read_through_an_index(tmp_path):
    from kit.storage import open_database

    repository = Repository(open_database("feeds", None, tmp_path))
    repository.ensure_indexes()
    repository.record_deliveries([row(n, ["s1"], T0) for n in range(3)])
    table = repository.deliveries
    assert isinstance(table, SqliteTable)
    for query, sort in (({"subscription_ids": "s1"}, [("delivered_at", 1), ("offset", 1)]),
                        ({"subscription_ids": "s1", "delivered_at": {"$gte": T0}},
                         [("delivered_at", 1), ("offset", 1)]),
                        ({"delivered_at": {"$lt": T0}}, [])):
        plan = table.plan(query, sort, 100)
        assert not [step for step in plan if step.startswith("SCAN d_")], plan
