"""Mediation's disputes in its own database (see kit.collection for the guarantees)."""
from contracts.events import MEDIATION_EVENTS, MEDIATION_SOURCE
from kit.collection import Collection, Events, Kind, UnitOfWork

from .domain import Dispute
from .exceptions import DisputeChangedMeanwhile, DisputeExists, DisputeNotFound

DISPUTES = Kind(
    "disputes", Dispute, not_found=DisputeNotFound, exists=lambda d: DisputeExists(d.id),
    changed_meanwhile=DisputeChangedMeanwhile,
    indexed=lambda d: {"enterprise_id": d.enterprise_id, "status": d.status,
                       "registered_at": d.registered_at},
    indexes=(([("enterprise_id", 1), ("registered_at", -1)], False), ("status", False)))


class Repository:
    def __init__(self, database, unit=None):
        self.unit = unit or UnitOfWork()
        events = Events(MEDIATION_SOURCE, MEDIATION_EVENTS)
        self.disputes = Collection(database.table("disputes"), DISPUTES, events, self.unit)

    def ensure_indexes(self):
        self.disputes.ensure_indexes()

    def outbox_tables(self):
        return [self.disputes.table]
