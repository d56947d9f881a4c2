"""The appraisal report renders: its HTML and its PDF hold the figures of the appraisal they
report, whatever components the score has; the charts are PNG files beside the HTML and
images in the PDF; the same appraisal gives the same PDF, byte for byte."""
import io
import re
from decimal import Decimal
from html import unescape

import pytest
from pypdf import PdfReader

from services.appraisal import report, report_pdf
from services.appraisal.scoring import Evidence, Ratings, Rules, appraise
from services.appraisal.planted import county_year

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def appraisal():
    return appraise(county_year(2)[0], Rules(), seed=2)


@pytest.fixture(scope="module")
def written(appraisal, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    page, printable = report.write(appraisal, 2026, out)
    return out, page, printable


def pdf_text(content):
    reader = PdfReader(io.BytesIO(content))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def with_a_component(appraisal, name):
    """`appraisal` with a further component in each breakdown, split off the ratings' part so
    the parts still sum to the score."""
    for i, officer in enumerate(appraisal.officers):
        part = Decimal(i % 7 - 3) / 100
        officer.breakdown = dict(officer.breakdown, ratings=officer.breakdown["ratings"] - part,
                                 **{name: part})
    return appraisal


def test_the_report_shows_the_lists_the_method_and_the_charts(appraisal, written):
    out, page, _ = written
    html = unescape(page.read_text(encoding="utf-8"))
    for name in report.CHARTS:
        png = out / f"{name}.png"
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
    assert f"{len(thin)} with insufficient data" in html
    assert len(re.findall(r"<tr>", html[html.index('id="insufficient"'):])) == len(thin) + 1
    assert f"County mean {appraisal.county_mean:.4f};" in html
    assert f"rules v{Rules.version}" in html
    first = appraisal.by_id()[appraisal.model[0]]
    assert f"<td>{first.score}</td>" in html and f"<td>{first.breakdown['ratings']}</td>" in html


def test_the_served_report_carries_its_charts_inline(appraisal):
    answer = report.document(appraisal, 2026)
    assert answer["media_type"] == "text/html"
    assert answer["content"].decode("utf-8").count("data:image/png;base64,") == \
        len(report.CHARTS)


def test_the_pdf_names_the_listed_officers_the_rules_and_holds_the_charts(appraisal, written):
    _, _, printable = written
    content = printable.read_bytes()
    assert content.startswith(b"%PDF")
    reader, text = pdf_text(content)
    assert reader.metadata.title == "Appraisal report 2026"
    assert f"Method (rules v{Rules.version}, seed {appraisal.seed})" in text
    assert f"County mean {appraisal.county_mean:.4f};" in text
    assert f"Model chiefs ({len(appraisal.model)})" in text
    assert f"Lagging ({len(appraisal.lagging)})" in text
    by_id = appraisal.by_id()
    for officer_id in appraisal.model + appraisal.lagging:
        officer = by_id[officer_id]
        low, high = officer.rank_interval
        assert officer_id in text
        assert f"{officer.rank} ({low}-{high})" in text
        assert str(officer.breakdown["ratings"]) in text
    for officer in appraisal.officers:
        if officer.status == "insufficient_data":
            assert officer.officer_id in text
    assert sum(len(page.images) for page in reader.pages) == len(report.CHARTS)


def test_the_same_appraisal_gives_the_same_pdf_and_html(appraisal, written):
    _, page, printable = written
    again = report.context(appraise(county_year(2)[0], Rules(), seed=2), 2026)
    assert report_pdf.render(again) == printable.read_bytes()
    images = {name: f"{name}.png" for name in report.CHARTS}
    assert report.html(again, images) == page.read_text(encoding="utf-8")


def test_a_further_score_component_shows_in_both_without_a_change_to_the_report(written):
    out, _, _ = written
    appraisal = with_a_component(appraise(county_year(2)[0], Rules(), seed=2), "spot_checks")
    context = report.context(appraisal, 2026)
    model = context.lists[0]
    assert model.parts.header == ("officer", "score", "= county mean", "+ ratings",
                                  "+ spot checks")
    first = appraisal.by_id()[appraisal.model[0]]
    assert model.parts.rows[0][-1] == str(first.breakdown["spot_checks"])
    html = unescape(report.html(context))
    assert "<th>+ spot checks</th>" in html
    assert "county mean + ratings + spot checks" in html
    _, text = pdf_text(report_pdf.render(context))
    assert "spot checks" in text and "county mean + ratings + spot checks" in text
    distribution = next(c for c in context.charts if c.name == "distribution")
    assert distribution.png != (out / "distribution.png").read_bytes()  # one more histogram


def test_a_year_without_ratings_still_renders_in_both_formats():
    appraisal = appraise(Ratings.of([], [], []), Rules(), seed=2026)
    html = report.document(appraisal, 2026)["content"].decode("utf-8")
    assert "No officer was rated." in html and "nothing to plot" in html
    _, text = pdf_text(report.document(appraisal, 2026, "pdf")["content"])
    assert "Model chiefs (0)" in text and "nothing to plot" in text


def test_the_report_states_the_weights_and_what_each_component_rests_on():
    data, truth = county_year(2)
    acks = {name: (18 if i % 3 else 12, 20) for i, name in enumerate(sorted(truth))}
    scored = appraise(Evidence(data, rates={"acknowledgement": acks}), Rules(), seed=2)
    laid_out = report.context(scored, 2026)
    page = unescape(report.html(laid_out))
    assert "Weights (those of components without evidence spread over the others): " \
           "ratings 0.8000, acknowledgement 0.2000" in page
    assert "without evidence this year: chiefs, spot checks, requests, visits, mediation" \
        in page
    shown = scored.by_id()[scored.model[0]].components["acknowledgement"]
    assert f"{shown['observed']:.4f} (n=20) -> {shown['estimate']:.4f}" in page
    _, text = pdf_text(report_pdf.render(laid_out))
    assert "The other components" in text and f"(n=20) -> {shown['estimate']:.4f}" in text


def test_long_officer_ids_are_never_broken_across_lines_in_the_pdf():
    ids = [f"{i:024x}" for i in range(60)]  # as the registry makes them
    chiefs = Ratings.of([i for i in ids for _ in range(3)], ["l1", "l2", "l3"] * 60,
                        [4.0, 3.0, 5.0] * 60)
    scored = appraise(Evidence(Ratings.of([ids[0]], ["e1"], [4.0]), chiefs), Rules(), seed=1)
    _, text = pdf_text(report_pdf.render(report.context(scored, 2026)))
    assert all(officer_id in text for officer_id in ids)
