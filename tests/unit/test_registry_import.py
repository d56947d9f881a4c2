"""The registry's CSV import on the in-memory store: rows are checked before anything is
written, rejected rows name their line, column and reason, and each mode writes what it says."""
import csv
from datetime import datetime

import pytest

from kit.tables import MemoryDatabase
from kit.testing import published
from services.enterprise import handlers
from services.enterprise.domain import Contact, Enterprise, credit_code_check_char
from services.enterprise.exceptions import InvalidImport
from services.enterprise.imports import import_csv
from services.enterprise.store import Repository

NOW = datetime(2025, 4, 15, 8, 30)
ENTERPRISE_HEADER = ("name,credit_code,kind,level,stage,grid_code,park_name,address,workforce,"
                     "migrant_workers,contact_name,contact_phone")


def credit_code(n):
    first17 = f"91350100MA{n:07d}"
    return first17 + credit_code_check_char(first17)


@pytest.fixture
def repo():
    repository = Repository(MemoryDatabase())
    repository.ensure_indexes()
    return repository


@pytest.fixture
def places(repo):
    station = handlers.create_station(repo, {"name": "Gulou Station", "kind": "station",
                                             "address": "1 Gulou Road", "phone": "110"})
    park = handlers.create_park(repo, {"name": "Software Park", "station_id": station.id,
                                       "address": ""})
    grid = handlers.create_grid(repo, {"code": "G01", "name": "Riverside",
                                       "station_id": station.id})
    return {"station": station, "park": park, "grid": grid}


def csv_text(*rows, header=ENTERPRISE_HEADER):
    return "\n".join((header,) + rows) + "\n"


def row(n, grid="G01", park="", workforce="100", migrants="10", phone="13800000000",
        code=None):
    return (f"Works {n},{code or credit_code(n)},enterprise,above_scale,production,{grid},{park},"
            f"{n} Wusi Road,{workforce},{migrants},Contact {n},{phone}")


def stored_events(repo, event_type):
    return [e for e in published(repo.unit) if e["type"] == event_type]


def test_all_or_nothing_with_one_bad_row_imports_nothing(repo, places):
    text = csv_text(row(1), row(2, grid="G77"), row(3, park="Software Park"))
    report = import_csv(repo, "enterprises", text, "all_or_nothing", "admin", NOW)

    assert report == {"kind": "enterprises", "mode": "all_or_nothing", "rows": 3, "imported": 0,
                      "rejected": [{"line": 3, "field": "grid_code",
                                    "reason": "no record named 'G77'"}]}
    assert repo.all(Enterprise) == []
    assert stored_events(repo, "enterprise.registered") == []


def test_good_rows_imports_the_good_rows(repo, places):
    text = csv_text(row(1), row(2, workforce="5", migrants="9"), row(3, park="Software Park"),
                    row(4, code="91350100MA00000040"))
    report = import_csv(repo, "enterprises", text, "good_rows", "admin", NOW)

    assert report["rows"] == 4
    assert report["imported"] == 2
    assert report["rejected"] == [
        {"line": 3, "field": "migrant_workers", "reason": "cannot exceed workforce"},
        {"line": 5, "field": "credit_code",
         "reason": f"check character is '0', expected '{credit_code(4)[17]}'"},
    ]
    stored = sorted(repo.all(Enterprise), key=lambda e: e.name)
    assert [e.credit_code for e in stored] == [credit_code(1), credit_code(3)]
    works_3 = stored[1]
    assert works_3.park_id == places["park"].id
    assert works_3.grid_id == places["grid"].id
    assert works_3.station_id == places["station"].id  # taken from the grid
    assert works_3.contact == Contact(name="Contact 3", phone="13800000000")
    assert (works_3.workforce, works_3.migrant_workers) == (100, 10)
    assert len(stored_events(repo, "enterprise.registered")) == 2


def test_a_key_repeated_in_the_file_is_rejected(repo, places):
    text = csv_text(row(1), row(2), row(3, code=credit_code(1)))
    report = import_csv(repo, "enterprises", text, "good_rows", "admin", NOW)
    assert report["imported"] == 2
    assert report["rejected"] == [{"line": 4, "field": "credit_code",
                                   "reason": f"{credit_code(1)} appears earlier in this file"}]

    report = import_csv(repo, "enterprises", csv_text(row(5), row(5)), "all_or_nothing",
                        "admin", NOW)
    assert report["imported"] == 0
    assert [r["line"] for r in report["rejected"]] == [3]
    assert len(repo.all(Enterprise)) == 2


def test_a_key_already_registered_is_rejected(repo, places):
    import_csv(repo, "enterprises", csv_text(row(1)), "all_or_nothing", "admin", NOW)
    report = import_csv(repo, "enterprises", csv_text(row(1), row(2)), "good_rows", "admin", NOW)
    assert report["imported"] == 1
    assert report["rejected"] == [{"line": 2, "field": "credit_code",
                                   "reason": f"credit_code '{credit_code(1)}' is already "
                                             "registered"}]


def test_the_refused_contact_column_is_named(repo, places):
    report = import_csv(repo, "enterprises", csv_text(row(1, phone="call me")), "good_rows",
                        "admin", NOW)
    assert report["imported"] == 0
    assert report["rejected"] == [{"line": 2, "field": "contact_phone",
                                   "reason": "not a phone number"}]


@pytest.mark.parametrize("header, errors", [
    ("name,credit_code,kind,level,stage", {"header": ["missing column 'grid_code'"]}),
    (ENTERPRISE_HEADER + ",favourite_colour", {"header": ["unknown column 'favourite_colour'"]}),
])
def test_a_bad_header_refuses_the_file_as_a_whole(repo, places, header, errors):
    with pytest.raises(InvalidImport) as refused:
        import_csv(repo, "enterprises", csv_text(row(1), header=header), "good_rows", "admin",
                   NOW)
    assert refused.value.errors == errors
    assert repo.all(Enterprise) == []


def test_an_empty_file_is_refused(repo, places):
    with pytest.raises(InvalidImport) as refused:
        import_csv(repo, "enterprises", "", "good_rows", "admin", NOW)
    assert refused.value.errors == {"text": ["the file is empty"]}


def test_a_file_the_csv_module_cannot_parse_is_refused_naming_the_line(repo, places):
    huge = "x" * (csv.field_size_limit() + 1)
    with pytest.raises(InvalidImport) as refused:
        import_csv(repo, "enterprises", csv_text(row(1), row(2) + huge), "good_rows", "admin",
                   NOW)
    [reason] = refused.value.errors["text"]
    assert reason.startswith("line 3: ") and "a field is longer than" in reason
    assert repo.all(Enterprise) == []


ASSIGNMENT_HEADER = ("credit_code,a_badge,b_badge,bureau_leader_badge,station_leader_badge,"
                     "area_chief_badge,departments,effective_from")


def test_officers_then_assignments(repo, places):
    officers = csv_text(
        "A1001,Officer A,community_officer,Gulou Station,traffic;public_order,13900000001",
        "A1002,Officer B,auxiliary_officer,Gulou Station,,",
        "A1003,Officer C,area_chief,Nowhere Station,,",
        header="badge_number,name,role,station_name,departments,phone")
    report = import_csv(repo, "officers", officers, "good_rows", "admin", NOW)
    assert report["imported"] == 2
    assert report["rejected"] == [{"line": 4, "field": "station_name",
                                   "reason": "no record named 'Nowhere Station'"}]
    a = repo.find_officer_by_badge("A1001")
    assert a.departments == ["traffic", "public_order"]
    assert a.station_id == places["station"].id

    import_csv(repo, "enterprises", csv_text(row(1)), "all_or_nothing", "admin", NOW)
    assignments = csv_text(f"{credit_code(1)},A1001,A1002,,,,traffic,2025-04-16T00:00:00Z",
                           header=ASSIGNMENT_HEADER)
    report = import_csv(repo, "assignments", assignments, "all_or_nothing", "admin", NOW)
    assert report["imported"] == 1 and report["rejected"] == []
    enterprise = repo.find_enterprise_by_credit_code(credit_code(1))
    current = repo.history(enterprise.id).current()
    b = repo.find_officer_by_badge("A1002")
    assert (current.a_officer_id, current.b_officer_id) == (a.id, b.id)
    assert current.valid_from == datetime(2025, 4, 16)
    assert current.changed_by == "admin"
    assert [h.id for h in repo.assignments_held_by(a.id)] == [enterprise.id]


def test_an_assignment_row_refused_by_its_seats_writes_nothing(repo, places):
    import_csv(repo, "officers", csv_text("A1001,Officer A,bureau_leader,Gulou Station,,",
                                          header="badge_number,name,role,station_name,"
                                                 "departments,phone"),
               "good_rows", "admin", NOW)
    import_csv(repo, "enterprises", csv_text(row(1)), "all_or_nothing", "admin", NOW)
    report = import_csv(repo, "assignments",
                        csv_text(f"{credit_code(1)},A1001,,,,,,", header=ASSIGNMENT_HEADER),
                        "good_rows", "admin", NOW)
    assert report["imported"] == 0
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(2, "a_badge")]
    assert repo.all_assignments() == {}
    assert stored_events(repo, "assignment.changed") == []
