"""The work report as a printable page, in Chinese or English labels: `printable(report,
lang)` lays out a report (services.fieldwork.report.assemble) as text tables, which the HTML
(`render_html`, a Jinja2 template) and the PDF (services.fieldwork.report_pdf.render_pdf)
both show, so the two hold the same figures.
"""
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(("html",)))

TEXTS = {  # key: (Chinese, English)
    "title": ("警企联络工作报告", "Police-enterprise liaison work report"),
    "area": ("统计范围", "Area"),
    "period": ("统计期间", "Period"),
    "period_value": ("{start} 至 {end}(共 {days} 天)", "{start} to {end} ({days} days)"),
    "figure": ("指标", "Figure"),
    "value": ("数值", "Value"),
    "key_incidents": ("重点项目周边警情同比", "Incidents at key enterprises, year on year"),
    "this_period": ("本期", "This period"),
    "a_year_before": ("去年同期({start} 至 {end})", "A year before ({start} to {end})"),
    "change": ("同比变化", "Change"),
    "coverage": ("包联覆盖(当前)", "Coverage (now)"),
    "enterprises": ("企业(项目)数", "enterprises"),
    "key_enterprises": ("重点项目数", "key enterprises"),
    "with_a_and_b": ("落实A、B岗民警", "with an A and a B officer"),
    "with_three_chiefs": ("落实“三长”", "with the three chiefs"),
    "covered": ("全面覆盖(A、B岗及“三长”)", "covered (A, B and the three chiefs)"),
    "key_covered": ("重点项目全面覆盖", "key enterprises covered"),
    "enterprise": ("企业", "Enterprise"),
    "level": ("等级", "Level"),
    "a_officer": ("A岗民警", "A officer"),
    "b_officer": ("B岗民警", "B officer"),
    "bureau_leader": ("包联局领导", "Bureau leader"),
    "station_leader": ("所队长", "Station leader"),
    "area_chief": ("辖区警长", "Area chief"),
    "vacant": ("空缺", "vacant"),
    "no_change": ("—", "-"),
    "not_shown": ("另有 {n} 家企业未列出(缺岗者优先列出)。",
                  "{n} more enterprises not listed (those with a vacant seat come first)."),
    "note": ("数据由各业务系统的事件实时汇总,按事件发生日(UTC)计入;覆盖情况为当前状态。",
             "Counted from the services' events as they arrive, on the day each happened "
             "(UTC); coverage is as it stands now."),
}
AREAS = {"province": ("全省", "Province"), "county": ("县(区)", "County"),
         "station": ("派出所", "Station"), "park": ("园区", "Park"), "grid": ("警格", "Grid"),
         "enterprise": ("企业", "Enterprise")}
LEVEL_NAMES = {"city_key_project": ("市级重点项目", "city key project"),
               "district_key_project": ("区级重点项目", "district key project"),
               "above_scale": ("规上企业", "above-scale enterprise"), "other": ("其他", "other")}
SEAT_KEYS = ("a_officer", "b_officer", "bureau_leader", "station_leader", "area_chief")


@dataclass(frozen=True)
class Table:
    header: tuple
    rows: tuple  # of tuples of text


@dataclass(frozen=True)
class Block:
    key: str       # a section's name, "key_incidents" or "coverage"
    heading: str
    table: Table


@dataclass(frozen=True)
class Printable:
    """Everything the printed report shows, as text in one language."""
    lang: str
    title: str
    facts: tuple       # of (label, text): the area and the period
    blocks: tuple      # of Block: the sections, incidents year on year, coverage
    coverage_rows: Table
    notes: tuple       # sentences


def printable(report, lang="zh"):
    """`report` laid out in `lang` ("zh" or "en")."""
    def text(key, **values):
        return _pick(TEXTS[key], lang).format(**values)

    area = report["area"]
    area_text = _pick(AREAS[area["kind"]], lang) + (f" {area['id']}" if area["id"] else "")
    blocks = [Block(section["name"], _pick((section["zh"], section["en"]), lang),
                    Table((text("figure"), text("value")),
                          tuple((_pick((f["zh"], f["en"]), lang), number(f["value"]))
                                for f in section["figures"])))
              for section in report["sections"]]
    key = report["key_incidents"]
    blocks.append(Block("key_incidents", text("key_incidents"), Table(
        (text("figure"), text("value")),
        ((text("this_period"), number(key["value"])),
         (text("a_year_before", start=key["start_before"], end=key["end_before"]),
          number(key["a_year_before"])),
         (text("change"), percent(key["change"]) if key["change"] is not None
          else text("no_change"))))))
    cover = report["coverage"]
    blocks.append(Block("coverage", text("coverage"), Table(
        (text("figure"), text("value")),
        tuple((text(name), number(cover[name]))
              for name in ("enterprises", "key_enterprises", "with_a_and_b",
                           "with_three_chiefs", "covered", "key_covered")))))
    rows = tuple((_enterprise(row), _pick(LEVEL_NAMES.get(row["level"], ("", "")), lang),
                  *(_officer(row[seat], text("vacant")) for seat in SEAT_KEYS))
                 for row in cover["rows"])
    notes = [text("note")]
    if cover["rows_not_shown"]:
        notes.insert(0, text("not_shown", n=number(cover["rows_not_shown"])))
    return Printable(
        lang, text("title"),
        ((text("area"), area_text),
         (text("period"), text("period_value", start=report["start"], end=report["end"],
                               days=report["days"]))),
        tuple(blocks),
        Table((text("enterprise"), text("level"), *(text(seat) for seat in SEAT_KEYS)), rows),
        tuple(notes))


def render_html(report, lang="zh"):
    """The report as one HTML document (text) in `lang`'s labels."""
    return html(printable(report, lang))


def html(page):
    """A laid-out report (`printable`) as one HTML document."""
    return _TEMPLATES.get_template("work_report.html").render(page=page)


def number(n):
    return f"{n:,}"


def percent(change):
    return f"{change * 100:+.1f}%"


def _pick(pair, lang):
    return pair[0] if lang == "zh" else pair[1]


def _enterprise(row):
    return f"{row['name']} ({row['enterprise_id']})" if row.get("name") else row["enterprise_id"]


def _officer(officer, vacant):
    if officer is None:
        return vacant
    if officer.get("name"):
        badge = f" ({officer['badge_number']})" if officer.get("badge_number") else ""
        return f"{officer['name']}{badge}"
    return officer["id"]
