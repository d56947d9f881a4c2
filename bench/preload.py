"""Rows written straight into a stopped service's store, in bulk, for benchmarks.

The only part of the benchmarks that knows how the services store their records: each
function takes domain records and writes the rows the service's own repository would have
written for them (`Collection.row_of` makes them), without events to publish. Through the
services' interfaces, 300,000 incidents would take hours; here they take a minute or two.

The rows of one collection go in through the table's `insert_all`, CHUNK at a time: one
transaction each on the embedded store, `insert_many` on MongoDB.
"""
import shutil
from collections import Counter
from pathlib import Path

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

    database = repo.incidents.table.database
    try:
        repo.ensure_indexes()  # first: each row is then indexed as it goes in
        written = _insert_all(repo.incidents.table, rows())
        repo.figures.table.update({"_id": Figures.KEY}, {"$set": {"states": dict(states)}},
                                  upsert=True)
        return written
    finally:
        database.close()


def store_registry(data_dir, province):
    """Add `province` (bench.province.Province: records with their ids chosen) to the
    registry's store under `data_dir`. The registry must be stopped."""
    from services.enterprise.domain import AssignmentHistory
    from services.enterprise.store import Repository

    database = open_database("enterprise", None, data_dir)
    repo = Repository(database)
    try:
        repo.ensure_indexes()
        for collection, records in ((repo.stations, province.stations),
                                    (repo.grids, province.grids),
                                    (repo.officers, province.officers),
                                    (repo.enterprises, province.enterprises)):
            _insert_all(collection.table, (collection.row_of(r) for r in records))
        _insert_all(repo.assignments.table, (
            repo.assignments.row_of(AssignmentHistory(enterprise_id, [version],
                                                      sorted(version.officer_ids())))
            for enterprise_id, version in province.assignments))
    finally:
        database.close()


def _insert_all(table, rows):
    """Insert every row, CHUNK at a time; returns how many."""
    written, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            written += table.insert_all(chunk)
            chunk = []
    return written + table.insert_all(chunk)
