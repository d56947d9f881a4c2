"""The appraisal report renders: its HTML holds the figures of the appraisal it reports, and
its charts are PNG files beside it."""
import re
from html import unescape

from services.appraisal import report
from services.appraisal.scoring import Rules, appraise
from services.appraisal.simulate import county_year

PNG = b"\x89PNG\r\n\x1a\n"


def test_the_report_shows_the_lists_the_method_and_the_charts(tmp_path):
    appraisal = appraise(county_year(2)[0], Rules(), seed=2)
    path = report.write(appraisal, 2026, tmp_path)
    html = unescape(path.read_text(encoding="utf-8"))
    for name in report.CHARTS:
        png = tmp_path / f"{name}.png"
        assert png.read_bytes().startswith(PNG) and png.stat().st_size > 5000
        assert f'src="{name}.png"' in html
    section = {name: html[html.index(f'id="{name}"'):] for name in ("model", "lagging")}
    for officer_id in appraisal.model:
        assert officer_id in section["model"][:section["model"].index("</table>")]
    for officer_id in appraisal.lagging:
        assert officer_id in section["lagging"][:section["lagging"].index("</table>")]
    assert f"Model chiefs ({len(appraisal.model)})" in html
    assert f"Lagging ({len(appraisal.lagging)})" in html
    thin = [o for o in appraisal.officers if o.status == "insufficient_data"]
    assert re.search(rf'id="insufficient-count">{len(thin)}<', html)
    assert f'id="county-mean">{appraisal.county_mean:.4f}<' in html
    assert f"rules v{Rules.version}" in html
    first = appraisal.by_id()[appraisal.model[0]]
    assert f"<td>{first.score}</td>" in html and f"<td>{first.breakdown['ratings']}</td>" in html


def test_the_served_report_carries_its_charts_inline():
    appraisal = appraise(county_year(3)[0], Rules(), seed=3)
    html = report.render(appraisal, 2026)
    assert html.count("data:image/png;base64,") == len(report.CHARTS)
