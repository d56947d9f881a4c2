"""The kit's storage contract: a versioned collection and the tables under it behave the same
on the in-memory fake, the embedded store and MongoDB (when MONGO_URI is set)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

import pytest
from marshmallow import Schema, fields

from contracts.fields import UtcDateTime
from kit import storage
from kit.collection import Collection, Events, Kind, UnitOfWork
from kit.publishing import PublishFailed, PublishUnroutable
from kit.testing import backend_fixture, published

T0 = datetime(2026, 3, 1, 8, 0)

backend = backend_fixture("kitcontract")


class Missing(Exception):
    pass


class Exists(Exception):
    pass


class Taken(Exception):
    pass


class Busy(Exception):
    pass


@dataclass(frozen=True)
class Step:
    at: datetime
    who: str
    note: str | None = None


@dataclass(frozen=True)
class Renamed:
    type: ClassVar[str] = "case.renamed"
    case_id: str
    name: str


@dataclass
class Case:
    id: str
    code: str
    name: str
    opened_at: datetime
    tags: tuple[str, ...] = ()
    steps: list[Step] = field(default_factory=list)
    closed_at: datetime | None = None
    version: int = 0
    events: list = field(default_factory=list, repr=False, compare=False)

    def rename(self, name):
        if name == self.name:
            return False
        self.name = name
        self.events.append(Renamed(self.id, name))
        return True


class RenamedSchema(Schema):
    case_id = fields.String(required=True)
    name = fields.String(required=True)


class OpenedSchema(Schema):
    case_id = fields.String(required=True)
    at = UtcDateTime(required=True)


@dataclass(frozen=True)
class Opened:
    type: ClassVar[str] = "case.opened"
    case_id: str
    at: datetime


@dataclass(frozen=True)
class Filed:
    """An event that carries the record itself: its contract publishes the record's facts."""
    type: ClassVar[str] = "case.filed"
    case: Case

    @property
    def facts(self):
        return self.case


class FiledSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


CASES = Kind("cases", Case, not_found=Missing, exists=lambda c: Exists(c.id),
             changed_meanwhile=Busy, duplicate=lambda c: Taken(c.code),
             indexed=lambda c: {"code": c.code, "opened_at": c.opened_at, "tags": list(c.tags)},
             indexes=(("code", True), ([("opened_at", -1)], False), ("tags", False)))
EVENTS = Events("test/cases", {"case.renamed": RenamedSchema, "case.opened": OpenedSchema,
                              "case.filed": FiledSchema}, clock=lambda: T0)


@pytest.fixture
def unit():
    return UnitOfWork()


@pytest.fixture
def cases(backend, unit):
    collection = Collection(backend.database.table("cases"), CASES, EVENTS, unit)
    collection.ensure_indexes()
    return collection


def case(n, **changes):
    values = dict(id=f"c{n}", code=f"K-{n}", name=f"case {n}",
                  opened_at=T0 + timedelta(minutes=n))
    values.update(changes)
    return Case(**values)


def test_an_added_aggregate_comes_back_as_it_was_at_version_1(cases):
    stored = case(1, tags=("a", "b"), steps=[Step(T0, "o1"), Step(T0, "o2", "late")])
    cases.add(stored)
    loaded = cases.get("c1")
    assert loaded == stored
    assert loaded.version == 1
    assert isinstance(loaded.steps[0], Step) and loaded.tags == ("a", "b")
    assert cases.find("nothing") is None
    with pytest.raises(Missing):
        cases.get("nothing")


def test_the_same_id_or_a_taken_unique_field_is_refused_and_writes_nothing(cases):
    cases.add(case(1))
    with pytest.raises(Exists):
        cases.add(case(1, code="K-other", name="other"))
    with pytest.raises(Taken):
        cases.add(case(2, code="K-1"))
    assert cases.count() == 1
    assert cases.get("c1").name == "case 1"


def test_a_save_from_a_stale_version_writes_nothing(cases):
    cases.add(case(1))
    first, second = cases.get("c1"), cases.get("c1")
    first.rename("first")
    second.rename("second")
    assert cases.save(first) is True
    assert cases.save(second) is False
    stored = cases.get("c1")
    assert (stored.name, stored.version) == ("first", 2)


def test_events_are_written_with_the_change_and_leave_the_aggregate(cases, backend, unit):
    stored = case(1)
    stored.events.append(Opened("c1", T0))
    cases.add(stored)
    changed = cases.get("c1")
    changed.rename("new name")
    cases.save(changed)
    assert changed.events == [] and stored.events == []
    envelopes = published(unit)
    assert [e["type"] for e in envelopes] == ["case.opened", "case.renamed"]
    assert envelopes[1]["data"] == {"case_id": "c1", "name": "new name"}
    assert envelopes[1]["subject"] == "c1" and envelopes[1]["source"] == "test/cases"
    row = backend.database.table("cases").get("c1")
    assert [e["id"] for e in row[storage.OUTBOX_FIELD]] == [e["id"] for e in envelopes]


def test_an_event_carrying_a_record_publishes_the_records_facts(cases, unit):
    stored = case(1)
    stored.events.append(Filed(stored))
    cases.add(stored)
    [envelope] = published(unit)
    assert envelope["type"] == "case.filed" and envelope["subject"] == "c1"
    assert envelope["data"] == {"code": "K-1", "name": "case 1"}


def test_change_retries_a_lost_race_from_the_new_state(cases):
    cases.add(case(1))
    raced = []

    def add_tag(aggregate):
        if not raced:  # another writer gets in between this load and this save
            other = cases.get("c1")
            other.tags = other.tags + ("theirs",)
            assert cases.save(other)
            raced.append(True)
        aggregate.tags = aggregate.tags + ("ours",)

    result = cases.change("c1", add_tag)
    assert result.tags == ("theirs", "ours")
    assert cases.get("c1").tags == ("theirs", "ours")
    assert cases.get("c1").version == 3


def test_a_change_with_nothing_to_do_writes_nothing(cases, unit):
    cases.add(case(1))
    result = cases.change("c1", lambda aggregate: aggregate.rename("case 1"))
    assert result.version == 1 and cases.get("c1").version == 1
    assert published(unit) == []


def test_a_change_that_always_loses_gives_up_with_the_kinds_error(cases):
    cases.add(case(1))

    def always_overtaken(aggregate):
        other = cases.get("c1")
        other.tags = other.tags + ("x",)
        cases.save(other)
        aggregate.rename(f"try {aggregate.version}")

    with pytest.raises(Busy):
        cases.change("c1", always_overtaken, attempts=3)


def test_a_change_given_new_starts_an_aggregate_not_stored_yet(cases, unit):
    started = cases.change("c5", lambda c: c.rename("started"), new=lambda key: case(5))
    again = cases.change("c5", lambda c: c.rename("again"), new=lambda key: case(5))
    assert (started.version, again.version) == (1, 2)
    assert cases.get("c5").name == "again"
    assert [e["data"]["name"] for e in published(unit)] == ["started", "again"]
    with pytest.raises(Missing):
        cases.change("c6", lambda c: c.rename("never"))
    assert cases.find("c6") is None


def test_two_first_changes_at_once_are_a_race_like_any_other(cases):
    def tag(aggregate):
        if aggregate.version == 0:  # another first change is stored meanwhile
            cases.add(case(5, tags=("theirs",)))
        aggregate.tags = aggregate.tags + ("ours",)

    result = cases.change("c5", tag, new=lambda key: case(5))
    assert result.tags == ("theirs", "ours") and result.version == 2
    assert cases.get("c5").tags == ("theirs", "ours")


def test_create_once_makes_one_however_often_it_is_tried(cases, unit):
    made = []

    def create():
        made.append(1)
        new = case(7)
        new.events.append(Opened("c7", T0))
        return new

    first, created = cases.create_once("c7", create)
    again, created_again = cases.create_once("c7", create)
    assert (created, created_again) == (True, False)
    assert again == first and len(made) == 1
    assert [e["type"] for e in published(unit)] == ["case.opened"]


def test_create_once_expecting_new_still_makes_one_and_queues_its_events_once(cases, unit):
    def create():
        new = case(7)
        new.events.append(Opened("c7", T0))
        return new

    first, created = cases.create_once("c7", create, expect_new=True)
    again, created_again = cases.create_once("c7", create, expect_new=True)
    assert (created, created_again) == (True, False)
    assert again == first and cases.count() == 1
    assert [e["type"] for e in published(unit)] == ["case.opened"]


def test_create_all_once_stores_each_once_with_its_events(cases, unit):
    def create(n):
        def made():
            new = case(n)
            new.events.append(Opened(f"c{n}", T0))
            return new
        return made

    first = cases.create_all_once([("c1", create(1)), ("c2", create(2)), ("c1", create(1))])
    again = cases.create_all_once([("c2", create(2)), ("c3", create(3))])
    assert sorted(c.id for c in first) == ["c1", "c2"] and [c.id for c in again] == ["c3"]
    assert cases.count() == 3 and cases.get("c3").version == 1
    assert [e["type"] for e in published(unit)] == ["case.opened"] * 3


def test_create_all_once_that_meets_a_race_creates_the_rest_one_by_one(cases):
    def loser():
        cases.add(case(5, name="winner"))  # another try stored it meanwhile
        return case(5, name="loser")

    made = cases.create_all_once([("c5", loser), ("c6", lambda: case(6))])
    assert [c.id for c in made] == ["c6"]
    assert cases.get("c5").name == "winner" and cases.count() == 2


def test_create_once_that_loses_the_race_returns_the_winner(cases):
    def create():
        cases.add(case(7, name="winner"))  # another try stored it meanwhile
        return case(7, name="loser")

    stored, created = cases.create_once("c7", create)
    assert created is False and stored.name == "winner"


def test_a_first_save_at_version_0_loses_to_an_add(cases):
    cases.add(case(1, name="first"))
    assert cases.save(case(1, name="second")) is False
    assert cases.get("c1").name == "first"


def test_listing_filters_sorts_and_pages_on_indexed_fields(cases):
    for n in range(12):
        cases.add(case(n, tags=("even",) if n % 2 == 0 else ("odd", "prime")))
    page, total = cases.list({"tags": "even"}, sort=[("opened_at", -1)], skip=1, limit=3)
    assert total == 6
    assert [c.id for c in page] == ["c8", "c6", "c4"]
    either, total = cases.list({"$or": [{"code": {"$in": ["K-1", "K-2"]}},
                                        {"opened_at": {"$gte": T0 + timedelta(minutes=10)}}]},
                               sort=[("opened_at", 1)])
    assert [c.id for c in either] == ["c1", "c2", "c10", "c11"] and total == 4
    assert cases.list(limit=0) == ([], 12)


def test_a_table_applies_the_update_operators_atomically(backend):
    table = backend.database.table("rows")
    table.insert({"_id": "r1", "n": 1, "items": [{"id": "a"}, {"id": "b"}, {"id": "c"}]})
    assert table.update({"_id": "r1", "n": 1},
                        {"$inc": {"n": 1}, "$pull": {"items": {"id": {"$in": ["a", "c"]}}}})
    assert table.update({"_id": "r1"}, {"$push": {"items": {"$each": [{"id": "d"}]}}})
    assert table.update({"_id": "r1", "n": 1}, {"$set": {"n": 99}}) is False
    assert table.get("r1") == {"_id": "r1", "n": 2, "items": [{"id": "b"}, {"id": "d"}]}
    assert table.update({"_id": "r2"}, {"$setOnInsert": {"n": 5}}, upsert=True)
    assert table.update({"_id": "r2"}, {"$setOnInsert": {"n": 6}}, upsert=True)
    assert table.get("r2")["n"] == 5
    assert table.count({"items.id": "d"}) == 1
    assert table.count({"items.id": {"$exists": True}}) == 1
    assert table.delete({"_id": "r2"}) and not table.delete({"_id": "r2"})
    for _ in range(2):
        table.update({"_id": "r3"}, {"$inc": {"states.open": 1, "states.closed": -1}},
                     upsert=True)
    assert table.get("r3")["states"] == {"open": 2, "closed": -2}


def test_a_table_deletes_every_document_a_query_matches(backend):
    table = backend.database.table("aged")
    table.ensure_index([("at", 1)])
    table.insert_all({"_id": f"r{n}", "at": T0 + timedelta(days=n), "keep": n % 2}
                     for n in range(10))
    assert table.delete_all({"at": {"$lt": T0 + timedelta(days=4)}}) == 4
    assert sorted(r["_id"] for r in table.find({})) == [f"r{n}" for n in range(4, 10)]
    assert table.delete_all({"keep": 1}) == 3
    assert table.delete_all({"keep": 1}) == 0
    assert sorted(r["_id"] for r in table.find({})) == ["r4", "r6", "r8"]


def test_an_outbox_is_drained_once_and_an_unreadable_entry_does_not_block_it(cases, backend):
    for n in (1, 2):
        new = case(n)
        new.events.append(Opened(new.id, T0))
        cases.add(new)
    table = backend.database.table("cases")
    table.update({"_id": "c2"}, {"$push": {storage.OUTBOX_FIELD: {"$each": [{"id": "bad"}]}}})
    sent = []
    assert storage.drain(table, lambda batch: sent.extend(storage.opened(batch)),
                         stale_before=T0) == 1
    assert [e["subject"] for e in sent] == ["c1"]
    assert table.get("c1")[storage.OUTBOX_FIELD] == []
    assert len(table.get("c2")[storage.OUTBOX_FIELD]) == 2
    assert storage.drain(table, lambda batch: sent.extend(storage.opened(batch)),
                         stale_before=T0) == 0


def test_entries_the_broker_did_not_take_stay_and_the_rest_are_removed(cases, backend):
    """A publish that names what did not go through (returned: no queue takes its type) keeps
    only those; the others are removed, and the next documents are still drained."""
    for n in (1, 2):
        new = case(n)
        new.events.append(Opened(new.id, T0))
        new.events.append(Renamed(new.id, f"case {n} renamed"))
        cases.add(new)
    table = backend.database.table("cases")
    sent = []

    def publish_all(batch):
        failed = [i for i, (key, _) in enumerate(batch) if key == "case.renamed"]
        sent.extend(key for i, (key, _) in enumerate(batch) if i not in failed)
        raise PublishUnroutable("no queue takes case.renamed", failed, ["case.renamed"])

    with pytest.raises(storage.OutboxKept) as kept:
        storage.drain(table, publish_all, stale_before=T0)
    assert kept.value.sent == 2 and sent == ["case.opened", "case.opened"]
    for doc_id in ("c1", "c2"):
        [left] = table.get(doc_id)[storage.OUTBOX_FIELD]
        assert left["type"] == "case.renamed" and table.get(doc_id)[storage.UNSENT_FIELD]
        assert kept.value.kept[doc_id] == [left["id"]]

    assert storage.drain(table, lambda batch: sent.extend(key for key, _ in batch),
                         only=kept.value.kept) == 2
    assert sent[2:] == ["case.renamed", "case.renamed"]
    assert table.find({storage.UNSENT_FIELD: True}) == []


def test_a_publish_that_cannot_say_what_went_through_keeps_everything(cases, backend):
    new = case(1)
    new.events.append(Opened(new.id, T0))
    cases.add(new)
    table = backend.database.table("cases")

    def publish_all(batch):
        raise PublishFailed("the broker did not answer")

    with pytest.raises(PublishFailed):
        storage.drain(table, publish_all, stale_before=T0)
    assert len(table.get("c1")[storage.OUTBOX_FIELD]) == 1


def test_what_is_stored_survives_a_new_connection(cases, backend, unit):
    added = cases.add(case(1, steps=[Step(T0, "o1")]))
    reopened = Collection(backend.reopen().table("cases"), CASES, EVENTS, unit)
    assert reopened.get("c1") == added and added.version == 1


def test_a_unit_of_work_keeps_the_events_written_as_recorded(cases, unit):
    stored = case(1)
    stored.events.append(Opened("c1", T0))
    cases.add(stored)
    cases.change("c1", lambda a: a.rename("renamed"))
    cases.change("c1", lambda a: a.rename("renamed"))  # nothing to do: nothing written
    refused = case(1)
    refused.events.append(Opened("c1", T0))
    with pytest.raises(Exists):
        cases.add(refused)
    assert unit.events == [Opened("c1", T0), Renamed("c1", "renamed")]


def test_a_database_gives_the_same_table_for_the_same_name(backend):
    database = backend.database
    assert database.table("cases") is database.table("cases")
    assert database.table("cases") is not database.table("rows")


def test_min_keeps_the_smaller_value_and_sets_it_on_insert(backend):
    table = backend.database.table("rows")
    assert table.update({"_id": "r1"}, {"$min": {"due": T0, "n": 5}}, upsert=True)
    assert table.update({"_id": "r1"}, {"$min": {"due": T0 + timedelta(minutes=1), "n": 3}},
                        upsert=True)
    assert table.get("r1") == {"_id": "r1", "due": T0, "n": 3}
    assert table.update({"_id": "r1"}, {"$min": {"due": T0 - timedelta(minutes=1)}})
    assert table.get("r1")["due"] == T0 - timedelta(minutes=1)


def test_only_documents_with_unsent_events_are_marked_for_the_sweep(cases, backend):
    cases.add(case(1))  # no events: nothing to send
    marked = case(2)
    marked.events.append(Opened("c2", T0))
    cases.add(marked)
    table = backend.database.table("cases")
    assert [r["_id"] for r in table.find({storage.UNSENT_FIELD: True})] == ["c2"]
    changed = cases.get("c2")
    changed.rename("again")
    cases.save(changed)  # a second entry: sending only the first leaves the mark
    first, second = [e["id"] for e in table.get("c2")[storage.OUTBOX_FIELD]]
    storage.remove_sent(table, "c2", [first])
    assert table.get("c2")[storage.UNSENT_FIELD] is True
    storage.remove_sent(table, "c2", [second])
    row = table.get("c2")
    assert (row[storage.OUTBOX_FIELD], row[storage.UNSENT_FIELD]) == ([], False)
    assert table.find({storage.UNSENT_FIELD: True}) == []


def test_sent_entries_are_cleared_together_only_where_they_are_the_whole_outbox(cases,
                                                                                backend):
    for n in (3, 4, 5):
        made = case(n)
        made.events.append(Opened(f"c{n}", T0))
        cases.add(made)
    grown = cases.get("c4")
    grown.rename("again")
    cases.save(grown)  # c4 holds a second entry the batch did not send
    table = backend.database.table("cases")
    table.ensure_index(storage.UNSENT_FIELD)
    sent = {f"c{n}": [table.get(f"c{n}")[storage.OUTBOX_FIELD][0]["id"]] for n in (3, 4, 5)}
    assert table.empty_lists(storage.OUTBOX_FIELD, storage.UNSENT_FIELD,
                             dict(sent, c9=["x"])) == [True, False, True, False]
    assert [r["_id"] for r in table.find({storage.UNSENT_FIELD: True})] == ["c4"]
    storage.clear_sent(table, {"c4": sent["c4"]})  # what was sent of it, pulled alone
    assert [e["id"] for e in table.get("c4")[storage.OUTBOX_FIELD]] != sent["c4"]
    assert len(table.get("c4")[storage.OUTBOX_FIELD]) == 1
    assert table.get("c3")[storage.OUTBOX_FIELD] == [] and cases.get("c3").version == 1


@pytest.mark.parametrize("indexed", [True, False], ids=["indexed", "unindexed"])
def test_a_tally_counts_each_value_of_a_field_among_the_matches(backend, indexed):
    table = backend.database.table("rows")
    if indexed:
        table.ensure_index([("area", 1), ("at", 1)])
        table.ensure_index("status")
        table.ensure_index("days")
    rows = [("a", 0, "open", None), ("a", 1, "closed", 3), ("a", 2, "closed", 3),
            ("a", 3, "closed", 7), ("b", 1, "closed", 3), ("a", 9, "open", None)]
    for n, (area, minutes, status, days) in enumerate(rows):
        table.insert({"_id": f"r{n}", "area": area, "at": T0 + timedelta(minutes=minutes),
                      "status": status, **({"days": days} if days is not None else {})})
    period = {"area": "a", "at": {"$gte": T0, "$lt": T0 + timedelta(minutes=5)}}
    assert table.tally(period, "status") == {"open": 1, "closed": 3}
    assert table.tally(dict(period, status="closed"), "days") == {3: 2, 7: 1}
    assert table.tally(period, "days") == {None: 1, 3: 2, 7: 1}
    assert table.tally({"area": "z"}, "status") == {}


def test_a_page_past_any_table_is_empty(backend):
    table = backend.database.table("rows")
    table.insert({"_id": "r1", "n": 1})
    assert table.find({}, sort=[("_id", 1)], skip=10**30, limit=10) == []
    assert table.find({}, sort=[("_id", 1)], skip=0, limit=10**30) == [{"_id": "r1", "n": 1}]


def test_a_tally_of_several_fields_counts_each_combination_in_one_pass(backend):
    table = backend.database.table("rows")
    table.ensure_index([("area", 1), ("status", 1), ("risk", 1)])
    for n, (area, status, risk) in enumerate([("a", "open", True), ("a", "open", True),
                                              ("a", "closed", False), ("b", "open", False)]):
        table.insert({"_id": f"r{n}", "area": area, "status": status, "risk": risk})
    assert table.tally({"area": "a"}, ("status", "risk")) == {("open", True): 2,
                                                              ("closed", False): 1}
    assert table.tally({}, ("area",)) == {("a",): 3, ("b",): 1}
