"""On the embedded store, every lookup, listing, count, sweep and gauge the repositories make
is answered through an index: SQLite's own query plan for each says so. Only a read of a whole
table on purpose (`all()`, no filter) may scan it.
"""
import re
from datetime import datetime, timedelta

import pytest

from kit.sqlite import SqliteTable
from kit.storage import drain, open_database
from services.dispatch.store import Repository as Dispatch
from services.enterprise.domain import Enterprise, Officer
from services.enterprise.handlers import registry_figures
from services.enterprise.store import Repository as Registry

NOW = datetime(2026, 3, 1, 8, 0)
FULL_SCAN = re.compile(r"^SCAN \"?d_[^ ]+\"?$")


@pytest.fixture
def issued(monkeypatch):
    """Every find and count a repository makes: (table, query, sort, limit)."""
    calls = []
    find, count = SqliteTable.find, SqliteTable.count

    def recording_find(self, query=None, sort=None, skip=0, limit=0):
        calls.append((self, query or {}, sort or [], limit))
        return find(self, query, sort, skip, limit)

    def recording_count(self, query=None):
        calls.append((self, query or {}, [], 0))
        return count(self, query)

    monkeypatch.setattr(SqliteTable, "find", recording_find)
    monkeypatch.setattr(SqliteTable, "count", recording_count)
    return calls


def scans(calls):
    found = []
    for table, query, sort, limit in calls:
        if not query and not limit:
            continue  # a whole table read on purpose
        plan = table.plan(query, sort, limit)
        if any(FULL_SCAN.match(step) for step in plan):
            found.append((table.name, query, sort, plan))
    return found


def test_dispatch_reads_through_indexes(tmp_path, issued):
    repo = Dispatch(open_database("dispatch", None, tmp_path))
    repo.ensure_indexes()
    reach = {"enterprise_ids": ["e1", "e2"], "officer_id": "o1"}
    for filters in ({}, {"enterprise_id": "e1"}, {"officer_id": "o1"}, {"state": "notified"},
                    {"reach": reach}, {"reach": reach, "state": "closed"}, {"skip": 950}):
        repo.list_incidents(**filters)
    for filters in ({}, {"enterprise_id": "e1"}, {"status": "open"}, {"reach": reach}):
        repo.list_requests(**filters)
    repo.deadlines.due(NOW)
    repo.deadlines.due(NOW, since=NOW - timedelta(seconds=5))
    for table in repo.outbox_tables():
        drain(table, lambda messages: None)
    repo.incident_figures()
    assert len(issued) > 15
    assert scans(issued) == []


def test_the_registry_reads_through_indexes(tmp_path, issued):
    repo = Registry(open_database("enterprise", None, tmp_path))
    repo.ensure_indexes()
    for record, filters in ((Enterprise, {"station_id": "s1"}), (Enterprise, {"grid_id": "g1"}),
                            (Enterprise, {"level": "key"}), (Enterprise, {"ids": ["a", "b"]}),
                            (Officer, {"station_id": "s1", "role": "area_chief"}),
                            (Enterprise, {})):
        repo.page(record, **filters)
    repo.get_officers(["a", "b"])
    repo.officers_of_station("s1", roles=("area_chief",))
    repo.find_enterprise_by_credit_code("91350100MA0000001X")
    repo.find_officer_by_badge("A1001")
    repo.assignments_held_by("o1")
    repo.timeline("e1")
    registry_figures(repo, NOW)
    assert len(issued) > 15
    assert scans(issued) == []


def test_a_column_or_list_field_another_process_adds_is_seen_and_a_list_update_keeps_its_rows(
        tmp_path):
    """Two handles on one file, as two processes of a service have: what one learns about the
    documents' shape (a new indexed field, a field that holds lists) the other sees at its
    next read; an update that leaves a list alone leaves its side rows as they were."""
    from kit.sqlite import FILE, SqliteDatabase

    first, second = (SqliteDatabase(tmp_path / FILE).table("t") for _ in range(2))
    first.ensure_index([("tags", 1)])
    assert second.find({"tags": "x"}) == []
    first.insert({"_id": "a", "tags": ["x", "y"], "n": 1})
    assert [r["_id"] for r in second.find({"tags": "y"})] == ["a"]
    second.insert({"_id": "b", "tags": ["y"], "n": 1})
    assert second.update_each([({"_id": "a"}, {"$set": {"n": 2}}),
                               ({"_id": "b"}, {"$push": {"tags": "z"}}),
                               ({"_id": "c"}, {"$set": {"n": 3}})]) == [True, True, False]
    assert sorted(r["_id"] for r in first.find({"tags": "y"})) == ["a", "b"]
    assert [r["_id"] for r in first.find({"tags": "z"})] == ["b"]
    assert first.get("a")["n"] == 2
