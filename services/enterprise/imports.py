"""Bulk import of enterprises, officers and assignments from CSV.

Every row is checked before anything is written. A rejected row is reported with its line,
field and reason. In `all_or_nothing` mode one rejected row means nothing is imported; in
`good_rows` mode the good rows are. A row is always written whole, in a single write, or not
at all. All-or-nothing holds at check time: a row refused at write time (a record changed by
someone else meanwhile) is reported rejected, and the rows written before it stay. Rows name other records by their natural keys (grid code, park and station names,
badge numbers, credit codes), since whoever fills in a spreadsheet does not know our ids.
A file over MAX_FILE_BYTES or MAX_ROWS rows, or with a field over MAX_FIELD_CHARS, is refused
whole (400), naming the line where it goes over.
"""
import csv
import io

from kit.errors import DuplicateRecord, RecordNotFound, ValidationFailed
from kit.schemas import load

from . import handlers, schemas
from .domain import Grid, Park, Station
from .exceptions import ChangedMeanwhile, InvalidImport

MAX_FILE_BYTES = 1024 * 1024
MAX_ROWS = 5000
MAX_FIELD_CHARS = 10_000

COLUMNS = {
    "enterprises": ("name", "credit_code", "kind", "level", "stage", "grid_code", "park_name",
                    "address", "workforce", "migrant_workers", "contact_name", "contact_phone"),
    "officers": ("badge_number", "name", "role", "station_name", "departments", "phone"),
    "assignments": ("credit_code", "a_badge", "b_badge", "bureau_leader_badge",
                    "station_leader_badge", "area_chief_badge", "departments",
                    "effective_from"),
}
REQUIRED = {
    "enterprises": ("name", "credit_code", "kind", "level", "stage", "grid_code"),
    "officers": ("badge_number", "name", "role", "station_name"),
    "assignments": ("credit_code",),
}
# Where a field of the RPC input came from in the CSV, to name it in a rejection.
_COLUMN_OF = {"grid_id": "grid_code", "park_id": "park_name", "station_id": "station_name",
              "contact": "contact_name", "a_officer_id": "a_badge", "b_officer_id": "b_badge",
              "bureau_leader_id": "bureau_leader_badge",
              "station_leader_id": "station_leader_badge", "area_chief_id": "area_chief_badge"}


class RowRejected(Exception):
    def __init__(self, field, reason):
        super().__init__(field, reason)
        self.field = field
        self.reason = reason


def import_csv(repo, kind, text, mode, actor, now):
    rows = read_rows(kind, text)
    lookups = _Lookups(repo)
    planned, rejected, seen = [], [], set()
    for line, row in rows:
        try:
            key = row.get("credit_code") if kind != "officers" else row.get("badge_number")
            if key in seen:
                raise RowRejected(_key_column(kind), f"{key} appears earlier in this file")
            planned.append((line, _PREPARE[kind](repo, lookups, row, actor, now)))
            seen.add(key)
        except RowRejected as refusal:
            rejected.append({"line": line, "field": refusal.field, "reason": refusal.reason})
    rows = len(planned) + len(rejected)
    if rejected and mode == "all_or_nothing":
        planned = []
    imported = 0
    for line, write in planned:
        try:
            write()
            imported += 1
        except (ValidationFailed, DuplicateRecord, RecordNotFound, ChangedMeanwhile) as error:
            rejected.append({"line": line, "field": _key_column(kind), "reason": str(error)})
    rejected.sort(key=lambda r: r["line"])
    return {"kind": kind, "mode": mode, "rows": rows, "imported": imported,
            "rejected": rejected}


def read_rows(kind, text):
    """[(line, row)] of the file, after its header is checked. A file that cannot be parsed,
    or is over a limit, is refused whole, naming the line."""
    _check_size(text)
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = _parsed(reader, lambda: reader.fieldnames)
    _check_fields(1, header or ())
    _check_header(kind, header)
    rows = []
    while (row := _parsed(reader, lambda: next(reader, None))) is not None:
        if len(rows) == MAX_ROWS:
            _refuse(reader.line_num, f"more than {MAX_ROWS} rows; split the file")
        _check_fields(reader.line_num, row.values())
        rows.append((reader.line_num, row))
    return rows


def _parsed(reader, step):
    """step() on the reader; a csv.Error refuses the file, naming the line being read."""
    try:
        return step()
    except csv.Error as error:
        reason = str(error)
    if "field limit" in reason:  # the csv module's own limit, above ours
        reason = f"a field is longer than {MAX_FIELD_CHARS} characters"
    _refuse(reader.line_num + 1, reason)


def _check_size(text):
    data = text.encode("utf-8", "surrogatepass")
    if len(data) > MAX_FILE_BYTES:
        _refuse(data.count(b"\n", 0, MAX_FILE_BYTES) + 1,
                f"the file is over {MAX_FILE_BYTES} bytes; split it")


def _check_fields(line, values):
    for value in values:
        for text in value if isinstance(value, list) else (value,):  # extra fields: a list
            if text is not None and len(text) > MAX_FIELD_CHARS:
                _refuse(line, f"a field is longer than {MAX_FIELD_CHARS} characters")


def _refuse(line, reason):
    raise InvalidImport({"text": [f"line {line}: {reason}"]})


def _check_header(kind, header):
    if not header:
        raise InvalidImport({"text": ["the file is empty"]})
    unknown = [c for c in header if c not in COLUMNS[kind]]
    missing = [c for c in REQUIRED[kind] if c not in header]
    errors = {}
    if unknown:
        errors["header"] = [f"unknown column {c!r}" for c in unknown]
    if missing:
        errors.setdefault("header", []).extend(f"missing column {c!r}" for c in missing)
    if errors:
        raise InvalidImport(errors)


def _key_column(kind):
    return "badge_number" if kind == "officers" else "credit_code"


class _Lookups:
    """Natural keys to ids, each looked up once per file."""

    def __init__(self, repo):
        self.repo = repo
        self.grids = {g.code: g.id for g in repo.all(Grid)}
        self.parks = {p.name: p.id for p in repo.all(Park)}
        self.stations = {s.name: s.id for s in repo.all(Station)}

    def resolve(self, table, column, value):
        if not value:
            return None
        try:
            return table[value]
        except KeyError:
            raise RowRejected(column, f"no record named {value!r}") from None

    def officer(self, column, badge):
        if not badge:
            return None
        officer = self.repo.find_officer_by_badge(badge)
        if officer is None:
            raise RowRejected(column, f"no officer with badge number {badge}")
        return officer.id

    def enterprise(self, credit_code):
        enterprise = self.repo.find_enterprise_by_credit_code(credit_code or "")
        if enterprise is None:
            raise RowRejected("credit_code", f"no enterprise with credit code {credit_code}")
        return enterprise.id


def _listed(value):
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _checked(prepare, schema, data, repo, *args):
    """Load the row through the RPC schema and the same checks as a single create."""
    try:
        loaded = load(schema, {k: v for k, v in data.items() if v not in (None, "")})
        return prepare(repo, loaded, *args)
    except DuplicateRecord as error:
        raise RowRejected(error.field, str(error)) from None
    except ValidationFailed as error:
        raise RowRejected(*_first_refusal(error.errors)) from None


def _first_refusal(errors):
    """(CSV column, reason) of the first refused field, following nested errors down.

    Nested objects map to their own columns (contact.phone -> contact_phone); a list names
    the item (departments item 2)."""
    path, why = [], errors
    while isinstance(why, dict):
        key = sorted(why, key=str)[0]
        path.append(key)
        why = why[key]
    reason = "; ".join(map(str, why)) if isinstance(why, list) else str(why)
    if path[0] == "contact" and len(path) > 1:
        return f"contact_{path[1]}", reason
    if len(path) > 1 and isinstance(path[1], int):
        return _COLUMN_OF.get(path[0], path[0]), f"item {path[1] + 1}: {reason}"
    return _COLUMN_OF.get(path[0], path[0]), reason


def _prepare_enterprise(repo, lookups, row, actor, now):
    data = {
        "name": row.get("name"), "credit_code": row.get("credit_code"), "kind": row.get("kind"),
        "level": row.get("level"), "stage": row.get("stage"),
        "grid_id": lookups.resolve(lookups.grids, "grid_code", row.get("grid_code")),
        "park_id": lookups.resolve(lookups.parks, "park_name", row.get("park_name")),
        "address": row.get("address"), "workforce": row.get("workforce"),
        "migrant_workers": row.get("migrant_workers"),
        "contact": {"name": row.get("contact_name") or "", "phone": row.get("contact_phone") or ""},
    }
    enterprise = _checked(handlers.prepare_enterprise, schemas.EnterpriseInput, data, repo)
    return lambda: repo.enterprises.add(enterprise)


def _prepare_officer(repo, lookups, row, actor, now):
    data = {
        "badge_number": row.get("badge_number"), "name": row.get("name"), "role": row.get("role"),
        "station_id": lookups.resolve(lookups.stations, "station_name", row.get("station_name")),
        "departments": _listed(row.get("departments")), "phone": row.get("phone"),
    }
    officer = _checked(handlers.prepare_officer, schemas.OfficerInput, data, repo)
    return lambda: repo.officers.add(officer)


def _prepare_assignment(repo, lookups, row, actor, now):
    enterprise_id = lookups.enterprise(row.get("credit_code"))
    data = {
        "a_officer_id": lookups.officer("a_badge", row.get("a_badge")),
        "b_officer_id": lookups.officer("b_badge", row.get("b_badge")),
        "bureau_leader_id": lookups.officer("bureau_leader_badge",
                                            row.get("bureau_leader_badge")),
        "station_leader_id": lookups.officer("station_leader_badge",
                                             row.get("station_leader_badge")),
        "area_chief_id": lookups.officer("area_chief_badge", row.get("area_chief_badge")),
        "departments": _listed(row.get("departments")),
        "effective_from": row.get("effective_from"),
    }
    return _checked(
        lambda r, loaded: handlers.prepare_assignment(r, enterprise_id, loaded, actor, now),
        schemas.AssignmentInput, data, repo)


_PREPARE = {"enterprises": _prepare_enterprise, "officers": _prepare_officer,
            "assignments": _prepare_assignment}
