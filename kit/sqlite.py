"""The embedded store: kit.tables over one SQLite file per service, with real indexes.

Each table is a SQLite table of documents (`id`, the document as BSON in `doc`, so dates and
ids come back as MongoDB would return them) plus one column per indexed field, holding that
field's value in a form SQLite compares the way MongoDB does (dates as ISO text, to the
millisecond). `ensure_index` makes the column (filling it from the stored documents) and a
SQLite index over it, compound and descending where asked: so an equality, an `$in`, a range,
a sort and a count on indexed fields are answered by the index, as on MongoDB.

A field that holds lists (a multikey index on MongoDB) is recorded as such on the first list
written into it, and its values, one row per element, go into a side table indexed by
(field, value): "the incidents paged to officer 7" is an index lookup there.

A query is compiled to SQL for the conditions the indexes can answer; every document read is
checked against the whole query in Python as well (kit.tables.matches, the fake's rules), so
a condition on a field without an index is still right, only slower. Skip, limit and sort go
to SQL when every condition and sort key did.

The write-ahead log is copied back into the database file by a checkpointer of each open
database, in a thread of its own (not a green one), every second: SQLite's own checkpoint
runs inside a commit, and in a large file that stalls every green thread of the process.

Writes are transactions (`BEGIN IMMEDIATE`): a conditional update ("only if still version 7")
reads, applies and writes the document inside one, so it is atomic across processes without
any other lock. A transaction never waits inside SQLite: when another process holds the write
lock it is retried after a short green sleep, so the other green threads of the process keep
running. Reads see the last committed state (WAL mode); none blocks a write.
"""
import copy
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import bson
import eventlet
from eventlet import patcher
from bson import ObjectId
from bson.codec_options import CodecOptions

from .tables import DuplicateKey, Table, apply_update, lookup, matches, _MISSING, _sort_key

_real_threading = patcher.original("threading")  # the checkpointer is an OS thread

FILE = "documents.sqlite3"
CHECKPOINT_EVERY = 1.0  # seconds
DECODE_CHUNK = 500  # documents decoded between two chances for other green threads to run
_CODEC = CodecOptions(tz_aware=False)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}$")
_LARGEST = 2**62
_RANGES = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


class SqliteDatabase:
    """A service's tables in one SQLite file at `path` (made if missing)."""

    def __init__(self, path):
        self.path = str(path)
        self.connection = sqlite3.connect(self.path, isolation_level=None,
                                          check_same_thread=False, timeout=0)
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")  # WAL: a killed process loses
        self.connection.execute("PRAGMA wal_autocheckpoint=0")  # nothing committed
        self.lock = threading.RLock()
        self.transactions = 0  # write transactions begun, so a table refreshes once in each
        self.tables = {}
        self._stop = _real_threading.Event()
        _real_threading.Thread(target=self._checkpoint, daemon=True,
                               name=f"checkpoint {self.path}").start()

    def table(self, name):
        table = self.tables.get(name)
        if table is None:
            table = self.tables[name] = SqliteTable(self, name)
        return table

    def close(self):
        self._stop.set()
        with self.lock:
            self.connection.close()

    def _checkpoint(self):
        """Every CHECKPOINT_EVERY seconds, a passive checkpoint on a connection of its own: it
        waits for no reader and no writer, and leaves what it cannot copy yet for the next."""
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=0)
        try:
            while not self._stop.wait(CHECKPOINT_EVERY):
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error:
                    pass  # busy, or the file went away: the next round tries again
        finally:
            connection.close()

    def read(self, sql, args=()):
        with self.lock:
            return self._retry(lambda: self.connection.execute(sql, args).fetchall())

    def write(self, work):
        """Run `work(connection)` in one write transaction; its result."""
        with self.lock:
            return self._retry(lambda: self._transaction(work))

    def _transaction(self, work):
        self.transactions += 1
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            result = work(self.connection)
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")
        return result

    @staticmethod
    def _retry(attempt):
        pause = 0.0005
        while True:
            try:
                return attempt()
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error):
                    raise
            eventlet.sleep(pause) if _green() else time.sleep(pause)
            pause = min(pause * 2, 0.02)


def _green():
    return patcher.is_monkey_patched("thread")


class SqliteTable(Table):
    """One collection of documents; see the module's docstring."""

    def __init__(self, database, name):
        self.database = database
        self.name = name
        self.sql = _quote(f"d_{name}")
        self.each = _quote(f"d_{name}#each")    # (field, value, id) of list-valued fields
        self.lists = _quote(f"d_{name}#lists")  # the fields that ever held a list
        self.columns = set()
        self.list_fields = set()
        self._schema = None
        self._refreshed_in = None

        def create(connection):
            connection.execute(f"CREATE TABLE IF NOT EXISTS {self.sql} "
                               "(id PRIMARY KEY, doc BLOB NOT NULL)")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {self.each} (field TEXT, value, "
                               "id, PRIMARY KEY (field, value, id)) WITHOUT ROWID")
            connection.execute(f"CREATE INDEX IF NOT EXISTS {_quote(f'i_{name}#each_id')} "
                               f"ON {self.each} (id)")
            connection.execute(f"CREATE TABLE IF NOT EXISTS {self.lists} "
                               "(field TEXT PRIMARY KEY)")
        database.write(create)

    # --- the port -----------------------------------------------------------------------

    def ensure_index(self, keys, unique=False, sparse=False):
        keys = [(keys, 1)] if isinstance(keys, str) else list(keys)
        if all(field == "_id" for field, _ in keys):
            return  # the primary key

        def create(connection):
            for field, _ in keys:
                self._add_column(connection, field)
            fields = ", ".join(f"{'id' if f == '_id' else _column(f)}{' DESC' if d < 0 else ''}" for f, d in keys)
            name = _quote("i_" + self.name + "_" + "_".join(f"{f}{d}" for f, d in keys))
            connection.execute(f"CREATE {'UNIQUE ' if unique else ''}INDEX IF NOT EXISTS "
                               f"{name} ON {self.sql} ({fields})")
        try:
            self.database.write(create)
        except sqlite3.IntegrityError:
            raise DuplicateKey(self.name) from None

    def indexes(self):
        found = []
        for _, name, unique, *_ in self.database.read(f"PRAGMA index_list({self.sql})"):
            keys = [("_id" if column == "id" else column[2:], -1 if desc else 1)
                    for _, _, column, desc, _, key in
                    self.database.read(f"PRAGMA index_xinfo({_quote(name)})") if key]
            found.append((keys, bool(unique)))
        return found

    def plan(self, query=None, sort=None, limit=0):
        """How SQLite answers `find(query, sort, limit=limit)`: its query plan, one line per
        step ("SEARCH ... USING INDEX ..." is an index; "SCAN d_<table>" reads them all)."""
        with self.database.lock:
            self._refresh(self.database.connection)
            where, args, _ = self._where(query or {})
            order = self._order(sort or [])
            sql = f"SELECT doc FROM {self.sql} WHERE {where}"
            sql += f" ORDER BY {order}" if order else ""
            sql += f" LIMIT {int(limit)}" if limit else ""
            return [row[-1] for row in
                    self.database.connection.execute(f"EXPLAIN QUERY PLAN {sql}", args)]

    def insert(self, row):
        row.setdefault("_id", ObjectId())
        self.database.write(lambda connection: self._store(connection, row, new=True))

    def insert_all(self, rows):
        """Insert many documents in one transaction (bulk loads); how many."""
        rows = list(rows)

        def store(connection):
            self._refresh(connection)
            for row in rows:
                row.setdefault("_id", ObjectId())
                self._store(connection, row, new=True, refreshed=True)
        self.database.write(store)
        return len(rows)

    def get(self, key):
        if _opaque(key):
            return super().get(key)
        found = self.database.read(f"SELECT doc FROM {self.sql} WHERE id = ?", (_value(key),))
        row = _decode(found[0][0]) if found else None
        return row if row is not None and row["_id"] == key else None

    def find(self, query=None, sort=None, skip=0, limit=0):
        return self._find(query or {}, sort or [], skip, limit)

    def count(self, query=None):
        query = query or {}

        def count(connection):
            self._refresh(connection)
            where, args, exact = self._where(query)
            if not exact:
                return None
            return connection.execute(f"SELECT COUNT(*) FROM {self.sql} WHERE {where}",
                                      args).fetchone()[0]
        with self.database.lock:
            counted = self.database._retry(lambda: count(self.database.connection))
        return len(self._find(query, [], 0, 0)) if counted is None else counted

    def tally(self, query, field):
        """In SQL (GROUP BY on the field's column) when the query and the field allow it."""
        fields = field if isinstance(field, tuple) else (field,)

        def tally(connection):
            self._refresh(connection)
            where, args, exact = self._where(query or {})
            if not exact or any(f not in self.columns or f in self.list_fields
                                for f in fields):
                return None
            keys = ", ".join(map(_column, fields))
            places = ", ".join(str(i + 1) for i in range(len(fields)))
            return connection.execute(f"SELECT {keys}, COUNT(*) FROM {self.sql} "
                                      f"WHERE {where} GROUP BY {places}", args).fetchall()
        with self.database.lock:
            rows = self.database._retry(lambda: tally(self.database.connection))
        if rows is None:
            return super().tally(query, field)
        counts = {}
        for *values, n in rows:
            values = tuple(map(_from_cell, values))
            counts[values if isinstance(field, tuple) else values[0]] = n
        return counts

    def update(self, query, changes, upsert=False):
        return self.database.write(lambda connection: self._update(connection, query, changes,
                                                                   upsert))

    def update_each(self, changes):
        """One write transaction for them all (one commit, one turn of the write lock)."""
        return self.database.write(lambda connection: [
            self._update(connection, query, change, False) for query, change in changes])

    def empty_lists(self, field, flag, docs):
        """In one write: the documents read by key together, each checked and written back
        (no query planned or matched for each)."""
        def empty(connection):
            self._refresh(connection)
            keys = [_value(doc_id) for doc_id in docs]
            blobs = {}
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                blobs.update(connection.execute(
                    f"SELECT id, doc FROM {self.sql} WHERE id IN "
                    f"({', '.join('?' * len(chunk))})", chunk).fetchall())
            done = []
            for key, ids in zip(keys, docs.values()):
                row = _decode(blobs[key]) if key in blobs else {}
                held = row.get(field)
                if not isinstance(held, list) or sorted(
                        str(e.get("id")) if isinstance(e, dict) else "" for e in held) != \
                        sorted(map(str, ids)) or len(held) != len(ids):
                    done.append(False)
                    continue
                before = self._indexed(row)
                row[field], row[flag] = [], False
                self._store(connection, row, new=False, refreshed=True, before=before)
                done.append(True)
            return done
        return self.database.write(empty)

    def _update(self, connection, query, changes, upsert):
        found = self._select(connection, query, 1)
        if found:
            row, inserting = found[0], False
        elif not upsert:
            return False
        else:
            row = {k: copy.deepcopy(v) for k, v in query.items()
                   if not k.startswith("$") and not _is_operators(v)}
            row.setdefault("_id", ObjectId())
            inserting = True
        before = None if inserting else self._indexed(row)
        self._store(connection, apply_update(row, changes, inserting), new=inserting,
                    refreshed=True, before=before)
        return True

    def _indexed(self, row):
        """What a row puts in its columns and side rows: {field: cell or tuple of values}."""
        indexed = {}
        for field in self.columns:
            value = lookup(row, field)
            indexed[field] = tuple(_value(v) for v in _elements(value) if not _opaque(v)) \
                if field in self.list_fields else _cell(value)
        return indexed

    def delete(self, query):
        def remove(connection):
            found = self._select(connection, query, 1)
            if not found:
                return False
            key = _value(found[0]["_id"])
            connection.execute(f"DELETE FROM {self.sql} WHERE id = ?", (key,))
            connection.execute(f"DELETE FROM {self.each} WHERE id = ?", (key,))
            return True
        return self.database.write(remove)

    def delete_all(self, query):
        def remove(connection):
            plan = self._plan(connection, query, [], 0, 0, paged=False)
            keys = [(_value(row["_id"]),) for row in _decode_all(plan.blobs, query, green=False)]
            connection.executemany(f"DELETE FROM {self.sql} WHERE id = ?", keys)
            connection.executemany(f"DELETE FROM {self.each} WHERE id = ?", keys)
            return len(keys)
        return self.database.write(remove)

    # --- reading ------------------------------------------------------------------------

    def _find(self, query, sort, skip, limit):
        """Read under the lock, decode outside it (other green threads may run between)."""
        with self.database.lock:
            plan = self.database._retry(lambda: self._plan(self.database.connection, query,
                                                           sort, skip, limit))
        rows = _decode_all(plan.blobs, query)
        if plan.in_sql and (len(rows) == len(plan.blobs) or not (limit or skip)):
            return rows
        if plan.in_sql:  # a row SQL let through failed the check: page here instead
            with self.database.lock:
                plan = self.database._retry(lambda: self._plan(self.database.connection,
                                                               query, sort, 0, 0, paged=False))
            rows = _decode_all(plan.blobs, query)
        return _page(rows, sort, skip, limit)

    def _select(self, connection, query, limit):
        """Inside a write: the first `limit` documents matching `query`."""
        plan = self._plan(connection, query, [], 0, limit)
        rows = _decode_all(plan.blobs, query, green=False)
        if plan.in_sql and len(rows) < len(plan.blobs):  # the SQL page lost rows to the check
            plan = self._plan(connection, query, [], 0, 0, paged=False)
            rows = _decode_all(plan.blobs, query, green=False)
        return rows[:limit]

    def _plan(self, connection, query, sort, skip, limit, paged=True):
        """The documents SQL finds for `query` as far as the indexes go (`blobs`), and
        whether SQL also did the sorting and paging (`in_sql`)."""
        self._refresh(connection)
        where, args, exact = self._where(query)
        order = self._order(sort)
        in_sql = paged and exact and order is not None
        sql = f"SELECT doc FROM {self.sql} WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        if in_sql and (limit or skip):  # beyond SQLite's integers is beyond any table anyway
            sql += (f" LIMIT {min(int(limit), _LARGEST) if limit else -1}"
                    f" OFFSET {min(int(skip), _LARGEST)}")
        return _Plan(connection.execute(sql, args).fetchall(), in_sql)

    def _refresh(self, connection):
        """Learn the columns and list fields another process (or a bulk load) made."""
        database = self.database
        if connection.in_transaction and self._refreshed_in == database.transactions:
            return  # a write transaction holds off every other writer: nothing changed
        self._refreshed_in = database.transactions
        # the schema's version moves when a column is added, user_version when a list field is
        schema = (connection.execute("PRAGMA schema_version").fetchone()[0],
                  connection.execute("PRAGMA user_version").fetchone()[0])
        if schema != self._schema:
            self._schema = schema
            self.columns = {name[2:] for _, name, *_ in
                            connection.execute(f"PRAGMA table_info({self.sql})")
                            if name.startswith("f:")}
            self.list_fields = {field for (field,) in
                                connection.execute(f"SELECT field FROM {self.lists}")}

    def _where(self, query):
        """(SQL condition, its arguments, whether it says all the query does)."""
        parts, args, exact = ["1"], [], True
        for field, condition in query.items():
            compiled = self._condition(field, condition)
            if compiled is None:
                exact = False
            else:
                parts.append(compiled[0])
                args.extend(compiled[1])
        return " AND ".join(parts), args, exact

    def _condition(self, field, condition):
        """SQL for one condition of a query, or None where the indexes cannot answer it."""
        if field == "$or":
            branches = [self._where(q) for q in condition]
            if not branches or not all(exact for _, _, exact in branches):
                return None
            return ("(" + " OR ".join(f"({w})" for w, _, _ in branches) + ")",
                    [a for _, args, _ in branches for a in args])
        if field == "_id":
            column = "id"
        elif field in self.list_fields:
            return self._each_condition(field, condition)
        elif field in self.columns:
            column = _column(field)
        else:
            return None
        if not _is_operators(condition):
            if condition is None:
                return f"{column} IS NULL", []
            return None if _opaque(condition) else (f"{column} = ?", [_value(condition)])
        parts, args = [], []
        for op, arg in condition.items():
            if op == "$in" and isinstance(arg, (list, tuple)) and not any(map(_opaque, arg)):
                values = [_value(v) for v in arg if v is not None]
                test = f"{column} IN ({', '.join('?' * len(values))})" if values else "0"
                if None in arg:
                    test = f"({test} OR {column} IS NULL)"
                parts.append(test)
                args.extend(values)
            elif op in _RANGES and arg is not None and not _opaque(arg):
                parts.append(f"{column} {_RANGES[op]} ?")
                args.append(_value(arg))
            else:
                return None
        return " AND ".join(parts), args

    def _each_condition(self, field, condition):
        if not _is_operators(condition):
            if condition is None or _opaque(condition):
                return None
            test, args = "value = ?", [_value(condition)]
        elif list(condition) == ["$in"] and not any(map(_opaque, condition["$in"])) \
                and None not in condition["$in"]:
            values = [_value(v) for v in condition["$in"]]
            test, args = f"value IN ({', '.join('?' * len(values))})", values
        else:
            return None
        return (f"id IN (SELECT id FROM {self.each} WHERE field = ? AND {test})",
                [field, *args])

    def _order(self, sort):
        """ORDER BY for `sort`, or None when a key has no column (or holds lists)."""
        parts = []
        for field, direction in sort:
            if field == "_id":
                column = "id"
            elif field in self.columns and field not in self.list_fields:
                column = _column(field)
            else:
                return None
            parts.append(f"{column}{' DESC' if direction < 0 else ''}")
        return ", ".join(parts)

    # --- writing (inside a transaction) ---------------------------------------------------

    def _store(self, connection, row, new, refreshed=False, before=None):
        """Write `row`. An update given what the row had `before` (see `_indexed`) sets only
        the columns that changed, so SQLite leaves the other indexes alone, and rewrites the
        side rows only when a list changed."""
        if not refreshed:
            self._refresh(connection)
        key = _value(row["_id"])
        if _opaque(row["_id"]):
            raise ValueError(f"an _id must be a string, number, date or ObjectId: {row['_id']!r}")
        values = {field: lookup(row, field) for field in self.columns}
        for field, value in values.items():
            if isinstance(value, list) and field not in self.list_fields:
                self._make_list_field(connection, field)
        after = None if before is None else self._indexed(row)
        fields = sorted(f for f in self.columns if after is None or f in self.list_fields
                        or after[f] != before.get(f, _MISSING))
        cells = [_encode(row)] + [_cell(values[f]) for f in fields]
        names = ["doc", *map(_column, fields)]
        try:
            if new:
                connection.execute(f"INSERT INTO {self.sql} (id, {', '.join(names)}) "
                                   f"VALUES (?, {', '.join('?' * len(cells))})", [key, *cells])
            else:
                connection.execute(f"UPDATE {self.sql} SET {', '.join(n + ' = ?' for n in names)}"
                                   " WHERE id = ?", [*cells, key])
        except sqlite3.IntegrityError:
            raise DuplicateKey(self.name) from None
        if self.list_fields and (after is None or any(
                after[f] != before.get(f) for f in self.list_fields if f in after)):
            if not new:
                connection.execute(f"DELETE FROM {self.each} WHERE id = ?", (key,))
            connection.executemany(
                f"INSERT OR IGNORE INTO {self.each} VALUES (?, ?, ?)",
                [(field, _value(v), key) for field in self.list_fields if field in values
                 for v in _elements(values[field]) if not _opaque(v)])

    def _add_column(self, connection, field):
        self._refresh(connection)
        if field in self.columns or field == "_id":
            return
        connection.execute(f"ALTER TABLE {self.sql} ADD COLUMN {_column(field)}")
        self.columns.add(field)
        for key, blob in connection.execute(f"SELECT id, doc FROM {self.sql}").fetchall():
            value = lookup(_decode(blob), field)
            if isinstance(value, list) and field not in self.list_fields:
                self._make_list_field(connection, field)
            connection.execute(f"UPDATE {self.sql} SET {_column(field)} = ? WHERE id = ?",
                               (_cell(value), key))
            if field in self.list_fields:
                connection.executemany(f"INSERT OR IGNORE INTO {self.each} VALUES (?, ?, ?)",
                                       [(field, _value(v), key) for v in _elements(value)
                                        if not _opaque(v)])
        self._schema = None  # read again, with the list fields, at the next refresh

    def _make_list_field(self, connection, field):
        """From now on `field`'s values are looked up in the side table: put every stored
        scalar value of it there too."""
        connection.execute(f"INSERT INTO {self.lists} VALUES (?)", (field,))
        connection.execute(f"INSERT OR IGNORE INTO {self.each} SELECT ?, {_column(field)}, id "
                           f"FROM {self.sql} WHERE {_column(field)} IS NOT NULL", (field,))
        self.list_fields.add(field)
        # every process re-reads its list fields when the database's user_version moves
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        connection.execute(f"PRAGMA user_version = {int(version) + 1}")


# --- values as SQLite keeps and compares them --------------------------------------------------

def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _column(field):
    return _quote(f"f:{field}")


def _is_operators(condition):
    return isinstance(condition, dict) and bool(condition) and \
        all(k.startswith("$") for k in condition)


def _opaque(value):
    """A value the columns do not hold (documents, lists, binary): compared in Python."""
    return not (value is None or isinstance(value, (str, int, float, datetime, ObjectId)))


def _value(value):
    """`value` as its column holds it: comparable in SQLite as in MongoDB for one type."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="milliseconds")  # BSON dates hold milliseconds
    if isinstance(value, ObjectId):
        return str(value)
    return value


def _cell(value):
    if value is _MISSING or _opaque(value):
        return None
    return _value(value)


def _from_cell(value):
    """A column's value as the documents hold it (dates are kept as ISO text)."""
    if isinstance(value, str) and _ISO.match(value):
        return datetime.fromisoformat(value)
    return value


def _elements(value):
    if value is _MISSING or value is None:
        return []
    return value if isinstance(value, list) else [value]


def _encode(row):
    return bson.encode(row)


def _decode(blob):
    return bson.decode(blob, codec_options=_CODEC)


def _decode_all(blobs, query, green=True):
    """The documents of `blobs` that match `query`, letting other green threads run between
    chunks of a long read."""
    rows = []
    for start in range(0, len(blobs), DECODE_CHUNK):
        rows.extend(row for row in map(_decode, (b for (b,) in blobs[start:start + DECODE_CHUNK]))
                    if matches(row, query))
        if green and len(blobs) > DECODE_CHUNK and _green():
            eventlet.sleep(0)
    return rows


def _page(rows, sort, skip, limit):
    for field, direction in reversed(sort):
        rows.sort(key=lambda r: _sort_key(lookup(r, field)), reverse=direction < 0)
    return rows[skip:skip + limit if limit else None]


@dataclass
class _Plan:
    blobs: list
    in_sql: bool
