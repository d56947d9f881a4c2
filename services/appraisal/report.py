"""The appraisal report for a year: the two lists with each named officer's explanation, a
funnel plot, a caterpillar plot of scores with rank intervals, each score component's
distribution, and the officers with too little evidence to be ranked. As HTML (a Jinja2
template) and as PDF (services.appraisal.report_pdf), both laid out from one `Report`, so the
two show the same figures; the charts are matplotlib PNGs.

    python -m services.appraisal.report --out DIR [--simulate SEED | --data-dir DIR] [--year Y]

`context(appraisal, year)` gives that Report; `document(appraisal, year, format)` the HTML
(charts inline) or the PDF as the gateway serves it; `write(appraisal, year, out)` writes
report.html, report.pdf and the PNGs in `out`. The same appraisal gives the same bytes.
"""
import argparse
import base64
import io
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: E402

from . import report_pdf  # noqa: E402
from .scoring import Z95, Z998  # noqa: E402

_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(("html",)))
CHARTS = ("funnel", "caterpillar", "distribution")
TITLES = {"funnel": "Funnel plot: adjusted means against their evidence",
          "caterpillar": "Scores and ranks with their intervals",
          "distribution": "Distributions of the score and of its components"}
COLOURS = "Green: model chiefs; red: lagging; blue: the other officers."
FORMATS = {"html": "text/html", "pdf": "application/pdf"}


@dataclass(frozen=True)
class Table:
    header: tuple
    rows: tuple  # of tuples of text, one per column of the header


@dataclass(frozen=True)
class NamedList:
    key: str          # "model" or "lagging"
    title: str
    note: str
    officers: tuple   # the ids named, in the list's order
    parts: Table      # each officer's score and the components that sum to it
    evidence: Table   # what the score rests on: ratings, leniency, intervals, probability
    components: Table  # what each other component rests on: observed, evidence, estimate


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    png: bytes | None  # None: nothing to plot (no officer ranked)
    notes: tuple = ()  # sentences shown under it


@dataclass(frozen=True)
class Report:
    """Everything a report shows, as text and PNG bytes: the HTML and the PDF lay out this
    and nothing else."""

    year: int
    title: str
    method_heading: str
    method: tuple        # sentences
    summary: str
    lists: tuple         # of NamedList: model, then lagging
    charts: tuple        # of Chart, in CHARTS order
    insufficient: Table


def context(appraisal, year):
    """The report of `appraisal` for `year`. The score's components are those of the
    officers' breakdowns, in the order the breakdowns give them, whatever they are."""
    rules = appraisal.rules
    by_id = appraisal.by_id()
    ranked = [o for o in appraisal.officers if o.status == "ranked"]
    thin = [o for o in appraisal.officers if o.status == "insufficient_data"]
    parts = components(appraisal.officers)
    lists = tuple(
        _named(key, title, note, [by_id[i] for i in ids], parts, probability,
               f"P(more than {rules.gap} {side})")
        for key, title, note, ids, probability, side in (
            ("model", "Model chiefs", appraisal.model_note, appraisal.model, "p_above",
             "above"),
            ("lagging", "Lagging", "", appraisal.lagging, "p_below", "below")))
    steady = []
    for name in parts:
        values = {o.breakdown.get(name) for o in ranked}
        if len(values) == 1:
            steady.append(f"{label(name).capitalize()} is {values.pop()} for every ranked "
                          f"officer, so it has no distribution to plot.")
    pngs = charts(appraisal)
    notes = {"funnel": (COLOURS,), "caterpillar": (COLOURS,), "distribution": tuple(steady)}
    return Report(
        year=year, title=f"Appraisal report {year}",
        method_heading=f"Method (rules v{rules.version}, seed {appraisal.seed})",
        method=(
            f"County mean {appraisal.county_mean:.4f}; rating noise SD "
            f"{appraisal.noise_sd:.4f}; spread of officers SD {appraisal.spread_sd:.4f}; "
            f"overdispersion tau {appraisal.overdispersion_tau:.4f}.",
            "Each rater's leniency is estimated with the officers' effects and taken out; "
            "each officer's mean is shrunk toward the county mean by the evidence behind it.",
            "A score is the sum of its components: " + " + ".join(map(label, parts)) + "."
            if parts else "No officer was rated.",
            "Weights (those of components without evidence spread over the others): "
            + ", ".join(f"{label(k)} {w:.4f}" for k, w in appraisal.weights.items())
            + (f"; without evidence this year: {', '.join(map(label, appraisal.absent))}"
               if appraisal.absent else "") + ". The three chiefs' ratings lose their "
            "raters' leniency like the enterprises'; each rate is shrunk toward the county "
            f"rate with a beta prior and counts {rules.rate_scale:g} points per unit.",
            f"Fewer than {rules.min_evidence} ratings: insufficient data, never ranked or "
            f"named.",
            f"Named lagging (model) only when the probability that the officer lies more than "
            f"{rules.gap} below (above) the county mean is at least {rules.level}; at most "
            f"{rules.model_max} model chiefs. A name starts a review; it is not a verdict."),
        summary=f"{len(ranked)} officers ranked, {len(thin)} with insufficient data.",
        lists=lists,
        charts=tuple(Chart(name, TITLES[name], pngs.get(name), notes[name])
                     for name in CHARTS),
        insufficient=Table(("officer", "ratings"),
                           tuple((o.officer_id, str(o.ratings)) for o in thin)))


def components(officers):
    """The names of the score's components, in the order the breakdowns give them."""
    return tuple(dict.fromkeys(name for o in officers for name in o.breakdown))


def label(component):
    return component.replace("_", " ")


def _named(key, title, note, officers, parts, probability, probability_header):
    extra = [k for k in parts if k not in ("county_mean", "ratings")]
    return NamedList(
        key, title, note, tuple(o.officer_id for o in officers),
        Table(("officer", "score") + tuple(
            ("= " if i == 0 else "+ ") + label(name) for i, name in enumerate(parts)),
            tuple((o.officer_id, str(o.score)) + tuple(
                str(o.breakdown[name]) if name in o.breakdown else "-" for name in parts)
                for o in officers)),
        Table(("officer", "ratings", "raw mean", "raters' leniency taken out", "weight",
               "95% interval", "rank (95% interval)", probability_header,
               "funnel: plain / overdispersed"),
              tuple((o.officer_id, str(o.ratings), f"{o.raw_mean:.4f}",
                     f"{o.leniency_adjustment:+.4f}", f"{o.weight:.4f}",
                     f"{o.interval[0]:.4f} - {o.interval[1]:.4f}",
                     f"{o.rank} ({o.rank_interval[0]}-{o.rank_interval[1]})",
                     f"{getattr(o, probability):.4f}",
                     " / ".join(label(o.funnel.get(limit, "-"))
                                for limit in ("plain", "overdispersed")))
                    for o in officers)),
        Table(("officer",) + tuple(label(k) for k in extra),
              tuple((o.officer_id,) + tuple(_evidence(o.components.get(k)) for k in extra)
                    for o in officers)))


def _evidence(component):
    """What one component of a score rests on, as a person checks it: the observed mean or
    rate, over how much evidence, shrunk to what."""
    if not component or not component["evidence"]:
        return "no evidence: county value"
    observed = component["observed"]
    shown = f"{observed:.4f}" if observed is not None else "-"
    return f"{shown} (n={component['evidence']}) -> {component['estimate']:.4f}"


def charts(appraisal):
    """{name: PNG bytes} of the report's charts (none when no officer is ranked or rated)."""
    pngs = {}
    for name, draw in (("funnel", _funnel), ("caterpillar", _caterpillar),
                       ("distribution", _distribution)):
        figure = draw(appraisal)
        if figure is not None:
            pngs[name] = _png(figure)
    return pngs


def html(report, images=None):
    """The report as one HTML document; `images` maps a chart to its src (inline data URIs
    when not given)."""
    if images is None:
        images = {chart.name: "data:image/png;base64," + base64.b64encode(chart.png).decode()
                  for chart in report.charts if chart.png is not None}
    return _TEMPLATES.get_template("appraisal_report.html").render(report=report,
                                                                  images=images)


def document(appraisal, year, format="html"):
    """{"media_type", "content"}: the report as HTML with its charts inline, or as PDF."""
    report = context(appraisal, year)
    content = report_pdf.render(report) if format == "pdf" else html(report).encode("utf-8")
    return {"media_type": FORMATS[format], "content": content}


def write(appraisal, year, out):
    """report.html with its PNGs, and report.pdf, in the folder `out`; their paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = context(appraisal, year)
    images = {}
    for chart in report.charts:
        if chart.png is not None:
            (out / f"{chart.name}.png").write_bytes(chart.png)
            images[chart.name] = f"{chart.name}.png"
    page, printable = out / "report.html", out / "report.pdf"
    page.write_text(html(report, images), encoding="utf-8")
    printable.write_bytes(report_pdf.render(report))
    return page, printable


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _colours(appraisal, officers):
    return ["tab:red" if o.officer_id in appraisal.lagging else "tab:green"
            if o.officer_id in appraisal.model else "tab:blue" for o in officers]


def _funnel(appraisal):
    rated = [o for o in appraisal.officers if o.adjusted_mean is not None]
    if not rated:
        return None
    figure, axes = plt.subplots(figsize=(8, 5))
    mean, sd = appraisal.county_mean, appraisal.noise_sd
    top = max(o.ratings for o in rated)
    counts = [n / 4 for n in range(4, 4 * top + 1)]
    for z, style, name in ((Z95, "--", "95%"), (Z998, "-", "99.8%")):
        for sign in (1, -1):
            axes.plot(counts, [mean + sign * z * sd / math.sqrt(n) for n in counts], style,
                      color="grey", linewidth=1, label=name if sign > 0 else None)
            tau = appraisal.overdispersion_tau
            axes.plot(counts, [mean + sign * z * math.sqrt(sd * sd / n + tau * tau)
                               for n in counts], style, color="tab:orange", linewidth=1,
                      label=f"{name}, overdispersed" if sign > 0 else None)
    named = set(appraisal.model) | set(appraisal.lagging)
    axes.scatter([o.ratings for o in rated], [o.adjusted_mean for o in rated], s=12,
                 c=_colours(appraisal, rated),
                 alpha=[1.0 if o.officer_id in named else 0.5 for o in rated])
    axes.axhline(mean, color="black", linewidth=0.8)
    axes.set_xlabel("ratings (evidence)")
    axes.set_ylabel("mean rating, leniency taken out")
    axes.set_title("Adjusted means against their evidence")
    axes.legend(fontsize=8, loc="lower right")
    return figure


def _caterpillar(appraisal):
    ranked = sorted((o for o in appraisal.officers if o.status == "ranked"),
                    key=lambda o: o.rank)
    if not ranked:
        return None
    figure, (scores, ranks) = plt.subplots(1, 2, figsize=(11, 5))
    xs = range(1, len(ranked) + 1)
    colours = _colours(appraisal, ranked)
    values = [float(o.score) for o in ranked]
    scores.errorbar(xs, values, yerr=[[v - o.interval[0] for v, o in zip(values, ranked)],
                                      [o.interval[1] - v for v, o in zip(values, ranked)]],
                    fmt="none", ecolor="lightgrey", linewidth=0.8)
    scores.scatter(xs, values, s=8, c=colours)
    scores.axhline(appraisal.county_mean, color="black", linewidth=0.8)
    scores.set_xlabel("officers, best first")
    scores.set_ylabel("score with its 95% interval")
    scores.set_title("Scores")
    ranks.errorbar(xs, [o.rank for o in ranked],
                   yerr=[[o.rank - o.rank_interval[0] for o in ranked],
                         [o.rank_interval[1] - o.rank for o in ranked]],
                   fmt="none", ecolor="lightgrey", linewidth=0.8)
    ranks.scatter(xs, [o.rank for o in ranked], s=8, c=colours)
    ranks.invert_yaxis()
    ranks.set_xlabel("officers, best first")
    ranks.set_ylabel("rank with its 95% interval")
    ranks.set_title("Ranks are uncertain: read the intervals")
    return figure


def _distribution(appraisal):
    """The score, each component that differs between ranked officers, and the raters'
    leniency taken out: one histogram each, over the ranked officers."""
    ranked = [o for o in appraisal.officers if o.status == "ranked"]
    if not ranked:
        return None
    panels = [("Score", "score", [float(o.score) for o in ranked], "tab:blue")]
    for name in components(ranked):
        values = [float(o.breakdown[name]) for o in ranked if name in o.breakdown]
        if len(set(values)) > 1:
            panels.append((f"Component: {label(name)}", label(name), values, "tab:cyan"))
    panels.append(("Raters' leniency taken out", "adjusted - raw mean",
                   [o.leniency_adjustment for o in ranked], "tab:purple"))
    columns = min(3, len(panels))
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(11, 3.4 * rows), squeeze=False)
    for axis, (title, xlabel, values, colour) in zip(axes.flat, panels):
        axis.hist(values, bins=30, color=colour)
        axis.set_title(title)
        axis.set_xlabel(xlabel)
        axis.set_ylabel("officers")
    for axis in list(axes.flat)[len(panels):]:
        axis.set_visible(False)
    figure.tight_layout()
    return figure


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--year", type=int, default=2026)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--simulate", type=int, metavar="SEED",
                        help="a simulated county-year (services.appraisal.simulate)")
    source.add_argument("--data-dir", help="the platform's data folder (embedded store)")
    args = parser.parse_args(argv)
    if args.simulate is not None:
        from .scoring import Rules, appraise
        from .planted import county_year
        appraisal = appraise(county_year(args.simulate)[0], Rules(), seed=args.simulate)
    else:
        from kit.storage import open_database

        from . import handlers
        from .store import Repository
        appraisal = handlers.year_of_ratings(
            Repository(open_database("appraisal", None, args.data_dir)), args.year)
    for path in write(appraisal, args.year, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
