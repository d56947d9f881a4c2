"""Rows written straight into a stopped service's store, in bulk, for benchmarks.

The only part of the benchmarks that knows how the services store their records: each
function takes domain records and writes the rows the service's own repository would have
written for them (`Collection.row_of` makes them), without events to publish. Through the
services' interfaces, 300,000 incidents would take hours; here they take a minute or two.

On the embedded store every insert commits on its own, so the rows of one collection go in
one transaction instead (`_insert_all`); on MongoDB they go through `insert_many`.
"""
import shutil
from collections import Counter
from pathlib import Path

import mongoengine

from kit.storage import open_database

CHUNK = 5000


def store_incidents(data_dir, incidents):
    """Make dispatch's store under `data_dir` hold exactly `incidents` (closed
    dispatch.domain.Incident objects: no deadline pending, nothing to publish), and the
    figures it keeps of them. Dispatch must be stopped. Returns how many were written."""
    from services.dispatch.store import Figures, Repository

    shutil.rmtree(Path(data_dir) / "dispatch", ignore_errors=True)
    repo = Repository(open_database("dispatch", None, data_dir))
    states = Counter()

    def rows():
        for incident in incidents:
            states[incident.state] += 1
            yield repo.incidents.row_of(incident)

    try:  # dispatch makes its indexes when it starts
        written = _insert_all(repo.incidents.table.collection, rows())
        repo.figures.table.insert({"_id": Figures.KEY, "states": dict(states)})
        return written
    finally:
        mongoengine.disconnect(alias="dispatch")


def store_registry(data_dir, province):
    """Add `province` (bench.province.Province: records with their ids chosen) to the
    registry's store under `data_dir`. The registry must be stopped."""
    from services.enterprise.domain import AssignmentHistory
    from services.enterprise.store import Repository

    repo = Repository(open_database("enterprise", None, data_dir))
    try:
        repo.ensure_indexes()
        for collection, records in ((repo.stations, province.stations),
                                    (repo.grids, province.grids),
                                    (repo.officers, province.officers),
                                    (repo.enterprises, province.enterprises)):
            _insert_all(collection.table.collection, (collection.row_of(r) for r in records))
        _insert_all(repo.assignments.table.collection, (
            repo.assignments.row_of(AssignmentHistory(enterprise_id, [version],
                                                      sorted(version.officer_ids())))
            for enterprise_id, version in province.assignments))
    finally:
        mongoengine.disconnect(alias="enterprise")


def _insert_all(collection, rows):
    """Insert every row; returns how many. One transaction per chunk on the embedded store
    (its rows are BSON blobs keyed by their encoded `_id`), `insert_many` elsewhere."""
    table = getattr(getattr(collection, "_store", None), "_documents", None)
    written, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            written += _write(collection, table, chunk)
            chunk = []
    if chunk:
        written += _write(collection, table, chunk)
    return written


def _write(collection, table, rows):
    if table is None:
        collection.insert_many(rows)
        return len(rows)
    with table._connection:
        table._connection.executemany(
            f"INSERT INTO {table._table_name} VALUES (?, ?)",
            [(table.encode_key(r["_id"]), table._encode_doc(r)) for r in rows])
    return len(rows)
