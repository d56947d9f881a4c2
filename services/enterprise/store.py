"""The registry's documents and the repository that maps them to domain records.

Documents never leave this module. Every write that changes a record stores the record's new
events in the same document (see kit.storage), so a change and its events are one write.
"""
from dataclasses import asdict, fields as dc_fields

from bson import ObjectId
from collections import namedtuple
from mongoengine import (DateTimeField, DictField, Document, IntField, ListField,
                         NotUniqueError, StringField)
from pymongo.errors import DuplicateKeyError

from kit import storage

from . import exceptions
from .domain import (Absence, AssignmentHistory, AssignmentVersion, Contact, Enterprise, Grid,
                     Officer, Park, Station)

ALIAS = "enterprise"


class _Record(Document):
    meta = {"abstract": True, "db_alias": ALIAS, "indexes": [storage.OUTBOX_INDEX]}
    outbox = ListField(DictField())


class StationDoc(_Record):
    meta = {"collection": "stations"}
    name = StringField(required=True)
    kind = StringField(required=True)
    address = StringField(default="")
    phone = StringField(default="")


class ParkDoc(_Record):
    meta = {"collection": "parks", "indexes": ["station_id"]}
    name = StringField(required=True)
    station_id = StringField(required=True)
    address = StringField(default="")


class GridDoc(_Record):
    meta = {"collection": "grids", "indexes": ["station_id"]}
    code = StringField(required=True, unique=True)
    name = StringField(required=True)
    station_id = StringField(required=True)


class EnterpriseDoc(_Record):
    meta = {"collection": "enterprises", "indexes": ["station_id", "grid_id", "level"]}
    name = StringField(required=True)
    credit_code = StringField(required=True, unique=True)
    kind = StringField(required=True)
    level = StringField(required=True)
    stage = StringField(required=True)
    grid_id = StringField(required=True)
    station_id = StringField(required=True)
    park_id = StringField(null=True)
    address = StringField(default="")
    workforce = IntField(default=0)
    migrant_workers = IntField(default=0)
    contact = DictField()


class OfficerDoc(_Record):
    meta = {"collection": "officers", "indexes": ["station_id", "role"]}
    badge_number = StringField(required=True, unique=True)
    name = StringField(required=True)
    role = StringField(required=True)
    station_id = StringField(required=True)
    departments = ListField(StringField())
    phone = StringField(default="")
    absences = ListField(DictField())


class AssignmentDoc(_Record):
    """One document per enterprise holding its whole assignment history.

    `revision` is the number of versions; appending is conditional on it, so two concurrent
    changes cannot both build on the same version. `holders` lists, indexed, the officers who
    may be responsible from the time of the last change on (the version then in force and any
    later one), to find "which enterprises is this officer assigned to" without a scan.
    """

    meta = {"collection": "assignments", "indexes": ["holders"]}
    enterprise_id = StringField(primary_key=True)
    revision = IntField(default=0)
    versions = ListField(DictField())
    holders = ListField(StringField())


class TimelineDoc(Document):
    """An enterprise file entry, one per event; the event id makes recording idempotent."""

    meta = {"collection": "timeline", "db_alias": ALIAS,
            "indexes": [("enterprise_id", "time")]}
    event_id = StringField(primary_key=True)
    enterprise_id = StringField(required=True)
    time = DateTimeField(required=True)
    type = StringField(required=True)
    source = StringField(required=True)
    data = DictField()


class Repository:
    """The registry's records. Writes take the events to publish with the change."""

    def __init__(self, unit_of_work=None):
        self.unit = unit_of_work or storage.UnitOfWork()

    # --- infrastructure ----------------------------------------------------------------

    @staticmethod
    def ensure_indexes():
        for doc_cls in (StationDoc, ParkDoc, GridDoc, EnterpriseDoc, OfficerDoc, AssignmentDoc,
                        TimelineDoc):
            doc_cls.ensure_indexes()

    @staticmethod
    def outbox_collections():
        return [d._get_collection() for d in
                (StationDoc, ParkDoc, GridDoc, EnterpriseDoc, OfficerDoc, AssignmentDoc)]

    @staticmethod
    def new_id():
        return str(ObjectId())

    def add(self, record, events=()):
        """Insert a new record (its id already chosen) with its events."""
        kind = _KINDS[type(record)]
        doc = kind.doc(**_fields(record))
        entries = storage.queued(events)
        storage.stamp(doc, entries)
        try:
            doc.save(force_insert=True)
        except NotUniqueError:
            raise kind.duplicate(record) from None
        self._touch(kind.doc, doc.pk, entries)
        return kind.to_domain(doc)

    def update(self, record, events=()):
        """Overwrite a record's fields and queue its events, leaving unsent events in place."""
        kind = _KINDS[type(record)]
        raw = kind.doc(**_fields(record)).to_mongo().to_dict()
        pk = raw.pop("_id")
        raw.pop(storage.OUTBOX_FIELD, None)
        entries = storage.queued(events)
        try:
            with storage.exclusive(ALIAS):
                result = kind.doc._get_collection().update_one(
                    {"_id": pk},
                    {"$set": raw, "$push": {storage.OUTBOX_FIELD: {"$each": entries}}})
        except DuplicateKeyError:
            raise kind.duplicate(record) from None
        if result.matched_count == 0:
            raise kind.not_found(record.id)
        self._touch(kind.doc, pk, entries)
        return record

    def get(self, record_cls, record_id):
        kind = _KINDS[record_cls]
        raw = None
        if isinstance(record_id, str) and ObjectId.is_valid(record_id):
            # straight to the collection: this is the hot read, a queryset costs 4x as much
            raw = kind.doc._get_collection().find_one({"_id": ObjectId(record_id)})
        if raw is None:
            raise kind.not_found(record_id)
        return kind.to_domain(kind.doc._from_son(raw))

    def list(self, record_cls, skip=0, limit=50, ids=None, **filters):
        """One page of records matching `filters` (None values ignored), and the total."""
        kind = _KINDS[record_cls]
        queryset = kind.doc.objects(**{k: v for k, v in filters.items() if v is not None})
        if ids is not None:
            queryset = queryset.filter(pk__in=[ObjectId(i) for i in ids if ObjectId.is_valid(i)])
        total = queryset.count()
        page = queryset.order_by("id").skip(skip).limit(limit)
        return [kind.to_domain(d) for d in page], total

    def all(self, record_cls):
        kind = _KINDS[record_cls]
        return [kind.to_domain(d) for d in kind.doc.objects.order_by("id")]

    def exists(self, record_cls, record_id):
        kind = _KINDS[record_cls]
        return (isinstance(record_id, str) and ObjectId.is_valid(record_id)
                and kind.doc.objects(pk=ObjectId(record_id)).count() > 0)

    # The reads below serve `responders`, which dispatch calls on every incident: they go
    # straight to the collection instead of building mongoengine documents.

    def get_officers(self, officer_ids):
        """The officers among `officer_ids` that exist, by id."""
        object_ids = [ObjectId(i) for i in set(officer_ids) if i and ObjectId.is_valid(i)]
        rows = OfficerDoc._get_collection().find({"_id": {"$in": object_ids}})
        return {str(row["_id"]): _officer_row(row) for row in rows}

    def officers_of_station(self, station_id, roles=None):
        query = {"station_id": station_id}
        if roles is not None:
            query["role"] = {"$in": list(roles)}
        return [_officer_row(row) for row in OfficerDoc._get_collection().find(query)]

    def all_officers(self):
        return {str(row["_id"]): _officer_row(row) for row in OfficerDoc._get_collection().find()}

    def find_officer_by_badge(self, badge_number):
        doc = OfficerDoc.objects(badge_number=badge_number).first()
        return _officer(doc) if doc else None

    def find_enterprise_by_credit_code(self, credit_code):
        doc = EnterpriseDoc.objects(credit_code=credit_code).first()
        return _enterprise(doc) if doc else None

    def _touch(self, doc_cls, pk, entries):
        self.unit.touch(doc_cls._get_collection(), pk, entries)

    # --- assignments -------------------------------------------------------------------------

    def get_assignments(self, enterprise_id):
        row = AssignmentDoc._get_collection().find_one({"_id": enterprise_id})
        return _history(enterprise_id, row["versions"] if row else None)

    def all_assignments(self):
        return {d.pk: _history(d.pk, d.versions) for d in AssignmentDoc.objects}

    def append_assignment(self, history, version, events=(), holders=None):
        """Append `version` unless another change got there first (then nothing is written).

        `holders`: the officers to index for this enterprise (default: the new version's)."""
        collection = AssignmentDoc._get_collection()
        row = asdict(version)
        row["departments"] = list(version.departments)
        entries = storage.queued(events)
        try:
            with storage.exclusive(ALIAS):
                result = collection.update_one(
                    {"_id": history.enterprise_id, "revision": history.revision},
                    {"$push": {"versions": row, storage.OUTBOX_FIELD: {"$each": entries}},
                     "$inc": {"revision": 1},
                     "$set": {"holders": sorted(holders if holders is not None
                                                else version.officer_ids())}},
                    upsert=history.revision == 0)
            changed = result.matched_count == 1 or result.upserted_id is not None
        except DuplicateKeyError:  # a first assignment raced another first assignment
            changed = False
        if not changed:
            raise exceptions.AssignmentChangedMeanwhile(history.enterprise_id)
        self.unit.touch(collection, history.enterprise_id, entries)
        history.versions.append(version)
        return history

    def assignments_held_by(self, officer_id):
        """The assignment histories that index `officer_id` as a holder."""
        return [_history(d.pk, d.versions) for d in AssignmentDoc.objects(holders=officer_id)]

    # --- the enterprise file's timeline ---------------------------------------------------

    def record_timeline(self, envelope, enterprise_id, time):
        """Record an event on an enterprise's file; recording the same event twice is a no-op."""
        TimelineDoc._get_collection().update_one(
            {"_id": envelope["id"]},
            {"$setOnInsert": {"enterprise_id": enterprise_id, "time": time,
                              "type": envelope["type"], "source": envelope["source"],
                              "data": envelope["data"]}},
            upsert=True)

    def timeline(self, enterprise_id, limit=200):
        docs = TimelineDoc.objects(enterprise_id=enterprise_id).order_by("-time").limit(limit)
        return [{"event_id": d.pk, "time": d.time, "type": d.type, "source": d.source,
                 "data": d.data} for d in docs]


# --- mapping ---------------------------------------------------------------------------------

def _fields(record):
    row = {f.name: getattr(record, f.name) for f in dc_fields(record)}
    record_id = row.pop("id")
    if record_id is not None:
        row["pk"] = ObjectId(record_id)
    if "contact" in row:
        row["contact"] = asdict(row["contact"])
    if "absences" in row:
        row["absences"] = [asdict(a) for a in row["absences"]]
    return row


def _values(doc, record_cls):
    return {f.name: (str(doc.pk) if f.name == "id" else getattr(doc, f.name))
            for f in dc_fields(record_cls)}


def _station(doc):
    return Station(**_values(doc, Station))


def _park(doc):
    return Park(**_values(doc, Park))


def _grid(doc):
    return Grid(**_values(doc, Grid))


def _enterprise(doc):
    values = _values(doc, Enterprise)
    values["contact"] = Contact(**(doc.contact or {}))
    return Enterprise(**values)


def _officer(doc):
    values = _values(doc, Officer)
    values["departments"] = list(doc.departments)
    values["absences"] = [Absence(**a) for a in doc.absences]
    return Officer(**values)


def _officer_row(row):
    """An officer from the raw stored row (as `_officer`, without a mongoengine document)."""
    return Officer(str(row["_id"]), row["badge_number"], row["name"], row["role"],
                   row["station_id"], list(row.get("departments") or []),
                   row.get("phone", ""), [Absence(**a) for a in row.get("absences") or []])


def _history(enterprise_id, rows):
    """The history from its stored versions (a document's `versions`, or None)."""
    versions = []
    for row in rows or []:
        row = dict(row)
        row["departments"] = tuple(row.get("departments") or ())
        versions.append(AssignmentVersion(**row))
    return AssignmentHistory(enterprise_id, versions)


_Kind = namedtuple("_Kind", "doc to_domain not_found duplicate")


def _never_duplicate(record):
    raise AssertionError(f"{type(record).__name__} has no unique field")


_KINDS = {
    Station: _Kind(StationDoc, _station, exceptions.StationNotFound, _never_duplicate),
    Park: _Kind(ParkDoc, _park, exceptions.ParkNotFound, _never_duplicate),
    Grid: _Kind(GridDoc, _grid, exceptions.GridNotFound,
                lambda r: exceptions.DuplicateGridCode("code", r.code)),
    Enterprise: _Kind(EnterpriseDoc, _enterprise, exceptions.EnterpriseNotFound,
                      lambda r: exceptions.DuplicateCreditCode("credit_code", r.credit_code)),
    Officer: _Kind(OfficerDoc, _officer, exceptions.OfficerNotFound,
                   lambda r: exceptions.DuplicateBadgeNumber("badge_number", r.badge_number)),
}
