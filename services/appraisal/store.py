"""Appraisal's invitations (with the ratings they collected) in its own database."""
from contracts.events import APPRAISAL_EVENTS, APPRAISAL_SOURCE
from kit.collection import Collection, Events, Kind, UnitOfWork

from .domain import AnnualList, Invitation
from .exceptions import (InvitationChangedMeanwhile, InvitationExists, InvitationNotFound,
                         ListChangedMeanwhile, ListExists, ListNotFound)

INVITATIONS = Kind(
    "invitations", Invitation, not_found=InvitationNotFound,
    exists=lambda i: InvitationExists(i.id), changed_meanwhile=InvitationChangedMeanwhile,
    indexed=lambda i: {"enterprise_id": i.enterprise_id, "issued_at": i.issued_at,
                       "officer_ids": list(i.officer_ids)},
    indexes=(([("enterprise_id", 1), ("issued_at", -1)], False), ([("issued_at", -1)], False),
             ("officer_ids", False)))
LISTS = Kind("lists", AnnualList, not_found=ListNotFound, exists=lambda a: ListExists(a.id),
             changed_meanwhile=ListChangedMeanwhile)
EVENTS = Events(APPRAISAL_SOURCE, APPRAISAL_EVENTS)


class Repository:
    def __init__(self, database, unit=None):
        self.unit = unit if unit is not None else UnitOfWork()
        self.invitations = Collection(database.table(INVITATIONS.table), INVITATIONS, EVENTS,
                                      self.unit)
        self.lists = Collection(database.table(LISTS.table), LISTS, EVENTS, self.unit)

    def ensure_indexes(self):
        self.invitations.ensure_indexes()
        self.lists.ensure_indexes()

    def outbox_tables(self):
        return [self.invitations.table, self.lists.table]

    def list(self, skip, limit, enterprise_id=None, officer_id=None):
        query = {k: v for k, v in (("enterprise_id", enterprise_id),
                                   ("officer_ids", officer_id)) if v is not None}
        return self.invitations.list(query, sort=[("issued_at", -1)], skip=skip, limit=limit)

    def issued_between(self, start, end):
        return self.invitations.all({"issued_at": {"$gte": start, "$lt": end}})
