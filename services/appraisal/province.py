"""A province's year of ratings in appraisal's own store, and the year's ranking timed as
the service does it, storage read included (`python -m services.appraisal.simulate --scale
province`).

The year is drawn with the simulator's planted shares (services.appraisal.simulate.plant);
each rating is a closed case's invitation with its one rating, stored as the handlers store
it: a first part through `handlers.invite` and `handlers.rate` one by one, the rest as the
same documents in bulk (`insert_all`). The ranking is timed in its two parts: reading the year's evidence from the store
(`handlers.evidence_of`) and scoring it (`scoring.appraise`), which together are
`handlers.year_of_ratings`.
"""
import cProfile
import io
import pstats
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

# eventlet announces its maintenance mode when the storage kit imports it; not news here.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from kit.storage import open_database  # noqa: E402

from . import handlers  # noqa: E402
from .domain import Invitation  # noqa: E402
from .scoring import Rules, appraise  # noqa: E402
from .planted import POOL, SCENARIO, against_truth, plant, rating_of, table  # noqa: E402
from .store import Repository  # noqa: E402


@dataclass(frozen=True)
class ProvinceYear:
    """One rating per closed case: `officer[k]` was rated `score[k]` by enterprise
    `rater[k]` on a case closed at `closed[k]` and rated at `rated[k]`."""

    year: int
    officers: tuple
    officer: np.ndarray
    rater: np.ndarray
    score: np.ndarray
    closed: list
    rated: list
    truth: dict


def province_year(officers, ratings, seed, year, scenario=SCENARIO):
    """A province's year: `officers` with planted shares (simulate.Planted), 4 enterprises per
    officer each with its leniency, each officer serving a pool of 12; exactly `ratings`
    ratings, the thin-evidence officers having 0-4 each. Every case closes and is rated
    within the year (rated within the 14 days its invitation lasts)."""
    rng = np.random.default_rng(seed)
    planted = plant(officers, rng, scenario)
    enterprises = 4 * officers
    leniency = rng.normal(0.0, scenario["leniency_sd"], enterprises)
    pools = rng.integers(0, enterprises, (officers, POOL))
    thin = np.flatnonzero(planted.thin)
    few = rng.integers(0, 5, len(thin))
    many = np.flatnonzero(~planted.thin)
    who = np.concatenate([np.repeat(thin, few),
                          rng.choice(many, max(0, ratings - int(few.sum())))])[:ratings]
    rng.shuffle(who)
    rater = pools[who, rng.integers(0, POOL, len(who))]
    score = rating_of(planted.quality[who], leniency[rater], rng, scenario)
    start = datetime(year, 1, 1)
    span = (datetime(year + 1, 1, 1) - start - timedelta(days=15)).total_seconds()
    closed_at = rng.uniform(0, span, len(who))
    rated_after = rng.uniform(60, 13 * 86400, len(who))
    closed = [start + timedelta(seconds=float(s)) for s in closed_at]
    rated = [c + timedelta(seconds=float(s)) for c, s in zip(closed, rated_after)]
    names = tuple(f"officer-{i:05d}" for i in range(officers))
    return ProvinceYear(year, names, who, rater, score, closed, rated, planted.truth(names))


def _case(year_data, k):
    """(case id, enterprise id, officer id, rating input) of rating `k`."""
    return (f"p{k:07d}", f"enterprise-{int(year_data.rater[k]):05d}",
            year_data.officers[int(year_data.officer[k])],
            {"score": int(year_data.score[k]), "satisfied": bool(year_data.score[k] >= 4),
             "comment": ""})


def feed(repo, year_data, through_handlers=2000, chunk=20_000):
    """Store every rating of `year_data` as an invitation with its rating: the first
    `through_handlers` through `handlers.invite` and `handlers.rate` (as the service takes
    them), the rest as the same documents, `chunk` to a transaction (`insert_all`).
    Returns {"handlers": (count, seconds), "bulk": (count, seconds)}."""
    total = len(year_data.officer)
    first = min(through_handlers, total)
    began = time.perf_counter()
    for k in range(first):
        case_id, enterprise_id, officer_id, rating = _case(year_data, k)
        invitation = handlers.invite(repo, "incident", case_id, enterprise_id, [officer_id],
                                     year_data.closed[k])
        handlers.rate(repo, invitation.id, dict(rating, officer_id=officer_id),
                      {"id": enterprise_id}, year_data.rated[k])
    by_handlers = time.perf_counter() - began
    began = time.perf_counter()
    for start in range(first, total, chunk):
        rows = []
        for k in range(start, min(start + chunk, total)):
            case_id, enterprise_id, officer_id, rating = _case(year_data, k)
            invitation = Invitation.issue("incident", case_id, enterprise_id, [officer_id],
                                          year_data.closed[k], handlers.VALID_FOR)
            invitation.rate(officer_id, rating["score"], rating["satisfied"], "",
                            enterprise_id, year_data.rated[k])
            rows.append(repo.invitations.row_of(invitation))
        repo.invitations.table.insert_all(rows)
    return {"handlers": (first, by_handlers), "bulk": (total - first, time.perf_counter() - began)}


def province(officers, ratings, seed, year, through_handlers=2000, data_dir=None, out=print,
             profile=False):
    """Draw a province's year, feed it to appraisal's store in `data_dir` (a temporary folder
    when None), rank it with `handlers.year_of_ratings`, and report the figures through
    `out`; with `profile`, rank it once more under cProfile and report where that time went.
    Returns the figures as a dict."""
    began = time.perf_counter()
    year_data = province_year(officers, ratings, seed, year)
    out(f"province: {officers} officers, {len(year_data.officer)} ratings of the year {year} "
        f"drawn in {time.perf_counter() - began:.1f} s")
    with tempfile.TemporaryDirectory(prefix="province-") as scratch:
        database = open_database("appraisal", None, data_dir or scratch)
        try:
            repo = Repository(database)
            repo.ensure_indexes()
            fed = feed(repo, year_data, through_handlers)
            for how, (count, seconds) in fed.items():
                if count:
                    out(f"fed {count} through {FED_BY[how]} in {seconds:.1f} s "
                        f"({count / max(seconds, 1e-9):,.0f} ratings/s)")
            began = time.perf_counter()
            evidence = handlers.evidence_of(repo, year)
            reading = time.perf_counter() - began
            began = time.perf_counter()
            appraisal = appraise(evidence, Rules(), seed=year)
            scoring = time.perf_counter() - began
            ranking = reading + scoring
            if profile:
                _profiled(lambda: handlers.year_of_ratings(repo, year), out)
        finally:
            database.close()
    seen = sum(o.ratings for o in appraisal.officers)
    ranked = sum(o.status == "ranked" for o in appraisal.officers)
    out(f"ranking: {ranking:.1f} s = reading the year's evidence from the store "
        f"({reading:.1f} s) + scoring it ({scoring:.2f} s); "
        f"{seen} ratings of {len(appraisal.officers)} officers seen; {ranked} ranked, "
        f"{len(appraisal.model)} model, {len(appraisal.lagging)} lagging")
    for line in table([("province", against_truth(appraisal, year_data.truth))], "scale"):
        out(line)
    return {"fed": sum(count for count, _ in fed.values()), "seen": seen, "ranked": ranked,
            "ranking_seconds": ranking, "reading_seconds": reading,
            "scoring_seconds": scoring, "model": len(appraisal.model),
            "lagging": len(appraisal.lagging), "fed_by": fed}


def _profiled(work, out, top=15):
    profiler = cProfile.Profile()
    profiler.runcall(work)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    out("where the ranking's time goes (cProfile, by own time):")
    for line in text.getvalue().splitlines():
        if line.strip() and not line.startswith(("   Ordered", "   List reduced")):
            out(line)


FED_BY = {"handlers": "handlers.invite and handlers.rate", "bulk": "insert_all (bulk)"}
