"""The work report's query and answer, as the gateway documents and sends them: field work
loads the query and dumps the report through these. Unknown fields are refused."""
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from ..vocabulary import LEVELS, REPORT_AREAS, REPORT_LANGUAGES

ID = validate.Length(min=1, max=64)
MAX_DAYS = 3 * 365 + 1  # the longest period one report covers: three years
FORMATS = ("html", "pdf")


class ReportQuery(Schema):
    """An area (the province needs no id, a county without one is this platform's; every other
    kind needs one) and the days start..end, both included, at most MAX_DAYS of them; `lang`
    the labels of the printable report."""
    area_kind = fields.String(required=True, validate=validate.OneOf(REPORT_AREAS))
    area_id = fields.String(load_default=None, allow_none=True, validate=ID)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    lang = fields.String(load_default="zh", validate=validate.OneOf(REPORT_LANGUAGES))

    @validates_schema
    def _area_and_period(self, data, **kwargs):
        if data.get("area_kind") == "province":
            if data.get("area_id") is not None:
                raise ValidationError("the province is everything held: no id", "area_id")
        elif data.get("area_kind") not in (None, "county") and data.get("area_id") is None:
            raise ValidationError(f"required for a {data['area_kind']}", "area_id")
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                raise ValidationError("must not be before start", "end")
            if (end - start).days + 1 > MAX_DAYS:
                raise ValidationError(f"a report covers at most {MAX_DAYS} days", "end")


class ReportDocumentQuery(ReportQuery):
    """The printable report's query: `format` html (the default) or pdf."""
    format = fields.String(load_default="html", validate=validate.OneOf(FORMATS))


# --- output ---------------------------------------------------------------------------------


class Area(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(REPORT_AREAS))
    id = fields.String(required=True, allow_none=True)


class FigureValue(Schema):
    name = fields.String(required=True)
    zh = fields.String(required=True)
    en = fields.String(required=True)
    value = fields.Integer(required=True)


class Section(Schema):
    name = fields.String(required=True)
    zh = fields.String(required=True)
    en = fields.String(required=True)
    figures = fields.List(fields.Nested(FigureValue), required=True)


class YearOnYear(Schema):
    """Incidents at key enterprises in the period and on the same days a year before, and the
    change (-0.257: a fall of 25.7%; null when there were none before)."""
    value = fields.Integer(required=True)
    start_before = fields.Date(required=True)
    end_before = fields.Date(required=True)
    a_year_before = fields.Integer(required=True)
    change = fields.Float(required=True, allow_none=True)


class SeatHolder(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    badge_number = fields.String(required=True, allow_none=True)


class CoverageRow(Schema):
    """An enterprise and who holds each of its seats now (null: nobody)."""
    enterprise_id = fields.String(required=True)
    name = fields.String(required=True, allow_none=True)
    level = fields.String(required=True, allow_none=True, validate=validate.OneOf(LEVELS))
    key = fields.Boolean(required=True)
    covered = fields.Boolean(required=True)
    revision = fields.Integer(required=True)
    a_officer = fields.Nested(SeatHolder, required=True, allow_none=True)
    b_officer = fields.Nested(SeatHolder, required=True, allow_none=True)
    bureau_leader = fields.Nested(SeatHolder, required=True, allow_none=True)
    station_leader = fields.Nested(SeatHolder, required=True, allow_none=True)
    area_chief = fields.Nested(SeatHolder, required=True, allow_none=True)


class CoverageFigures(Schema):
    """The area's enterprises now: how many, how many key, with an A and a B officer, with
    the three chiefs, with both (covered)."""
    enterprises = fields.Integer(required=True)
    key_enterprises = fields.Integer(required=True)
    with_a_and_b = fields.Integer(required=True)
    with_three_chiefs = fields.Integer(required=True)
    covered = fields.Integer(required=True)
    key_covered = fields.Integer(required=True)


class ReportCoverage(CoverageFigures):
    """The coverage figures, the rows listed (gaps first) and how many were not."""
    rows = fields.List(fields.Nested(CoverageRow), required=True)
    rows_not_shown = fields.Integer(required=True)


class WorkReport(Schema):
    """The bureau's work report of an area over the days start..end (both included): every
    figure by name (`figures`) and by section with its labels (`sections`), incidents at key
    enterprises year on year, and who covers the area's enterprises now."""
    area = fields.Nested(Area, required=True)
    start = fields.Date(required=True)
    end = fields.Date(required=True)
    days = fields.Integer(required=True)
    figures = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    sections = fields.List(fields.Nested(Section), required=True)
    key_incidents = fields.Nested(YearOnYear, required=True)
    coverage = fields.Nested(ReportCoverage, required=True)
