"""Dispatch's documents and the repository that maps them to domain objects.

Guarantees, on both backends:
- An incident is written only if its stored `version` is the one the change was computed
  from (`save_incident` returns False otherwise, and writes nothing). MongoDB makes a
  filtered update_one atomic; the embedded store gets the same from `storage.exclusive`.
- A notification and every other event of a change are stored in the incident document in
  that same write, so a change cannot happen without its pages, nor a page twice.
- Each pending acknowledgement deadline has a row in `deadlines` (a small collection, swept
  periodically) that is never later than the incident's own deadline: it is written before
  the incident on intake and moved after it on change. A stale row is harmless: the sweep
  finds the incident has nothing due and corrects or drops it.
"""
from datetime import timezone

from mongoengine import DateTimeField, DictField, Document, IntField, ListField, StringField
from pymongo.errors import DuplicateKeyError

from kit import storage

from . import exceptions
from .domain import STATES, AuditEntry, DepartmentCall, Incident, Notification, Recipient
from .requests import Note, Routing, ServiceRequest, Visit

ALIAS = "dispatch"


class IncidentDoc(Document):
    meta = {"collection": "incidents", "db_alias": ALIAS,
            "indexes": [storage.OUTBOX_INDEX, ("enterprise_id", "-reported_at"), "officer_ids",
                        "state"]}
    id = StringField(primary_key=True)
    enterprise_id = StringField(required=True)
    state = StringField(required=True)
    version = IntField(required=True)
    reported_at = DateTimeField(required=True)
    officer_ids = ListField(StringField())
    body = DictField()
    outbox = ListField(DictField())


class DeadlineDoc(Document):
    """One row per incident waiting for an acknowledgement: when its deadline is due, and the
    same as a whole second (`slot`), so "what came due in the last few seconds" is a few exact
    lookups on an index rather than a range (see due_deadlines)."""
    meta = {"collection": "deadlines", "db_alias": ALIAS, "indexes": ["due", "slot"]}
    incident_id = StringField(primary_key=True)
    due = DateTimeField(required=True)
    slot = IntField(required=True)


class RequestDoc(Document):
    meta = {"collection": "requests", "db_alias": ALIAS,
            "indexes": [storage.OUTBOX_INDEX, ("enterprise_id", "-requested_at"), "status",
                        "routed_officer"]}
    id = StringField(primary_key=True)
    enterprise_id = StringField(required=True)
    status = StringField(required=True)
    requested_at = DateTimeField(required=True)
    routed_officer = StringField()
    version = IntField(required=True)
    body = DictField()
    outbox = ListField(DictField())


class VisitBookDoc(Document):
    """All visits planned to one enterprise, in one document: planning one is a conditional
    update of the book, so two officers planning at once cannot both take the last slot."""

    meta = {"collection": "visit_books", "db_alias": ALIAS, "indexes": [storage.OUTBOX_INDEX]}
    enterprise_id = StringField(primary_key=True)
    version = IntField(required=True)
    visits = ListField(DictField())
    outbox = ListField(DictField())


class Repository:
    def __init__(self, unit_of_work=None):
        self.unit = unit_of_work or storage.UnitOfWork()

    @staticmethod
    def ensure_indexes():
        for doc_cls in (IncidentDoc, DeadlineDoc, RequestDoc, VisitBookDoc):
            doc_cls.ensure_indexes()

    @staticmethod
    def outbox_collections():
        return [d._get_collection() for d in (IncidentDoc, RequestDoc, VisitBookDoc)]

    # --- incidents -----------------------------------------------------------------------

    def add_incident(self, incident, events):
        if incident.deadline is not None:  # before the incident, and never later than a row
            self.set_deadline(incident.id, incident.deadline, only_earlier=True)  # already there
        entries = storage.queued(events)
        row = dict(_incident_row(incident), outbox=entries)
        try:
            IncidentDoc._get_collection().insert_one(row)
        except DuplicateKeyError:
            raise exceptions.IncidentExists(
                {"id": [f"incident {incident.id} already exists"]}) from None
        self.unit.touch(IncidentDoc._get_collection(), incident.id, entries)

    def save_incident(self, incident, expected_version, events):
        """Write the incident if it is still at `expected_version`; False (nothing written)
        if another change got there first."""
        collection = IncidentDoc._get_collection()
        entries = storage.queued(events)
        with storage.exclusive(ALIAS):
            result = collection.update_one(
                {"_id": incident.id, "version": expected_version},
                {"$set": _incident_row(incident),
                 "$push": {storage.OUTBOX_FIELD: {"$each": entries}}})
        if result.matched_count == 0:
            return False
        self.unit.touch(collection, incident.id, entries)
        if incident.deadline is not None:
            self.set_deadline(incident.id, incident.deadline)
        else:
            self.drop_deadline(incident.id)
        return True

    def get_incident(self, incident_id):
        raw = IncidentDoc._get_collection().find_one({"_id": incident_id})
        if raw is None:
            raise exceptions.IncidentNotFound(incident_id)
        return _incident(raw["body"])

    def list_incidents(self, skip=0, limit=50, enterprise_id=None, officer_id=None,
                       state=None, reach=None):
        """Newest first. `reach` ({enterprise_ids, officer_id}) keeps only the incidents of
        those enterprises or paged to that officer."""
        query = _reach(reach, "officer_ids")
        if enterprise_id is not None:
            query["enterprise_id"] = enterprise_id
        if officer_id is not None:
            query["officer_ids"] = officer_id
        if state is not None:
            query["state"] = state
        collection = IncidentDoc._get_collection()
        total = collection.count_documents(query)
        rows = collection.find(query, {"body": 1}).sort("reported_at", -1).skip(skip).limit(limit)
        return [_incident(r["body"]) for r in rows], total

    def incident_figures(self):
        """How many incidents are in each state (every state, zeros too), for the gauges:
        one count on the `state` index per state."""
        collection = IncidentDoc._get_collection()
        return {state: collection.count_documents({"state": state}) for state in STATES}

    # --- deadlines -----------------------------------------------------------------------

    def set_deadline(self, incident_id, due, only_earlier=False):
        row = {"due": due, "slot": _slot(due)}
        collection = DeadlineDoc._get_collection()
        with storage.exclusive(ALIAS):
            if not only_earlier:
                collection.update_one({"_id": incident_id}, {"$set": row}, upsert=True)
                return
            try:  # only where no row is due as early: else the upsert meets the existing _id
                collection.update_one({"_id": incident_id, "due": {"$gt": due}}, {"$set": row},
                                      upsert=True)
            except DuplicateKeyError:
                pass

    def drop_deadline(self, incident_id):
        with storage.exclusive(ALIAS):
            DeadlineDoc._get_collection().delete_one({"_id": incident_id})

    def due_deadlines(self, now, limit=1000, since=None):
        """Incident ids whose deadline row has come due, earliest first. With `since`, only
        rows that came due from then on (to the second): one lookup on the `slot` index per
        second, which stays cheap however many deadlines are pending; a sweep without
        `since` (a range on `due`) finds the rest."""
        collection = DeadlineDoc._get_collection()
        if since is None or _slot(now) - _slot(since) > MAX_SLOTS:
            rows = collection.find({"due": {"$lte": now}}).sort("due", 1).limit(limit)
            return [r["_id"] for r in rows]
        rows = [r for slot in range(_slot(since), _slot(now) + 1)
                for r in collection.find({"slot": slot}) if r["due"] <= now]
        return [r["_id"] for r in sorted(rows, key=lambda r: r["due"])[:limit]]

    def pending_deadlines(self):
        """Every deadline row, by incident id."""
        return {r["_id"]: r["due"] for r in DeadlineDoc._get_collection().find()}

    # --- requests and visits ---------------------------------------------------------------

    def add_request(self, request, events):
        entries = storage.queued(events)
        try:
            RequestDoc._get_collection().insert_one(dict(_request_row(request, 0),
                                                         outbox=entries))
        except DuplicateKeyError:
            raise exceptions.RequestExists(
                {"id": [f"request {request.id} already exists"]}) from None
        self.unit.touch(RequestDoc._get_collection(), request.id, entries)

    def get_request(self, request_id):
        """(request, version)"""
        raw = RequestDoc._get_collection().find_one({"_id": request_id})
        if raw is None:
            raise exceptions.RequestNotFound(request_id)
        return _request(raw["body"]), raw["version"]

    def save_request(self, request, expected_version, events):
        collection = RequestDoc._get_collection()
        entries = storage.queued(events)
        with storage.exclusive(ALIAS):
            result = collection.update_one(
                {"_id": request.id, "version": expected_version},
                {"$set": _request_row(request, expected_version + 1),
                 "$push": {storage.OUTBOX_FIELD: {"$each": entries}}})
        if result.matched_count == 0:
            return False
        self.unit.touch(collection, request.id, entries)
        return True

    def list_requests(self, skip=0, limit=50, enterprise_id=None, status=None, reach=None):
        """Newest first. `reach` ({enterprise_ids, officer_id}) keeps only the requests of
        those enterprises or routed to that officer."""
        query = _reach(reach, "routed_officer")
        query.update({k: v for k, v in (("enterprise_id", enterprise_id), ("status", status))
                      if v is not None})
        collection = RequestDoc._get_collection()
        total = collection.count_documents(query)
        rows = collection.find(query, {"body": 1}).sort("requested_at", -1).skip(skip).limit(limit)
        return [_request(r["body"]) for r in rows], total

    def visit_book(self, enterprise_id):
        """(visits to the enterprise, book version); version 0 for a book not yet written."""
        raw = VisitBookDoc._get_collection().find_one({"_id": enterprise_id})
        if raw is None:
            return [], 0
        return [_visit(v) for v in raw["visits"]], raw["version"]

    def save_visit_book(self, enterprise_id, visits, expected_version, events):
        """Write the enterprise's visits if the book is still at `expected_version`."""
        collection = VisitBookDoc._get_collection()
        entries = storage.queued(events)
        update = {"$set": {"visits": [storage.plain(v) for v in visits],
                           "version": expected_version + 1},
                  "$push": {storage.OUTBOX_FIELD: {"$each": entries}}}
        try:
            with storage.exclusive(ALIAS):
                result = collection.update_one({"_id": enterprise_id,
                                                "version": expected_version},
                                               update, upsert=expected_version == 0)
        except DuplicateKeyError:  # two first visits at once: the other one won
            return False
        if result.matched_count == 0 and result.upserted_id is None:
            return False
        self.unit.touch(collection, enterprise_id, entries)
        return True

    def all_visits(self):
        return [_visit(v) for raw in VisitBookDoc._get_collection().find()
                for v in raw["visits"]]


# --- mapping -------------------------------------------------------------------------------

MAX_SLOTS = 600  # a longer look back is one range query instead


def _slot(moment):
    """The whole UTC second of a naive UTC datetime."""
    return int(moment.replace(tzinfo=timezone.utc).timestamp())


def _incident_row(incident):
    return {"_id": incident.id, "enterprise_id": incident.enterprise_id,
            "state": incident.state, "version": incident.version,
            "reported_at": incident.reported_at,
            "officer_ids": sorted(incident.notified_officer_ids()),
            "body": storage.plain(incident)}


def _recipient(row):
    return Recipient(**row) if row else None


def _incident(body):
    body = dict(body)
    body["ladder"] = tuple(_recipient(r) for r in body["ladder"])
    body["duty_officer"] = _recipient(body["duty_officer"])
    body["station"] = _recipient(body["station"])
    body["notifications"] = [Notification(**dict(n, recipient=_recipient(n["recipient"])))
                             for n in body["notifications"]]
    body["departments"] = [DepartmentCall(**d) for d in body["departments"]]
    body["audit"] = [AuditEntry(**a) for a in body["audit"]]
    return Incident(**body)


def _request_row(request, version):
    routed = request.routed_to
    return {"_id": request.id, "enterprise_id": request.enterprise_id,
            "status": request.status, "requested_at": request.requested_at,
            "routed_officer": routed.target if routed and routed.kind == "officer" else None,
            "version": version, "body": storage.plain(request)}


def _reach(reach, officer_field):
    """The query part that keeps a listing to what a caller's scope reaches."""
    if reach is None:
        return {}
    either = [{"enterprise_id": {"$in": list(reach.get("enterprise_ids") or [])}}]
    if reach.get("officer_id"):
        either.append({officer_field: reach["officer_id"]})
    return {"$or": either}


def _request(body):
    body = dict(body)
    body["routed_to"] = Routing(**body["routed_to"]) if body["routed_to"] else None
    body["status_notes"] = [Note(**n) for n in body["status_notes"]]
    body["follow_ups"] = [Note(**n) for n in body["follow_ups"]]
    return ServiceRequest(**body)


def _visit(body):
    return Visit(**body)
