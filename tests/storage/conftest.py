"""The storage backends every repository contract runs against.

`embedded` always runs (a fresh directory per test). `mongodb` runs only when MONGO_URI names
a MongoDB kept for tests: each test starts and ends with the service's database dropped.
"""
import os

import mongoengine
import pytest

from kit.storage import connect
from services.enterprise.store import ALIAS, Repository

SERVICE = ALIAS  # the registry's documents live under the mongoengine alias "enterprise"
DATABASE = f"liaison_{SERVICE}"


class Backend:
    """One place the registry's documents can live, which a test may disconnect and reopen."""

    def __init__(self, name, mongo_uri, data_dir):
        self.name = name
        self.mongo_uri = mongo_uri
        self.data_dir = data_dir

    def connect(self):
        connect(SERVICE, self.mongo_uri, self.data_dir)
        Repository.ensure_indexes()

    def disconnect(self):
        mongoengine.disconnect(alias=SERVICE)

    def reconnect(self):
        """Drop the connection and open a new one on the same database (or directory)."""
        self.disconnect()
        self.connect()

    def drop(self):
        mongoengine.get_connection(SERVICE).drop_database(DATABASE)


@pytest.fixture(params=["embedded", "mongodb"])
def backend(request, tmp_path):
    if request.param == "embedded":
        backend = Backend("embedded", None, tmp_path / "data")
        backend.connect()
        yield backend
        backend.disconnect()
        return

    mongo_uri = os.environ.get("MONGO_URI")
    if not mongo_uri:
        pytest.skip("MONGO_URI is not set: the MongoDB run of the storage contract is skipped")
    backend = Backend("mongodb", mongo_uri, None)
    connect(SERVICE, mongo_uri)
    backend.drop()  # a run that was killed may have left data behind
    backend.connect()
    yield backend
    connect(SERVICE, mongo_uri)  # the test may have left the connection closed
    backend.drop()
    backend.disconnect()


@pytest.fixture
def repo(backend):
    return Repository()
