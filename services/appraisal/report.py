"""The appraisal report for a year: the two lists with their explanations, a funnel plot, a
caterpillar plot of scores with rank intervals, the distribution of scores, and the officers
with too little evidence to be ranked. HTML (a Jinja2 template) with PNG charts (matplotlib).

    python -m services.appraisal.report --out DIR [--simulate SEED | --data-dir DIR] [--year Y]

`render(appraisal, year)` gives the HTML with its charts inline (what the gateway serves);
`write(appraisal, year, out)` writes report.html and the PNGs beside it.
"""
import argparse
import base64
import io
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402
from jinja2 import Environment, FileSystemLoader, select_autoescape  # noqa: E402

from .scoring import Z95, Z998  # noqa: E402

_TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                         autoescape=select_autoescape(("html",)))
CHARTS = ("funnel", "caterpillar", "distribution")


def charts(appraisal):
    """{name: PNG bytes} of the report's charts."""
    pngs = {}
    for name, draw in (("funnel", _funnel), ("caterpillar", _caterpillar),
                       ("distribution", _distribution)):
        figure = draw(appraisal)
        if figure is not None:
            pngs[name] = _png(figure)
    return pngs


def render(appraisal, year, images=None):
    """The report as one HTML document; `images` maps a chart to its src (inline data URIs
    when not given)."""
    if images is None:
        images = {name: "data:image/png;base64," + base64.b64encode(png).decode()
                  for name, png in charts(appraisal).items()}
    by_id = appraisal.by_id()
    ranked = [o for o in appraisal.officers if o.status == "ranked"]
    return _TEMPLATES.get_template("appraisal_report.html").render(
        year=year, appraisal=appraisal, rules=appraisal.rules.describe(), images=images,
        model=[by_id[i] for i in appraisal.model],
        lagging=[by_id[i] for i in appraisal.lagging], ranked=len(ranked),
        insufficient=[o for o in appraisal.officers if o.status == "insufficient_data"])


def write(appraisal, year, out):
    """report.html and its PNGs in the folder `out`; the HTML's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images = {}
    for name, png in charts(appraisal).items():
        (out / f"{name}.png").write_bytes(png)
        images[name] = f"{name}.png"
    path = out / "report.html"
    path.write_text(render(appraisal, year, images), encoding="utf-8")
    return path


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _funnel(appraisal):
    rated = [o for o in appraisal.officers if o.adjusted_mean is not None]
    if not rated:
        return None
    figure, axes = plt.subplots(figsize=(8, 5))
    mean, sd = appraisal.county_mean, appraisal.noise_sd
    top = max(o.ratings for o in rated)
    counts = [n / 4 for n in range(4, 4 * top + 1)]
    for z, style, label in ((Z95, "--", "95%"), (Z998, "-", "99.8%")):
        for sign in (1, -1):
            axes.plot(counts, [mean + sign * z * sd / math.sqrt(n) for n in counts], style,
                      color="grey", linewidth=1, label=label if sign > 0 else None)
            tau = appraisal.overdispersion_tau
            axes.plot(counts, [mean + sign * z * math.sqrt(sd * sd / n + tau * tau)
                               for n in counts], style, color="tab:orange", linewidth=1,
                      label=f"{label}, overdispersed" if sign > 0 else None)
    named = set(appraisal.model) | set(appraisal.lagging)
    axes.scatter([o.ratings for o in rated], [o.adjusted_mean for o in rated], s=12,
                 c=["tab:red" if o.officer_id in appraisal.lagging else "tab:green"
                    if o.officer_id in appraisal.model else "tab:blue" for o in rated],
                 alpha=[1.0 if o.officer_id in named else 0.5 for o in rated])
    axes.axhline(mean, color="black", linewidth=0.8)
    axes.set_xlabel("ratings (evidence)")
    axes.set_ylabel("mean rating, leniency taken out")
    axes.set_title("Funnel plot: adjusted means against their evidence")
    axes.legend(fontsize=8, loc="lower right")
    return figure


def _caterpillar(appraisal):
    ranked = sorted((o for o in appraisal.officers if o.status == "ranked"),
                    key=lambda o: o.rank)
    if not ranked:
        return None
    figure, (scores, ranks) = plt.subplots(1, 2, figsize=(11, 5))
    xs = range(1, len(ranked) + 1)
    colours = ["tab:red" if o.officer_id in appraisal.lagging else "tab:green"
               if o.officer_id in appraisal.model else "tab:blue" for o in ranked]
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
    ranked = [o for o in appraisal.officers if o.status == "ranked"]
    if not ranked:
        return None
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    axes[0].hist([float(o.score) for o in ranked], bins=30, color="tab:blue")
    axes[0].set_title("Ratings component: shrunk scores")
    axes[0].set_xlabel("score")
    axes[1].hist([o.leniency_adjustment for o in ranked], bins=30, color="tab:purple")
    axes[1].set_title("Leniency taken out per officer")
    axes[1].set_xlabel("adjusted - raw mean")
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
        from .simulate import county_year
        appraisal = appraise(county_year(args.simulate)[0], Rules(), seed=args.simulate)
    else:
        from kit.storage import open_database

        from . import handlers
        from .store import Repository
        appraisal = handlers.year_of_ratings(
            Repository(open_database("appraisal", None, args.data_dir)), args.year)
    print(write(appraisal, args.year, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
