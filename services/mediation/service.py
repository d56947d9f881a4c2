"""Mediation's entrypoints: schema in, handler, schema out."""
from contracts.fields import utcnow
from kit.errors import RecordNotFound, ValidationFailed
from kit.heap import SettledHeap
from kit.metrics import Metrics
from kit.rpc import rpc
from kit.schemas import dump, load, paged
from kit.storage import Storage

from . import handlers, schemas
from .store import Repository

EXPECTED = (ValidationFailed, RecordNotFound)


class MediationService:
    name = "mediation"

    store = Storage(Repository)
    metrics = Metrics()
    heap = SettledHeap()

    @rpc
    def ping(self):
        return "pong"

    @rpc(expected_exceptions=EXPECTED)
    def register_dispute(self, data, actor, request_key=None):
        dispute = handlers.register_dispute(self.store, load(schemas.DisputeInput, data),
                                            load(schemas.Actor, actor), utcnow(), request_key)
        return dump(schemas.Dispute, dispute)

    @rpc(expected_exceptions=EXPECTED)
    def get_dispute(self, dispute_id):
        return dump(schemas.Dispute, self.store.disputes.get(dispute_id))

    @rpc(expected_exceptions=EXPECTED)
    def list_disputes(self, query=None, filters=None):
        filters = load(schemas.DisputeFilter, filters or {})
        return paged(query, lambda skip, limit: handlers.list_disputes(
            self.store, skip, limit, **filters), schemas.Dispute)
