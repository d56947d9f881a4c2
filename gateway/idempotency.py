"""Idempotency-Key on POST: the same key and body give the same answer, and run once.

The first request with a key claims it: a document in the gateway's own database that names
the claiming gateway process (`owner`) and holds for a lease, renewed while the request
runs. A retry while it runs gets 409; a retry after a success gets the stored answer; the
same key with a different body gets 422. A request that failed releases its key, so the
client may try again. A claim whose lease ran out (its gateway died mid-request) is taken
over by one retry, exactly one (a conditional write on the owner and lease it read), which
runs the request again: a service derives a new record's id from `request_key`, so the run
again finds what the first try made, or makes it.

Keys are scoped by the caller's full identity (role, sub, enterprise and officer id) and kept
for `RETENTION`: each document carries its `expires` moment, and a lookup treats an expired
key as absent. MongoDB removes expired keys itself (a TTL index on `expires`). The embedded
store could too, but it applies a TTL index by reading the whole collection on every
lookup, so there the gateway purges expired keys itself every `PURGE_EVERY` instead, by
exact lookups on a per-minute index.
"""
import hashlib
import logging
import uuid
from collections import namedtuple
from datetime import datetime, timedelta

import eventlet
from eventlet.event import Event
from mongoengine import DateTimeField, DictField, Document, IntField, StringField
from nameko.extensions import SharedExtension
from pymongo.errors import DuplicateKeyError

from contracts.clock import epoch_seconds, utcnow
from kit import storage

log = logging.getLogger(__name__)

ALIAS = "gateway"
RETENTION = timedelta(hours=24)
LEASE_MARGIN = timedelta(seconds=2)  # a claim's lease: RPC_TIMEOUT plus this, renewed
PURGE_EVERY = timedelta(seconds=60)
MAX_MINUTES = 24 * 60  # a longer look back is one range query instead

Answer = namedtuple("Answer", "status body")


class IdempotencyKeyReused(Exception):
    """The key was already used for a different request."""


class RequestInProgress(Exception):
    """A request with this key is still being handled."""


class IdempotentRequest(Document):
    """One kept key: the request it was first used for, who holds it while that runs, and
    the answer once it succeeded."""
    meta = {"collection": "idempotency", "db_alias": ALIAS}
    key = StringField(primary_key=True)
    fingerprint = StringField(required=True)
    created = DateTimeField(required=True)
    expires = DateTimeField(required=True)
    expiry_minute = IntField(required=True)
    owner = StringField()
    lease_until = DateTimeField()
    status = IntField()
    body = DictField()


def request_key(principal, key):
    """The caller's Idempotency-Key scoped by its full identity: the key under which the
    answer is kept, and from which a service derives the id of what the request makes."""
    return f"{principal.identity}:{key}"


def fingerprint(method, path, body):
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


class Claims:
    """The kept keys in the gateway's database, as one gateway process (`owner`) sees them.

    Every write is conditional on what was read (atomic on MongoDB; under the store's lock
    on the embedded one), so of several processes claiming, taking over or settling one key
    at once exactly one succeeds."""

    def __init__(self, owner, lease):
        self.owner = owner
        self.lease = lease

    @staticmethod
    def collection():
        return IdempotentRequest._get_collection()

    def ensure_indexes(self, ttl):
        """A TTL index on `expires` (`ttl`: the store removes expired keys itself), else the
        per-minute index that `purge` looks up."""
        if ttl:
            self.collection().create_index("expires", expireAfterSeconds=0)
        else:
            self.collection().create_index("expiry_minute")

    def claim(self, key, print_, now):
        """None once this owner holds the claim on `key`; the earlier request's Answer if it
        succeeded. Raises IdempotencyKeyReused for a different request, RequestInProgress
        while another owner's lease on it holds."""
        collection = self.collection()
        for _ in range(3):  # each round lost a race to another process that changed the key
            fresh = self._fresh(key, print_, now)
            try:
                with storage.exclusive(ALIAS):
                    collection.insert_one(fresh)
                return None
            except DuplicateKeyError:
                pass
            earlier = collection.find_one({"_id": key})
            if earlier is None:  # released or purged meanwhile
                continue
            if _expires(earlier) > now:
                if earlier["fingerprint"] != print_:
                    raise IdempotencyKeyReused(
                        "this Idempotency-Key was used for a different request")
                if earlier.get("status") is not None:
                    return Answer(earlier["status"], earlier["body"]["json"])
                if (earlier.get("lease_until") or datetime.min) > now:
                    raise RequestInProgress(
                        "a request with this Idempotency-Key is still running")
            if self._take_over(earlier, fresh):  # an expired key, or a claim left behind
                return None
        raise RequestInProgress("a request with this Idempotency-Key is changing hands; "
                                "send it again")

    def keep(self, key, now):
        """Renew this owner's lease on its claim; False if the claim is no longer its own."""
        with storage.exclusive(ALIAS):
            result = self.collection().update_one(
                {"_id": key, "owner": self.owner, "status": None},
                {"$set": {"lease_until": now + self.lease}})
        return result.matched_count == 1

    def settle(self, key, status, body):
        """Keep the answer of this owner's successful run; False if another owner took the
        claim over meanwhile (whose answer is then kept instead)."""
        with storage.exclusive(ALIAS):
            result = self.collection().update_one(
                {"_id": key, "owner": self.owner, "status": None},
                {"$set": {"status": status, "body": {"json": body}}})
        return result.matched_count == 1

    def release(self, key):
        """Give up this owner's claim (its run failed), so a retry runs the request again."""
        with storage.exclusive(ALIAS):
            self.collection().delete_one({"_id": key, "owner": self.owner, "status": None})

    def purge(self, now, since=None):
        """Remove every key expired by `now`; with `since` (an earlier purge's `now`), only
        those that expired from then on, one lookup per minute on the index. Returns how
        many were removed."""
        collection = self.collection()
        with storage.exclusive(ALIAS):
            if since is None or _minute(now) - _minute(since) > MAX_MINUTES:
                return collection.delete_many({"expires": {"$lte": now}}).deleted_count
            return sum(collection.delete_many({"expiry_minute": minute,
                                               "expires": {"$lte": now}}).deleted_count
                       for minute in range(_minute(since), _minute(now) + 1))

    def _fresh(self, key, print_, now):
        expires = now + RETENTION
        return {"_id": key, "fingerprint": print_, "created": now, "expires": expires,
                "expiry_minute": _minute(expires), "owner": self.owner,
                "lease_until": now + self.lease, "status": None}

    def _take_over(self, earlier, fresh):
        """Replace the key as it was read, if it still is (exactly one of several takers)."""
        read = {"_id": earlier["_id"], "owner": earlier.get("owner"),
                "lease_until": earlier.get("lease_until"), "status": earlier.get("status")}
        with storage.exclusive(ALIAS):
            return self.collection().replace_one(read, fresh).matched_count == 1


def _expires(row):
    """A key kept before keys carried `expires` lasts RETENTION from its creation."""
    return row.get("expires") or row["created"] + RETENTION


def _minute(moment):
    """The whole UTC minute of a naive UTC datetime."""
    return epoch_seconds(moment) // 60


class IdempotencyStore(SharedExtension):
    """The gateway's kept keys, with one owner id per process (a restarted gateway is a new
    owner) and a lease of RPC_TIMEOUT plus LEASE_MARGIN."""

    def __init__(self):
        super().__init__()
        self.claims = None
        self.ttl = False

    def setup(self):
        config = self.container.config
        mongo_uri = config.get("MONGO_URI") or None
        storage.connect(ALIAS, mongo_uri, config.get("DATA_DIR") or "data")
        lease = timedelta(seconds=float(config.get("RPC_TIMEOUT") or 3)) + LEASE_MARGIN
        self.claims = Claims(uuid.uuid4().hex, lease)
        self.ttl = mongo_uri is not None

    def start(self):
        self.claims.ensure_indexes(self.ttl)
        if not self.ttl:
            self.container.spawn_managed_thread(self._purge_periodically)

    def run_once(self, principal, key, print_, handle):
        """`handle()`'s (status, body, False), or (status, body, True): the stored answer of
        an earlier identical request by the same caller with the same key."""
        doc_key = request_key(principal, key)
        earlier = self.claims.claim(doc_key, print_, utcnow())
        if earlier is not None:
            return earlier.status, earlier.body, True
        done = Event()
        eventlet.spawn_n(self._keep, doc_key, done)
        try:
            status, body = handle()
        except BaseException:
            self.claims.release(doc_key)
            raise
        finally:
            done.send()
        self.claims.settle(doc_key, status, body)
        return status, body, False

    def _keep(self, doc_key, done):
        """Renew the claim while its request runs, so a live gateway never loses it."""
        every = self.claims.lease.total_seconds() / 3
        while True:
            done.wait(every)
            if done.ready():
                return
            try:
                if not self.claims.keep(doc_key, utcnow()):
                    return
            except Exception:  # the store failed: the lease holds a while, try again
                log.warning("could not renew the claim on an Idempotency-Key", exc_info=True)

    def _purge_periodically(self):
        since = None
        while True:
            now = utcnow()
            try:
                self.claims.purge(now, since)
                since = now
            except Exception:  # the next purge covers this one's keys
                log.exception("could not purge expired Idempotency-Keys")
            eventlet.sleep(PURGE_EVERY.total_seconds())
