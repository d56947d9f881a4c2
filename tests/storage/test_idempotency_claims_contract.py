"""The gateway's kept Idempotency-Keys, run against every storage backend.

Whatever the backend: a key is claimed by one gateway process at a time; its answer, once
kept, is what every retry gets; a claim left by a gateway that died is taken over once its
lease ran out, by exactly one of several retries at once; an expired key counts as absent
and is removed by the store (MongoDB's TTL index) or by the gateway's purge (embedded).
"""
import multiprocessing
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import eventlet
import mongoengine
import pytest

from contracts.fields import utcnow
from gateway.auth import Principal
from gateway.idempotency import (ALIAS, RETENTION, Answer, Claims, IdempotencyKeyReused,
                                 IdempotencyStore, RequestInProgress, request_key)
from kit import storage

DATABASE = f"liaison_{ALIAS}"
NOW = datetime(2025, 4, 15, 8, 30)  # whole seconds: stored times keep milliseconds
LEASE = timedelta(seconds=5)
KEY = "officer:o-1:ent-1:o-1:key-1"


@dataclass
class Backend:
    name: str
    mongo_uri: str | None
    data_dir: Path | None

    @property
    def ttl(self):
        return self.mongo_uri is not None


@pytest.fixture(params=["embedded", "mongodb"])
def backend(request, tmp_path):
    if request.param == "embedded":
        data_dir = tmp_path / "data"
        storage.connect(ALIAS, None, data_dir)
        yield Backend("embedded", None, data_dir)
        mongoengine.disconnect(alias=ALIAS)
        return
    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        pytest.skip("MONGO_URI is not set: the MongoDB run of the storage contract is skipped")
    storage.connect(ALIAS, mongo_uri)
    mongoengine.get_connection(ALIAS).drop_database(DATABASE)  # a killed run may have left data
    yield Backend("mongodb", mongo_uri, None)
    storage.connect(ALIAS, mongo_uri)
    mongoengine.get_connection(ALIAS).drop_database(DATABASE)
    mongoengine.disconnect(alias=ALIAS)


def gateway(backend, owner):
    """The claims as one gateway process (`owner`) sees them."""
    claims = Claims(owner, LEASE)
    claims.ensure_indexes(backend.ttl)
    return claims


@pytest.fixture
def first(backend):
    return gateway(backend, "gateway-1")


@pytest.fixture
def second(backend):
    return gateway(backend, "gateway-2")


def test_a_key_is_claimed_once_and_its_answer_kept_for_every_retry(first, second):
    assert first.claim(KEY, "body-a", NOW) is None
    with pytest.raises(RequestInProgress):
        second.claim(KEY, "body-a", NOW + timedelta(seconds=1))
    with pytest.raises(RequestInProgress):  # the same process too, while its run goes on
        first.claim(KEY, "body-a", NOW + timedelta(seconds=1))

    assert first.settle(KEY, 201, {"id": "i1"})

    later = NOW + LEASE * 10  # a kept answer holds past any lease
    assert second.claim(KEY, "body-a", later) == Answer(201, {"id": "i1"})
    assert first.claim(KEY, "body-a", later) == Answer(201, {"id": "i1"})
    with pytest.raises(IdempotencyKeyReused):
        second.claim(KEY, "body-b", later)


def test_a_different_body_under_a_running_claim_is_refused_as_reused(first, second):
    first.claim(KEY, "body-a", NOW)
    with pytest.raises(IdempotencyKeyReused):
        second.claim(KEY, "body-b", NOW)


def test_a_failed_run_releases_its_key_for_a_retry(first, second):
    first.claim(KEY, "body-a", NOW)
    first.release(KEY)
    assert second.claim(KEY, "body-a", NOW + timedelta(seconds=1)) is None
    first.release(KEY)  # not first's claim any more: it stays
    with pytest.raises(RequestInProgress):
        first.claim(KEY, "body-a", NOW + timedelta(seconds=1))


def test_a_claim_left_behind_is_taken_over_once_its_lease_ran_out(first, second):
    first.claim(KEY, "body-a", NOW)  # ... and first dies mid-request
    with pytest.raises(RequestInProgress):
        second.claim(KEY, "body-a", NOW + LEASE - timedelta(seconds=1))

    assert second.claim(KEY, "body-a", NOW + LEASE + timedelta(seconds=1)) is None

    assert not first.settle(KEY, 201, {"id": "late"})  # a stalled first does not overwrite
    first.release(KEY)
    assert second.settle(KEY, 201, {"id": "i1"})
    assert first.claim(KEY, "body-a", NOW + LEASE * 3) == Answer(201, {"id": "i1"})


def test_a_kept_lease_holds_the_claim_while_its_run_goes_on(first, second):
    first.claim(KEY, "body-a", NOW)
    renewed = NOW + LEASE - timedelta(seconds=1)
    assert first.keep(KEY, renewed)
    with pytest.raises(RequestInProgress):
        second.claim(KEY, "body-a", NOW + LEASE + timedelta(seconds=1))

    assert second.claim(KEY, "body-a", renewed + LEASE + timedelta(seconds=1)) is None
    assert not first.keep(KEY, renewed + LEASE + timedelta(seconds=2))  # no longer its own


def test_an_expired_key_counts_as_absent_until_the_store_removes_it(first, second):
    first.claim(KEY, "body-a", NOW)
    first.settle(KEY, 201, {"id": "i1"})
    expired = NOW + RETENTION + timedelta(seconds=1)

    assert second.claim(KEY, "body-b", expired) is None  # neither replayed nor "reused"
    assert second.settle(KEY, 201, {"id": "i2"})
    assert first.claim(KEY, "body-b", expired) == Answer(201, {"id": "i2"})


def test_the_store_or_the_purge_removes_expired_keys_and_only_those(backend, first):
    for n in range(3):
        first.claim(f"k{n}", "body", NOW + timedelta(minutes=n))
    first.settle("k0", 201, {"id": "i0"})
    collection = first.collection()
    indexes = collection.index_information().values()
    ttl = [i for i in indexes if i.get("expireAfterSeconds") is not None]
    if backend.ttl:  # MongoDB removes them itself (within its minute-long TTL cycle)
        assert [(i["key"], i["expireAfterSeconds"]) for i in ttl] == [([("expires", 1)], 0)]
        return
    assert ttl == []  # the embedded store would scan every key on every lookup
    end = NOW + RETENTION

    assert first.purge(end - timedelta(seconds=1)) == 0
    assert first.purge(end + timedelta(seconds=30), since=end - timedelta(seconds=1)) == 1
    assert sorted(r["_id"] for r in collection.find()) == ["k1", "k2"]
    assert first.purge(end + timedelta(minutes=2), since=end + timedelta(seconds=30)) == 2
    assert collection.count_documents({}) == 0


def test_a_purge_that_looks_back_far_reads_every_expired_key(backend, first):
    if backend.ttl:
        pytest.skip("MongoDB removes expired keys itself: the gateway does not purge it")
    for n in range(3):
        first.claim(f"k{n}", "body", NOW + timedelta(hours=n))
    end = NOW + RETENTION + timedelta(hours=1, minutes=1)
    assert first.purge(end, since=NOW) == 2  # a day ago: one range query, not 1,500 lookups
    assert [r["_id"] for r in first.collection().find()] == ["k2"]


def test_a_request_that_runs_past_its_lease_keeps_its_claim(backend, second):
    store = IdempotencyStore()
    store.claims = Claims("gateway-1", timedelta(seconds=1.5))  # renewed every 0.5 s
    principal = Principal("desk-1", "supervisor")
    key = request_key(principal, "key-1")
    meanwhile = []

    def handle():  # a slow request: the other gateway's retry comes after the first lease
        eventlet.sleep(2.5)
        try:
            second.claim(key, "body-a", utcnow())
        except RequestInProgress:
            meanwhile.append("in progress")
        return 201, {"id": "i1"}

    assert store.run_once(principal, "key-1", "body-a", handle) == (201, {"id": "i1"}, False)
    assert meanwhile == ["in progress"]
    assert second.claim(key, "body-a", utcnow()) == Answer(201, {"id": "i1"})


# --- several gateway processes, one store ---------------------------------------------------

N = 20
WORKERS = 3


def take_over_all(mongo_uri, data_dir, owner, keys, now, barrier, taken):
    """A gateway process: its own connection, then a retry of every key at (almost) the same
    moment as the others. Adds how many claims it took over to `taken`."""
    storage.connect(ALIAS, mongo_uri, data_dir)
    claims = Claims(owner, LEASE)
    count = 0
    for key in keys:
        barrier.wait(timeout=60)
        try:
            count += claims.claim(key, "body", now) is None
        except RequestInProgress:
            pass
    with taken.get_lock():
        taken.value += count


def test_of_several_retries_at_once_exactly_one_takes_a_claim_left_behind(backend, first):
    keys = [f"k{n:02d}" for n in range(N)]
    for key in keys:
        first.claim(key, "body", NOW)  # ... and the gateway that claimed them died

    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(WORKERS)
    taken = spawn.Value("i", 0)
    later = NOW + LEASE + timedelta(seconds=1)
    workers = [spawn.Process(target=take_over_all, args=(
        backend.mongo_uri, str(backend.data_dir) if backend.data_dir else None,
        f"gateway-{n + 2}", keys, later, barrier, taken)) for n in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=90)
    for worker in workers:
        if worker.is_alive():
            worker.kill()
    assert [w.exitcode for w in workers] == [0] * WORKERS

    assert taken.value == N
    owners = {r["_id"]: r["owner"] for r in first.collection().find()}
    assert set(owners) == set(keys) and "gateway-1" not in owners.values()
