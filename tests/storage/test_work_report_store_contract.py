"""The work report's read model (services.fieldwork.figures) on the three backends: the same
events give the same report on each, kept across a reopen; a batch cut short at any write, or
raced by another writer between its read and its write, counts every event once when it is
applied again; on the embedded store, a process killed with SIGKILL while applying loses
nothing and counts nothing twice, and a report's queries are answered by the indexes."""
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kit.tables import MemoryDatabase
from kit.testing import backend_fixture
from services.fieldwork.figures import Figures
from tests.unit.test_work_report import YEAR, Plant, hengkou, no_registry, wengan

ROOT = Path(__file__).resolve().parents[2]
AREAS = (("province", None), ("county", "hengkou"), ("county", "wengan"), ("station", "s1"),
         ("park", "p1"), ("grid", "g2"), ("grid", "g3"), ("enterprise", "e1"),
         ("enterprise", "e2"))

backend = backend_fixture("fieldwork")


@pytest.fixture
def store(backend):
    figures = Figures(backend.database)
    figures.ensure_indexes()
    return figures


def batches(events, size):
    return [events[start:start + size] for start in range(0, len(events), size)]


def planted():
    """Both counties' events in batches, with the county each is applied for."""
    plant = Plant("c")
    extra = [plant.officer("o1", "刘警官"), plant.assignment("e1", 2),
             plant.assignment("e2", 1, b=None), plant.assignment("e1", 1, a="o9")]
    return ([("hengkou", batch) for batch in batches(hengkou(Plant("hk")) + extra, 40)] +
            [("wengan", batch) for batch in batches(wengan(Plant("wa")), 40)])


def apply_all(store, work):
    for county, batch in work:
        store.apply(batch, county, no_registry)


def reports(store):
    return {area: store.report(*area, *YEAR) for area in AREAS}


@pytest.fixture(scope="module")
def expected():
    """The reports as the in-memory fake makes them, once."""
    clean = Figures(MemoryDatabase())
    apply_all(clean, planted())
    return reports(clean)


def test_the_same_events_give_the_same_reports_on_every_backend(store, backend, expected):
    apply_all(store, planted())
    assert reports(store) == expected
    assert expected[("county", "hengkou")]["figures"]["materials"] == 20_000
    assert expected[("province", None)]["coverage"]["enterprises"] == 2
    reopened = Figures(backend.reopen())
    assert reports(reopened) == expected
    apply_all(reopened, planted())  # all of it again, after a restart
    assert reports(reopened) == expected
    assert reopened.place("e2")["grid_id"] == "g2"


class Killed(Exception):
    pass


class Dying:
    """A table that dies after `budget["left"]` more writes to the tables sharing the
    budget (an `update_each` is one: one transaction on the embedded store), reading and
    writing through the real one."""

    def __init__(self, table, budget):
        self.table, self.budget = table, budget

    def __getattr__(self, name):
        attribute = getattr(self.table, name)
        if name not in ("update", "update_each", "insert", "insert_all"):
            return attribute

        def write(*args, **kwargs):
            if self.budget["left"] == 0:
                raise Killed()
            self.budget["left"] -= 1
            return attribute(*args, **kwargs)
        return write


def test_a_batch_killed_at_any_write_counts_each_event_once_when_applied_again(store,
                                                                               expected):
    work = planted()
    county, batch = work[0]
    for writes in range(0, 40, 3):
        budget = {"left": writes}
        dying = Figures.__new__(Figures)
        dying.__dict__.update(store.__dict__, figures=Dying(store.figures, budget),
                              monthly=Dying(store.monthly, budget),
                              once=Dying(store.once, budget))
        try:
            dying.apply(batch, county, no_registry)
        except Killed:
            pass
    apply_all(store, work)
    assert reports(store) == expected


class Racing:
    """A figures table on which another writer applies `rival` (through `other`) just before
    the first guarded write of each round: the writes read before it must lose and be done
    again."""

    def __init__(self, table, other, rival, county):
        self.table, self.other, self.rival, self.county = table, other, rival, county
        self.raced = 0

    def __getattr__(self, name):
        return getattr(self.table, name)

    def update_each(self, changes):
        if self.raced < 3:
            self.raced += 1
            self.other.apply(self.rival[self.raced - 1::3], self.county, no_registry)
        return self.table.update_each(changes)

    def insert_all(self, rows):
        if self.raced < 3:
            self.raced += 1
            self.other.apply(self.rival[self.raced - 1::3], self.county, no_registry)
        return self.table.insert_all(rows)


def test_a_write_raced_by_another_writer_is_done_again_and_counts_once(store, backend,
                                                                       expected):
    work = planted()
    other = Figures(backend.database)
    for county, batch in work[:6]:  # some documents exist before, so both paths race
        other.apply(batch[::5], county, no_registry)
    county, batch = work[6]
    racing = Figures.__new__(Figures)
    racing.__dict__.update(store.__dict__)
    racing.figures = Racing(store.figures, other, batch, county)
    racing.apply(batch, county, no_registry)
    assert racing.figures.raced == 3
    apply_all(store, work)
    assert reports(store) == expected


def test_the_reports_queries_are_answered_by_the_indexes(store, backend):
    if backend.name != "embedded":
        pytest.skip("query plans are the embedded store's")
    apply_all(store, planted()[:3])
    day = {"$gte": "2025-01-01", "$lte": "2025-12-31"}
    plans = [store.figures.plan({"kind": "county", "area": "hengkou", "day": day}),
             store.figures.plan({"kind": "county", "day": day}),
             store.monthly.plan({"kind": "county", "day": {"$gte": "2025-01",
                                                           "$lte": "2025-12"}}),
             store.figures.plan({"_id": {"$in": ["a", "b"]}}),
             store.coverage.plan({"station_id": "s1"}, sort=[("covered", 1), ("_id", 1)],
                                 limit=100)]
    for plan in plans:
        assert any("USING" in step for step in plan) and not any(
            step.startswith("SCAN") for step in plan), plan


APPLIER = """
import sys
from kit.storage import open_database
from services.fieldwork.figures import Figures
from tests.storage.test_work_report_store_contract import planted
from tests.unit.test_work_report import no_registry

store = Figures(open_database("fieldwork", None, sys.argv[1]))
store.ensure_indexes()
for n, (county, batch) in enumerate(planted()):
    store.apply(batch, county, no_registry)
    print(n, flush=True)
print("done", flush=True)
"""


def test_a_process_killed_while_applying_loses_nothing_and_counts_nothing_twice(
        store, backend, expected, tmp_path):
    if backend.name != "embedded":
        pytest.skip("a process of its own on the embedded store")
    data = Path(backend.data_dir)
    for after in (2, 9):
        applier = subprocess.Popen([sys.executable, "-c", APPLIER, str(data)], cwd=ROOT,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=dict(os.environ, PYTHONPATH=str(ROOT)))
        try:
            for line in applier.stdout:
                if line.strip() == str(after):
                    os.kill(applier.pid, signal.SIGKILL)  # in the middle of the next batch
                    break
            else:
                pytest.fail(applier.stderr.read())
        finally:
            applier.kill()
            applier.wait(timeout=30)
        assert applier.returncode == -signal.SIGKILL
    store = Figures(backend.reopen())
    apply_all(store, planted())
    assert reports(store) == expected
