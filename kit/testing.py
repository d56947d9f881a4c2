"""What every service's tests need from the kit: the storage backends a contract suite runs
on (the in-memory fake, the embedded store, MongoDB when `MONGO_URI` names one kept for
tests), and a recorder of what a repository's writes would publish.

`backend` is a pytest fixture factory: `backend_fixture(service)` in a conftest gives tests a
`Backend` whose `database` is that service's database on each of the three backends.
"""
import os

import mongoengine
import pytest

from contracts.envelope import decode

from .storage import open_database
from .tables import MemoryDatabase

BACKENDS = ("memory", "embedded", "mongodb")


class Backend:
    """One place a service's documents can live. `reopen()` drops the connection and opens
    a new one on the same data (the fake keeps its data in the process)."""

    def __init__(self, name, service, mongo_uri=None, data_dir=None):
        self.name = name
        self.service = service
        self.mongo_uri = mongo_uri
        self.data_dir = data_dir
        self.database = MemoryDatabase() if name == "memory" else self._open()

    def _open(self):
        return open_database(self.service, self.mongo_uri, self.data_dir)

    def reopen(self):
        if self.name != "memory":
            mongoengine.disconnect(alias=self.service)
            self.database = self._open()
        return self.database

    def drop(self):
        if self.name == "mongodb":
            mongoengine.get_connection(self.service).drop_database(f"liaison_{self.service}")

    def close(self):
        if self.name != "memory":
            mongoengine.disconnect(alias=self.service)


def open_backend(name, service, tmp_path):
    """A fresh `Backend`; skips the test for MongoDB when `MONGO_URI` is not set."""
    if name == "memory":
        return Backend("memory", service)
    if name == "embedded":
        return Backend("embedded", service, data_dir=tmp_path / "data")
    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        pytest.skip("MONGO_URI is not set: the MongoDB run of the storage contract is skipped")
    backend = Backend("mongodb", service, mongo_uri=mongo_uri)
    backend.drop()  # a run that was killed may have left data behind
    backend.reopen()
    return backend


def backend_fixture(service, names=BACKENDS):
    """A pytest fixture giving a `Backend` of `service` on each of `names`, fresh per test."""

    @pytest.fixture(params=names)
    def backend(request, tmp_path):
        opened = open_backend(request.param, service, tmp_path)
        yield opened
        opened.drop()
        opened.close()

    return backend


def published(unit):
    """The envelopes a unit of work's writes queued, in order (what the worker publishes)."""
    return [decode(entry["message"]) for entry in unit.written]


def of_type(envelopes, event_type):
    return [e for e in envelopes if e["type"] == event_type]
