"""Appraisal's invitations (with the ratings they collected) in its own database."""
from contracts.events import APPRAISAL_EVENTS, APPRAISAL_SOURCE
from kit.collection import Collection, Events, Kind, UnitOfWork

from .domain import AnnualList, Invitation, SpotCheck
from .exceptions import (InvitationChangedMeanwhile, InvitationExists, InvitationNotFound,
                         ListChangedMeanwhile, ListExists, ListNotFound, SpotCheckNotFound)

INVITATIONS = Kind(
    "invitations", Invitation, not_found=InvitationNotFound,
    exists=lambda i: InvitationExists(i.id), changed_meanwhile=InvitationChangedMeanwhile,
    indexed=lambda i: {"enterprise_id": i.enterprise_id, "issued_at": i.issued_at,
                       "officer_ids": list(i.officer_ids)},
    indexes=(([("enterprise_id", 1), ("issued_at", -1)], False), ([("issued_at", -1)], False),
             ("officer_ids", False)))
LISTS = Kind("lists", AnnualList, not_found=ListNotFound, exists=lambda a: ListExists(a.id),
             changed_meanwhile=ListChangedMeanwhile)
SPOT_CHECKS = Kind("spot_checks", SpotCheck, not_found=SpotCheckNotFound,
                   exists=lambda c: ListExists(c.id), changed_meanwhile=ListChangedMeanwhile)
EVENTS = Events(APPRAISAL_SOURCE, APPRAISAL_EVENTS)


class Repository:
    def __init__(self, database, unit=None):
        self.unit = unit if unit is not None else UnitOfWork()
        self.invitations = Collection(database.table(INVITATIONS.table), INVITATIONS, EVENTS,
                                      self.unit)
        self.lists = Collection(database.table(LISTS.table), LISTS, EVENTS, self.unit)
        self.facts = database.table("facts")
        self.spot_checks = Collection(database.table(SPOT_CHECKS.table), SPOT_CHECKS, EVENTS,
                                      self.unit)

    def ensure_indexes(self):
        self.invitations.ensure_indexes()
        self.lists.ensure_indexes()
        self.spot_checks.ensure_indexes()
        self.facts.ensure_index([("officer_id", 1), ("at", 1), ("kind", 1), ("value", 1)])

    # --- KPI facts from dispatch's events ----------------------------------------------------

    def record_fact(self, fact_id, officer_id, kind, value, at):
        """One fact about an officer (an acknowledgement and its latency, a missed page...);
        the same event's fact twice is kept once (its id is the row's)."""
        self.facts.update({"_id": fact_id},
                          {"$setOnInsert": {"officer_id": officer_id, "kind": kind,
                                            "value": value, "at": at}}, upsert=True)

    def facts_of(self, officer_id, start, end):
        """{(kind, value): count} of the officer's facts in [start, end), on the index."""
        return self.facts.tally({"officer_id": officer_id, "at": {"$gte": start, "$lt": end}},
                                ("kind", "value"))

    def outbox_tables(self):
        return [self.invitations.table, self.lists.table, self.spot_checks.table]

    def list(self, skip, limit, enterprise_id=None, officer_id=None):
        query = {k: v for k, v in (("enterprise_id", enterprise_id),
                                   ("officer_ids", officer_id)) if v is not None}
        return self.invitations.list(query, sort=[("issued_at", -1)], skip=skip, limit=limit)

    def issued_between(self, start, end):
        return self.invitations.all({"issued_at": {"$gte": start, "$lt": end}})
