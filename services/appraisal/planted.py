"""The default scenario's planted truth: a county-year of ratings whose every chief's true
quality is known (see services.appraisal.simulate for the scenario), planted shares at any
size, and how a list fares against the truth."""
from dataclasses import dataclass

import numpy as np

from .scoring import Ratings

CHIEFS, EXCELLENT, POOR = 200, 10, 10
RATERS, POOL = 400, 12
SCENARIO = {"quality_sd": 0.3, "planted": 0.9, "noise_sd": 0.8, "leniency_sd": 0.3,
            "ratings_mean": 25, "sparse": 30, "sparse_poor": 3, "base": 3.5}
COLUMNS = ("named_without_evidence", "lagging_at_or_above_mean", "model_at_or_below_mean",
           "planted_poor_named", "planted_poor_with_evidence", "lagging_named",
           "model_planted_excellent", "model_named")


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
    return judged({o.officer_id: o.status for o in appraisal.officers}, appraisal.model,
                  appraisal.lagging, truth)


def judged(statuses, model, lagging, truth):
    """`against_truth` from plain data: officer id -> status ("ranked" or not), the two
    lists, the truth. Officers named but not in `truth` (none planted for them) count in
    the lists' lengths only."""
    mean = float(np.mean([q for q, _ in truth.values()]))
    enough = {i for i, status in statuses.items() if status == "ranked"}
    poor = {i for i, (_, label) in truth.items() if label == "poor"}
    excellent = {i for i, (_, label) in truth.items() if label == "excellent"}
    named = set(lagging) | set(model)
    return {
        "named_without_evidence": len(named - enough),
        "lagging_at_or_above_mean": sum(truth[i][0] >= mean for i in lagging if i in truth),
        "model_at_or_below_mean": sum(truth[i][0] <= mean for i in model if i in truth),
        "planted_poor_with_evidence": len(poor & enough),
        "planted_poor_named": len(poor & enough & set(lagging)),
        "model_named": len(model),
        "model_planted_excellent": len(excellent & set(model)),
        "lagging_named": len(lagging),
    }


def table(rows, first="seed"):
    """The truth table's lines: a header and one tab-separated line per (key, row)."""
    return [f"{first}\t" + "\t".join(COLUMNS)] + [
        f"{key}\t" + "\t".join(str(row[c]) for c in COLUMNS) for key, row in rows]


# --- planted shares at any size --------------------------------------------------------------


@dataclass(frozen=True)
class Planted:
    """True qualities of `count` officers with the default scenario's shares: 5% planted
    excellent, 5% planted poor (at least one of each), 15% with thin evidence (fewer than 5
    cases or ratings), three in ten of the planted poor among those."""

    quality: np.ndarray
    labels: tuple
    thin: np.ndarray  # True: fewer than 5 pieces of evidence this year

    def truth(self, ids):
        """officer id -> (true quality, planted label or "")."""
        return {i: (float(q), label) for i, q, label in zip(ids, self.quality, self.labels)}


def plant(count, rng, scenario=SCENARIO):
    """The planted truth of `count` officers (see Planted), drawn from `rng`."""
    s = scenario
    excellent = poor = max(1, round(count * EXCELLENT / CHIEFS))
    quality = rng.normal(0.0, s["quality_sd"], count)
    quality[:excellent] = s["planted"]
    quality[excellent:excellent + poor] = -s["planted"]
    labels = ("excellent",) * excellent + ("poor",) * poor + ("",) * (count - excellent - poor)
    sparse_poor = min(poor, round(poor * s["sparse_poor"] / POOR))
    sparse = round(count * s["sparse"] / CHIEFS)
    ordinary = np.arange(excellent + poor, count)
    thin = np.zeros(count, dtype=bool)
    thin[excellent:excellent + sparse_poor] = True
    thin[rng.choice(ordinary, min(len(ordinary), max(0, sparse - sparse_poor)),
                    replace=False)] = True
    return Planted(quality, labels, thin)


def rating_of(quality, leniency, rng, scenario=SCENARIO):
    """A whole 1-5 rating: base + quality + leniency + N(0, noise), rounded and clipped."""
    value = scenario["base"] + quality + leniency + rng.normal(0.0, scenario["noise_sd"],
                                                               np.shape(quality))
    return np.clip(np.rint(value), 1, 5)
