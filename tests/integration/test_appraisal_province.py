"""`python -m services.appraisal.simulate --scale province` on a small province: every rating
fed to appraisal's own store (an embedded database in a temporary folder) is one the year's
ranking sees, and a rating stored in bulk is the document the handlers would have written.
Nothing here depends on how fast anything was."""
import dataclasses
from datetime import datetime

from kit.storage import open_database
from services.appraisal import planted, province
from services.appraisal.store import Repository

YEAR = 2025


def test_every_rating_fed_is_seen_by_the_ranking(tmp_path):
    lines = []

    figures = province.province(200, 5000, seed=3, year=YEAR, through_handlers=300,
                                data_dir=tmp_path, out=lines.append)

    assert figures["fed"] == figures["seen"] == 5000
    assert [count for count, _ in figures["fed_by"].values()] == [300, 4700]
    assert 0 < figures["ranked"] < 200 and figures["model"] <= 10
    header = lines.index("scale\t" + "\t".join(planted.COLUMNS))
    row = lines[header + 1].split("\t")
    assert row[0] == "province" and all(cell.isdigit() for cell in row[1:])
    assert len(row) == len(planted.COLUMNS) + 1


def test_a_rating_stored_in_bulk_is_the_document_the_handlers_write(tmp_path):
    year = province.province_year(20, 60, seed=5, year=YEAR)
    stored = {}
    for how, through_handlers in (("handlers", 60), ("bulk", 0)):
        database = open_database("appraisal", None, tmp_path / how)
        try:
            repo = Repository(database)
            repo.ensure_indexes()
            province.feed(repo, year, through_handlers=through_handlers)
            stored[how] = {i.id: dataclasses.replace(i, version=0)
                           for i in repo.issued_between(datetime(YEAR, 1, 1),
                                                        datetime(YEAR + 1, 1, 1))}
        finally:
            database.close()

    assert len(stored["bulk"]) == 60
    assert stored["bulk"] == stored["handlers"]
