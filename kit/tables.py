"""The one storage port every repository writes through: a table of documents.

A `Table` holds documents (dicts with an `_id`) and answers a small part of MongoDB's query
language, the part our repositories use:

- filters: equality (a list field matches if any element is equal), `$in`, `$ne`, `$gt`,
  `$gte`, `$lt`, `$lte`, `$exists`, `$size`, `$all`, `$or`, dotted paths (into a list: any
  element);
- updates: `$set`, `$setOnInsert`, `$inc`, `$min`, `$push` with `$each`, `$pull` with a
  filter;
- sorting on fields, skip and limit.

Three implementations pass one contract suite (tests/storage): `MongoTable` over a pymongo
collection (MongoDB), `kit.sqlite.SqliteTable` (the embedded store) and `MemoryTable`, a fake
for use-case tests. Writes to one document are atomic in all three, a conditional update
("only if still version 7") included.
"""
import copy
import threading

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError


class DuplicateKey(Exception):
    """An insert or upsert met a document with the same `_id` or unique field."""


class Table:
    """The port. `name` is the collection's name."""

    name = ""

    def ensure_index(self, keys, unique=False, sparse=False):
        """`keys`: a field name, or [(field, 1 | -1), ...]."""
        raise NotImplementedError

    def indexes(self):
        """The indexes made by `ensure_index` (and the `_id` one where the backend has it),
        as ([(field, 1 | -1), ...], unique) pairs."""
        raise NotImplementedError

    def insert(self, row):
        raise NotImplementedError

    def insert_all(self, rows):
        """Insert many documents at once; how many. DuplicateKey when one's `_id` is taken
        (the others may then be stored or not: the embedded store stores none, MongoDB those
        before it)."""
        rows = list(rows)
        for row in rows:
            self.insert(row)
        return len(rows)

    def get(self, key):
        """The document with `_id` = key, or None."""
        return next(iter(self.find({"_id": key}, limit=1)), None)

    def find(self, query=None, sort=None, skip=0, limit=0):
        """Documents matching `query`, in `sort` order ([(field, 1 | -1), ...])."""
        raise NotImplementedError

    def count(self, query=None):
        raise NotImplementedError

    def tally(self, query, field):
        """How many documents matching `query` hold each value of `field` (a top-level
        field; missing counts as None): {value: count}. `field` may be a tuple of fields:
        then {(value, value, ...): count}, one pass for them all."""
        counts = {}
        for row in self.find(query):
            value = tuple(row.get(f) for f in field) if isinstance(field, tuple) \
                else row.get(field)
            counts[value] = counts.get(value, 0) + 1
        return counts

    def update(self, query, changes, upsert=False):
        """Change the first document matching `query`; True if one matched (or was inserted
        by `upsert`). Raises DuplicateKey when an upsert meets an existing `_id`."""
        raise NotImplementedError

    def update_each(self, changes):
        """`update(query, change)` for each (query, change) pair, in one transaction where the
        store has them; whether each matched."""
        return [self.update(query, change) for query, change in changes]

    def empty_lists(self, field, flag, docs):
        """For each document ({doc id: element ids}) whose list `field` holds exactly the
        elements with those ids (their `id`), empty it and set `flag` False, in one go where
        the store can; whether each did."""
        return self.update_each([
            ({"_id": doc_id, field: {"$size": len(ids)}, f"{field}.id": {"$all": list(ids)}},
             {"$set": {field: [], flag: False}}) for doc_id, ids in docs.items()])

    def delete(self, query):
        """Remove the first document matching `query`; True if one was removed."""
        raise NotImplementedError

    def delete_all(self, query):
        """Remove every document matching `query`; how many."""
        removed = 0
        while self.delete(query):
            removed += 1
        return removed


class MongoTable(Table):
    """A pymongo collection."""

    def __init__(self, collection):
        self.collection = collection
        self.name = collection.name

    def ensure_index(self, keys, unique=False, sparse=False):
        keys = [(keys, ASCENDING)] if isinstance(keys, str) else list(keys)
        self.collection.create_index(keys, unique=unique, sparse=sparse)

    def indexes(self):
        return [(list(index["key"]), bool(index.get("unique")))
                for index in self.collection.index_information().values()]

    def insert(self, row):
        try:
            self.collection.insert_one(row)
        except DuplicateKeyError:
            raise DuplicateKey(self.name) from None

    def insert_all(self, rows):
        rows = list(rows)
        if rows:
            try:
                self.collection.insert_many(rows)
            except BulkWriteError as error:
                if any(e.get("code") == 11000 for e in error.details.get("writeErrors", ())):
                    raise DuplicateKey(self.name) from None
                raise
        return len(rows)

    def get(self, key):
        return self.collection.find_one({"_id": key})

    def find(self, query=None, sort=None, skip=0, limit=0):
        cursor = self.collection.find(query or {})
        if sort:
            cursor = cursor.sort([(f, ASCENDING if d > 0 else DESCENDING) for f, d in sort])
        if skip:  # MongoDB takes 64-bit integers; past any collection anyway
            cursor = cursor.skip(min(skip, 2**62))
        if limit:
            cursor = cursor.limit(min(limit, 2**62))
        return list(cursor)

    def count(self, query=None):
        return self.collection.count_documents(query or {})

    def tally(self, query, field):
        fields = field if isinstance(field, tuple) else (field,)
        key = {f"k{i}": f"${f}" for i, f in enumerate(fields)}
        counts = {}
        for row in self.collection.aggregate([{"$match": query or {}},
                                              {"$group": {"_id": key, "n": {"$sum": 1}}}]):
            value = tuple(row["_id"].get(f"k{i}") for i in range(len(fields)))
            counts[value if isinstance(field, tuple) else value[0]] = row["n"]
        return counts

    def update(self, query, changes, upsert=False):
        try:
            result = self.collection.update_one(query, changes, upsert=upsert)
        except DuplicateKeyError:
            raise DuplicateKey(self.name) from None
        return result.matched_count > 0 or result.upserted_id is not None

    def delete(self, query):
        return self.collection.delete_one(query).deleted_count > 0

    def delete_all(self, query):
        return self.collection.delete_many(query).deleted_count


class MemoryTable(Table):
    """Documents in a dict, in this process only: the fake behind use-case tests."""

    def __init__(self, name):
        self.name = name
        self.rows = {}
        self.unique = []
        self._lock = threading.RLock()

    def ensure_index(self, keys, unique=False, sparse=False):
        if unique:
            field = keys if isinstance(keys, str) else keys[0][0]
            if (field, sparse) not in self.unique:
                self.unique.append((field, sparse))

    def indexes(self):
        return [([(field, 1)], True) for field, _ in self.unique]

    def insert(self, row):
        with self._lock:
            if row["_id"] in self.rows or self._clashes(row):
                raise DuplicateKey(self.name)
            self.rows[row["_id"]] = copy.deepcopy(row)

    def find(self, query=None, sort=None, skip=0, limit=0):
        with self._lock:
            found = [r for r in self.rows.values() if matches(r, query or {})]
        for field, direction in reversed(sort or []):
            found.sort(key=lambda r: _sort_key(lookup(r, field)), reverse=direction < 0)
        found = found[skip:skip + limit if limit else None]
        return copy.deepcopy(found)

    def count(self, query=None):
        with self._lock:
            return sum(1 for r in self.rows.values() if matches(r, query or {}))

    def update(self, query, changes, upsert=False):
        with self._lock:
            row = next((r for r in self.rows.values() if matches(r, query)), None)
            inserting = row is None
            if inserting:
                if not upsert:
                    return False
                row = {k: v for k, v in query.items() if not k.startswith("$")
                       and not isinstance(v, dict)}
                if row.get("_id") in self.rows:
                    raise DuplicateKey(self.name)
            changed = apply_update(copy.deepcopy(row), changes, inserting)
            if self._clashes(changed, but=row.get("_id")):
                raise DuplicateKey(self.name)
            self.rows[changed["_id"]] = changed
            return True

    def delete(self, query):
        with self._lock:
            row = next((r for r in self.rows.values() if matches(r, query)), None)
            if row is None:
                return False
            del self.rows[row["_id"]]
            return True

    def _clashes(self, row, but=None):
        for field, sparse in self.unique:
            if field not in row and sparse:
                continue
            value = row.get(field)
            if any(r.get(field) == value for key, r in self.rows.items()
                   if key != row["_id"] and key != but and (field in r or not sparse)):
                return True
        return False


class MemoryDatabase:
    """A service's tables in memory: `table(name)` returns the same table every time."""

    def __init__(self):
        self.tables = {}

    def table(self, name):
        if name not in self.tables:
            self.tables[name] = MemoryTable(name)
        return self.tables[name]


class MongoDatabase:
    """A service's tables in a pymongo database: `table(name)` returns the same table every
    time (a repository is built per worker; a table is not)."""

    def __init__(self, database):
        self.database = database
        self.tables = {}

    def table(self, name):
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = MongoTable(self.database[name])
        return table


# --- the query language of MemoryTable ---------------------------------------------------------

_MISSING = object()


def lookup(row, path):
    """The value at a dotted path; into a list, the list of each element's values."""
    value = row
    for part in path.split("."):
        if isinstance(value, list):
            value = [v.get(part, _MISSING) for v in value if isinstance(v, dict)]
            value = [v for v in value if v is not _MISSING] or _MISSING
        elif isinstance(value, dict):
            value = value.get(part, _MISSING)
        else:
            return _MISSING
    return value


def matches(row, query):
    for key, condition in query.items():
        if key == "$or":
            if not any(matches(row, q) for q in condition):
                return False
        elif not _holds(lookup(row, key), condition):
            return False
    return True


_OPERATORS = {
    "$in": lambda v, arg: v in arg,
    "$ne": lambda v, arg: v != arg,
    "$gt": lambda v, arg: v is not None and v > arg,
    "$gte": lambda v, arg: v is not None and v >= arg,
    "$lt": lambda v, arg: v is not None and v < arg,
    "$lte": lambda v, arg: v is not None and v <= arg,
}


def _holds(value, condition):
    if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
        for op, arg in condition.items():
            if op == "$exists":
                if (value is not _MISSING) != bool(arg):
                    return False
            elif op == "$ne":
                if any(v == arg for v in _candidates(value)):
                    return False
            elif op == "$size":
                if not isinstance(value, list) or len(value) != arg:
                    return False
            elif op == "$all":
                if not all(any(v == wanted for v in _candidates(value)) for wanted in arg):
                    return False
            elif not any(_OPERATORS[op](v, arg) for v in _candidates(value)):
                return False
        return True
    return any(v == condition for v in _candidates(value)) or value == condition


def _candidates(value):
    if value is _MISSING:
        return [None]
    return value if isinstance(value, list) else [value]


def _sort_key(value):
    return (0, None) if value is _MISSING or value is None else (1, value)


def apply_update(row, changes, inserting):
    for op, fields in changes.items():
        for field, arg in fields.items():
            parent, name = _parent(row, field)
            if op == "$set" or (op == "$setOnInsert" and inserting):
                parent[name] = copy.deepcopy(arg)
            elif op == "$inc":
                parent[name] = parent.get(name, 0) + arg
            elif op == "$min":
                if parent.get(name) is None or arg < parent[name]:
                    parent[name] = copy.deepcopy(arg)
            elif op == "$push":
                items = arg["$each"] if isinstance(arg, dict) and "$each" in arg else [arg]
                parent[name] = list(parent.get(name) or []) + copy.deepcopy(list(items))
            elif op == "$pull":
                parent[name] = [item for item in parent.get(name) or []
                                if not (matches(item, arg) if isinstance(arg, dict)
                                        else item == arg)]
            elif op != "$setOnInsert":
                raise ValueError(f"the fake store does not know {op}")
    return row


def _parent(row, path):
    """The dict holding the last part of a dotted `path` (made on the way), and that part."""
    *parts, name = path.split(".")
    for part in parts:
        row = row.setdefault(part, {})
    return row, name
