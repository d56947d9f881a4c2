"""A county-year of ratings with planted truth, and the lists scored against it.

    python -m services.appraisal.simulate [--seeds 1 2 3 4 5] [--level 0.85] [--gap 0.3]

The default scenario: 200 chiefs whose true quality is N(0, 0.3) on the rating scale, the
first 10 planted excellent (+0.9) and the next 10 planted poor (-0.9); 400 enterprises rate
them, each with its own leniency N(0, 0.3), each chief rated by the enterprises it serves
(a pool of 12); ratings per chief ~ Poisson(25), except 30 chiefs (15%, three of the planted
poor among them) with fewer than 5; a rating is 3.5 + quality + leniency + N(0, 0.8),
rounded to a whole 1-5.

This drives the scoring directly (services.appraisal.scoring), not yet the platform's
intake: it checks the method against the truth it planted.
"""
import argparse
import sys

import numpy as np

from .scoring import Ratings, Rules, appraise

CHIEFS, EXCELLENT, POOR = 200, 10, 10
RATERS, POOL = 400, 12
SCENARIO = {"quality_sd": 0.3, "planted": 0.9, "noise_sd": 0.8, "leniency_sd": 0.3,
            "ratings_mean": 25, "sparse": 30, "sparse_poor": 3, "base": 3.5}


def county_year(seed, scenario=SCENARIO):
    """(Ratings, truth): truth maps chief id -> (true quality, planted label or "")."""
    rng = np.random.default_rng(seed)
    s = scenario
    quality = rng.normal(0.0, s["quality_sd"], CHIEFS)
    quality[:EXCELLENT] = s["planted"]
    quality[EXCELLENT:EXCELLENT + POOR] = -s["planted"]
    labels = ["excellent"] * EXCELLENT + ["poor"] * POOR + [""] * (CHIEFS - EXCELLENT - POOR)
    counts = rng.poisson(s["ratings_mean"], CHIEFS)
    ordinary = np.arange(EXCELLENT + POOR, CHIEFS)
    sparse = list(range(EXCELLENT, EXCELLENT + s["sparse_poor"])) + list(
        rng.choice(ordinary, s["sparse"] - s["sparse_poor"], replace=False))
    counts[sparse] = rng.integers(0, 5, len(sparse))
    leniency = rng.normal(0.0, s["leniency_sd"], RATERS)
    officers, raters, scores = [], [], []
    for chief in range(CHIEFS):
        pool = rng.choice(RATERS, POOL, replace=False)
        for _ in range(int(counts[chief])):
            rater = int(rng.choice(pool))
            value = s["base"] + quality[chief] + leniency[rater] + rng.normal(0.0,
                                                                              s["noise_sd"])
            officers.append(f"chief-{chief:03d}")
            raters.append(f"enterprise-{rater:03d}")
            scores.append(float(min(5, max(1, round(value)))))
    truth = {f"chief-{c:03d}": (float(quality[c]), labels[c]) for c in range(CHIEFS)}
    return Ratings.of(officers, raters, scores, everyone=tuple(truth)), truth


def against_truth(appraisal, truth):
    """How the lists fare against the planted truth."""
    scores = appraisal.by_id()
    mean = float(np.mean([q for q, _ in truth.values()]))
    enough = {i for i, o in scores.items() if o.status == "ranked"}
    poor = {i for i, (_, label) in truth.items() if label == "poor"}
    excellent = {i for i, (_, label) in truth.items() if label == "excellent"}
    named = set(appraisal.lagging) | set(appraisal.model)
    return {
        "named_without_evidence": len(named - enough),
        "lagging_at_or_above_mean": sum(truth[i][0] >= mean for i in appraisal.lagging),
        "model_at_or_below_mean": sum(truth[i][0] <= mean for i in appraisal.model),
        "planted_poor_with_evidence": len(poor & enough),
        "planted_poor_named": len(poor & enough & set(appraisal.lagging)),
        "model_named": len(appraisal.model),
        "model_planted_excellent": len(excellent & set(appraisal.model)),
        "lagging_named": len(appraisal.lagging),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--level", type=float, default=Rules.level)
    parser.add_argument("--gap", type=float, default=Rules.gap)
    args = parser.parse_args(argv)
    rules = Rules(level=args.level, gap=args.gap)
    columns = ("named_without_evidence", "lagging_at_or_above_mean", "model_at_or_below_mean",
               "planted_poor_named", "planted_poor_with_evidence", "lagging_named",
               "model_planted_excellent", "model_named")
    print("seed\t" + "\t".join(columns))
    for seed in args.seeds:
        ratings, truth = county_year(seed)
        row = against_truth(appraise(ratings, rules, seed), truth)
        print(f"{seed}\t" + "\t".join(str(row[c]) for c in columns))
    return 0


if __name__ == "__main__":
    sys.exit(main())
