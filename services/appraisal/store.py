"""Appraisal's invitations (with the ratings they collected) in its own database."""
from contracts.events import APPRAISAL_EVENTS, APPRAISAL_SOURCE
from kit.collection import Collection, Events, Kind, UnitOfWork

from .domain import AnnualList, ChiefRating, Invitation, SpotCheck
from .exceptions import (ChiefRatingNotFound, ChiefRatingRefused, InvitationChangedMeanwhile,
                         InvitationExists, InvitationNotFound, ListChangedMeanwhile, ListExists,
                         ListNotFound, SpotCheckNotFound)

INVITATIONS = Kind(
    "invitations", Invitation, not_found=InvitationNotFound,
    exists=lambda i: InvitationExists(i.id), changed_meanwhile=InvitationChangedMeanwhile,
    indexed=lambda i: {"enterprise_id": i.enterprise_id, "issued_at": i.issued_at,
                       "officer_ids": list(i.officer_ids),
                       # until when it waits for a rating: none once every officer is rated
                       "unrated_until": None if len(i.ratings) == len(i.officer_ids)
                       else i.expires_at},
    indexes=(([("enterprise_id", 1), ("issued_at", -1)], False), ([("issued_at", -1)], False),
             ("officer_ids", False), ([("unrated_until", 1)], False)))
LISTS = Kind("lists", AnnualList, not_found=ListNotFound, exists=lambda a: ListExists(a.id),
             changed_meanwhile=ListChangedMeanwhile)
SPOT_CHECKS = Kind("spot_checks", SpotCheck, not_found=SpotCheckNotFound,
                   exists=lambda c: ListExists(c.id), changed_meanwhile=ListChangedMeanwhile)
CHIEF_RATINGS = Kind(
    "chief_ratings", ChiefRating, not_found=ChiefRatingNotFound,
    exists=lambda r: ChiefRatingRefused("seat", f"the {r.seat} rated {r.officer_id} for "
                                                f"{r.year} Q{r.quarter} already"),
    changed_meanwhile=ListChangedMeanwhile,
    indexed=lambda r: {"year": r.year, "officer_id": r.officer_id},
    indexes=(([("year", 1), ("officer_id", 1)], False),))
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
        self.chief_ratings = Collection(database.table(CHIEF_RATINGS.table), CHIEF_RATINGS,
                                        EVENTS, self.unit)
        self.assignments = database.table("assignments")

    def ensure_indexes(self):
        self.invitations.ensure_indexes()
        self.lists.ensure_indexes()
        self.spot_checks.ensure_indexes()
        self.chief_ratings.ensure_indexes()
        self.facts.ensure_index([("officer_id", 1), ("at", 1), ("kind", 1), ("value", 1)])
        self.facts.ensure_index([("kind", 1), ("at", 1), ("officer_id", 1), ("value", 1)])
        self.assignments.ensure_index([("enterprise_id", 1), ("valid_from", 1)])

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

    def county_facts(self, kinds, start, end, by_value=False):
        """{(officer, kind[, value]): count} of every officer's facts of `kinds` in
        [start, end), counted by the database on the (kind, at) index."""
        fields = ("officer_id", "kind", "value") if by_value else ("officer_id", "kind")
        return self.facts.tally({"kind": {"$in": list(kinds)}, "at": {"$gte": start,
                                                                      "$lt": end}}, fields)

    # --- who is an enterprise's A officer, from the registry's events --------------------

    def record_assignment(self, enterprise_id, revision, a_officer_id, valid_from):
        """One assignment version of an enterprise (kept once per revision)."""
        self.assignments.update({"_id": f"{enterprise_id}:{revision}"},
                                {"$setOnInsert": {"enterprise_id": enterprise_id,
                                                  "a_officer_id": a_officer_id,
                                                  "valid_from": valid_from}}, upsert=True)

    def a_officer_at(self, enterprise_id, at):
        """The enterprise's A officer at `at` (None: none known)."""
        rows = self.assignments.find({"enterprise_id": enterprise_id,
                                      "valid_from": {"$lte": at}},
                                     sort=[("valid_from", -1)], limit=1)
        row = next(iter(rows), None)
        return None if row is None else row["a_officer_id"]

    def assignments_until(self, end):
        """Every assignment version from before `end`, oldest first."""
        return self.assignments.find({"valid_from": {"$lt": end}},
                                     sort=[("valid_from", 1)])

    def outbox_tables(self):
        return [self.invitations.table, self.lists.table, self.spot_checks.table,
                self.chief_ratings.table]

    def list(self, skip, limit, enterprise_id=None, officer_id=None):
        query = {k: v for k, v in (("enterprise_id", enterprise_id),
                                   ("officer_ids", officer_id)) if v is not None}
        return self.invitations.list(query, sort=[("issued_at", -1)], skip=skip, limit=limit)

    def expired_unrated(self, now):
        """Invitations that expired with an officer still unrated, counted on their index."""
        return self.invitations.count({"unrated_until": {"$lt": now}})

    def ratings_between(self, issued_from, issued_to, start, end):
        """(officer, enterprise, score) of every rating given in [start, end) on invitations
        issued in [issued_from, issued_to), read from the stored documents as they are (no
        invitation rebuilt: a year may hold millions)."""
        for row in self.invitations.table.find({"issued_at": {"$gte": issued_from,
                                                              "$lt": issued_to}}):
            body = row["body"]
            for rating in body["ratings"]:
                if start <= rating["rated_at"] < end:
                    yield rating["officer_id"], body["enterprise_id"], rating["score"]

    def issued_between(self, start, end):
        return self.invitations.all({"issued_at": {"$gte": start, "$lt": end}})
