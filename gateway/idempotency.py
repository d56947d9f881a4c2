"""Idempotency-Key on POST: the same key and body give the same answer, and run once.

The first request with a key claims it (a unique key in the gateway's own database); a retry
while it runs gets 409; a retry after a success gets the stored answer; the same key with a
different body gets 422. A request that failed releases its key, so the client may try again.
Keys are per caller (JWT `sub`) and kept for `RETENTION`.
"""
import hashlib
from datetime import timedelta

from mongoengine import DateTimeField, DictField, Document, IntField, NotUniqueError, StringField
from nameko.extensions import SharedExtension

from contracts.fields import utcnow
from kit import storage

RETENTION = timedelta(hours=24)


class IdempotencyKeyReused(Exception):
    """The key was already used for a different request."""


class RequestInProgress(Exception):
    """A request with this key is still being handled."""


class IdempotentRequest(Document):
    meta = {"collection": "idempotency", "db_alias": "gateway", "indexes": ["created"]}
    key = StringField(primary_key=True)
    fingerprint = StringField(required=True)
    created = DateTimeField(required=True)
    status = IntField()
    body = DictField()


def fingerprint(method, path, body):
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


class IdempotencyStore(SharedExtension):
    def setup(self):
        config = self.container.config
        storage.connect("gateway", config.get("MONGO_URI") or None,
                        config.get("DATA_DIR") or "data")

    def start(self):
        IdempotentRequest.ensure_indexes()

    def run_once(self, scope, key, print_, handle):
        """`handle()`'s (status, body), or the stored answer of an earlier identical request."""
        doc_key = f"{scope}:{key}"
        try:
            IdempotentRequest(key=doc_key, fingerprint=print_,
                              created=utcnow()).save(force_insert=True)
        except NotUniqueError:
            return self._earlier(doc_key, print_)
        try:
            status, body = handle()
        except BaseException:
            IdempotentRequest.objects(key=doc_key).delete()
            raise
        IdempotentRequest.objects(key=doc_key).update_one(set__status=status,
                                                         set__body={"json": body})
        return status, body, False

    def _earlier(self, doc_key, print_):
        earlier = IdempotentRequest.objects(key=doc_key).first()
        if earlier is None or utcnow() - earlier.created > RETENTION:
            raise RequestInProgress("the key was released meanwhile; send the request again")
        if earlier.fingerprint != print_:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
        if earlier.status is None:
            raise RequestInProgress("a request with this Idempotency-Key is still running")
        return earlier.status, earlier.body["json"], True
