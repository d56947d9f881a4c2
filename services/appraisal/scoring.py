"""Scoring liaison officers from their ratings, fairly enough to name someone lagging.

Pure computation (numpy): ratings in, scores, intervals and the two lists out. The method,
after Goldstein & Spiegelhalter (1996) and Spiegelhalter (2005):

1. **Leniency.** A rating is `county mean + officer effect + rater offset + noise`. Officer
   effects and rater offsets are estimated together (alternating least squares); a rater's
   offset is pulled toward 0 by `rater_prior` pseudo-ratings, so a rater with few ratings is
   assumed average. An officer's adjusted mean is its ratings with each rater's offset taken
   out.
2. **Shrinkage.** The noise variance (sigma^2) comes from the residuals, the spread of true
   officer effects (tau^2) by the method of moments; an officer's estimate is its adjusted
   deviation times `w = n / (n + sigma^2 / tau^2)`: the less evidence, the closer to the
   county mean. Its posterior is normal with variance `w * sigma^2 / n`.
3. **The lists.** An officer with fewer than `min_evidence` ratings is insufficient data:
   never ranked, never named. Otherwise it is named lagging when the posterior probability
   that its true effect lies more than `gap` below the county mean is at least `level`, and
   a model chief when the same holds above (at most `model_max`, by probability, then score,
   then id). A flag starts a review; it is not a verdict.
4. **What a report shows beside the lists.** A 95% interval for each score; funnel limits
   (95% and 99.8%) for each adjusted mean against its evidence, with and without the
   overdispersion adjustment (z-scores winsorised at 10% in each tail); and a rank interval
   from draws of the posteriors (seeded).

The same ratings, rules and seed give the same result, to the byte.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import numpy as np

Z95, Z998 = 1.959964, 3.090232
PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Rules:
    """One version of the appraisal rules (configuration; every result records its
    version)."""

    version: int = 1
    min_evidence: int = 5      # ratings below which an officer is insufficient data
    gap: float = 0.3           # on the 1-5 scale: how far from the county mean counts
    level: float = 0.85        # posterior probability needed to name
    model_max: int = 10
    rater_prior: float = 5.0   # pseudo-ratings pulling a rater's offset toward 0
    iterations: int = 25
    rank_draws: int = 200

    def describe(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Ratings:
    """Ratings as parallel arrays: who was rated (an index into `names`), by whom (an index
    of a rater, 0 to `raters` - 1), the score (1-5)."""

    officer: np.ndarray
    rater: np.ndarray
    score: np.ndarray
    names: tuple
    raters: int

    @classmethod
    def of(cls, officers, raters, scores, everyone=()):
        """From parallel sequences of officer ids, rater ids and scores (and officers not
        rated, in `everyone`)."""
        names = tuple(sorted(set(officers) | set(everyone)))
        index = {name: i for i, name in enumerate(names)}
        rater_index = {}
        return cls(np.fromiter((index[x] for x in officers), dtype=np.int64,
                               count=len(officers)),
                   np.fromiter((rater_index.setdefault(x, len(rater_index)) for x in raters),
                               dtype=np.int64, count=len(raters)),
                   np.asarray(scores, dtype=float), names, len(rater_index))


@dataclass
class OfficerScore:
    officer_id: str
    ratings: int
    raw_mean: float | None
    adjusted_mean: float | None
    leniency_adjustment: float          # adjusted - raw: the raters' offsets taken out
    weight: float                       # how far the evidence moves it from the county mean
    score: Decimal                      # county mean + the shrunk effect
    breakdown: dict                     # parts that sum exactly to the score
    interval: tuple                     # 95%
    p_below: float                      # P(true effect < -gap)
    p_above: float                      # P(true effect > +gap)
    funnel: dict                        # outside which limits its adjusted mean falls
    rank: int | None = None
    rank_interval: tuple | None = None
    status: str = "ranked"              # ranked or insufficient_data


@dataclass
class Appraisal:
    rules: Rules
    seed: int
    county_mean: float
    noise_sd: float
    spread_sd: float
    overdispersion_tau: float
    officers: list[OfficerScore]
    lagging: list[str] = field(default_factory=list)
    model: list[str] = field(default_factory=list)
    model_note: str = ""

    def by_id(self) -> dict:
        return {o.officer_id: o for o in self.officers}

    def listing(self) -> str:
        """The two lists as text: the same evidence, rules and seed give the same bytes."""
        rows = [f"rules v{self.rules.version} seed {self.seed} county mean "
                f"{self.county_mean:.4f}"]
        by_id = self.by_id()
        for name, ids in (("model", self.model), ("lagging", self.lagging)):
            for officer_id in ids:
                o = by_id[officer_id]
                rows.append(f"{name}\t{officer_id}\t{o.score}\t{o.ratings}\t"
                            f"{o.p_above if name == 'model' else o.p_below:.4f}\t"
                            f"{o.rank_interval}")
        return "\n".join(rows) + "\n"


def appraise(ratings: Ratings, rules: Rules = Rules(), seed: int = 0) -> Appraisal:
    """Score every officer of `ratings.names` (those without enough ratings: insufficient
    data)."""
    names, o, r, y = ratings.names, ratings.officer, ratings.rater, ratings.score
    rater_names = range(ratings.raters)
    count = len(names)
    n = np.bincount(o, minlength=count).astype(float)
    rated = n > 0
    mu = float(y.mean()) if len(y) else 0.0

    # 1. officer effects and rater offsets together
    rater_n = np.bincount(r, minlength=len(rater_names)).astype(float)
    theta, offset = np.zeros(count), np.zeros(len(rater_names))
    safe_n = np.where(rated, n, 1.0)
    for _ in range(rules.iterations):
        theta = np.bincount(o, y - mu - offset[r], minlength=count) / safe_n
        offset = np.bincount(r, y - mu - theta[o], minlength=len(rater_names)) / (
            rater_n + rules.rater_prior)
        if rater_n.sum():
            offset -= np.average(offset, weights=rater_n)
    raw = np.bincount(o, y, minlength=count) / safe_n
    adjusted = np.bincount(o, y - offset[r], minlength=count) / safe_n

    # 2. noise, spread, shrinkage
    residual = y - mu - theta[o] - offset[r]
    dof = max(1.0, len(y) - rated.sum() - len(rater_names))
    sigma2 = max(1e-6, float((residual ** 2).sum() / dof))
    deviation = np.where(rated, adjusted - mu, 0.0)
    tau2 = max(1e-6, float((deviation[rated] ** 2).mean() - (sigma2 / n[rated]).mean())
               if rated.any() else 1e-6)
    weight = np.where(rated, n / (n + sigma2 / tau2), 0.0)
    effect = weight * deviation
    variance = np.where(rated, weight * sigma2 / safe_n, tau2)
    sd = np.sqrt(variance)
    p_below = _phi((-rules.gap - effect) / sd)
    p_above = _phi((effect - rules.gap) / sd)

    # 4. funnel limits, plain and adjusted for overdispersion
    se2 = sigma2 / safe_n
    tau2_funnel = _overdispersion(deviation[rated], se2[rated], n[rated] / sigma2)

    officers = []
    for i, name in enumerate(names):
        mean_part = Decimal(mu).quantize(PLACES)
        effect_part = Decimal(float(effect[i])).quantize(PLACES)
        score = mean_part + effect_part
        funnel = {}
        if rated[i]:
            for label, extra in (("plain", 0.0), ("overdispersed", tau2_funnel)):
                spread = math.sqrt(se2[i] + extra)
                z = abs(deviation[i]) / spread
                funnel[label] = "outside_99.8" if z > Z998 else \
                    "outside_95" if z > Z95 else "inside"
        officers.append(OfficerScore(
            name, int(n[i]), _round(raw[i]) if rated[i] else None,
            _round(adjusted[i]) if rated[i] else None,
            _round(adjusted[i] - raw[i]) if rated[i] else 0.0, _round(weight[i]), score,
            {"county_mean": mean_part, "ratings": effect_part},
            (_round(float(score) - Z95 * sd[i]), _round(float(score) + Z95 * sd[i])),
            round(float(p_below[i]), 6), round(float(p_above[i]), 6), funnel,
            status="ranked" if n[i] >= rules.min_evidence else "insufficient_data"))

    result = Appraisal(rules, seed, _round(mu), _round(math.sqrt(sigma2)),
                       _round(math.sqrt(tau2)), _round(math.sqrt(tau2_funnel)), officers)
    _rank(result, effect, sd, seed)
    _name(result)
    return result


def _rank(result, effect, sd, seed):
    """Rank the ranked officers by score (1 = best; ties by id) and give each a 95% rank
    interval from `rank_draws` draws of the posteriors."""
    ranked = [i for i, o in enumerate(result.officers) if o.status == "ranked"]
    if not ranked:
        return
    order = sorted(ranked, key=lambda i: (-result.officers[i].score,
                                          result.officers[i].officer_id))
    for place, i in enumerate(order, start=1):
        result.officers[i].rank = place
    rng = np.random.default_rng(seed)
    draws = effect[ranked] + sd[ranked] * rng.standard_normal(
        (result.rules.rank_draws, len(ranked)))
    order = (-draws).argsort(axis=1)
    places = np.empty_like(order)
    np.put_along_axis(places, order, np.arange(1, len(ranked) + 1), axis=1)
    low = np.percentile(places, 2.5, axis=0, method="lower")
    high = np.percentile(places, 97.5, axis=0, method="higher")
    for k, i in enumerate(ranked):
        result.officers[i].rank_interval = (int(low[k]), int(high[k]))


def _name(result):
    rules = result.rules
    ranked = [o for o in result.officers if o.status == "ranked"]
    lagging = [o for o in ranked if o.p_below >= rules.level]
    lagging.sort(key=lambda o: (-o.p_below, o.score, o.officer_id))
    model = [o for o in ranked if o.p_above >= rules.level]
    model.sort(key=lambda o: (-o.p_above, -o.score, o.officer_id))
    result.lagging = [o.officer_id for o in lagging]
    result.model = [o.officer_id for o in model[:rules.model_max]]
    if len(model) < rules.model_max:
        result.model_note = (f"only {len(model)} officer(s) are above the county mean by "
                             f"more than {rules.gap} with probability {rules.level} or more")


def _overdispersion(deviation, se2, weights):
    """tau^2 for funnel limits adjusted for overdispersion (Spiegelhalter 2005): z-scores
    winsorised at 10% in each tail; 0 when the units are not more spread than chance."""
    units = len(deviation)
    if units < 3:
        return 0.0
    z = deviation / np.sqrt(se2)
    low, high = np.quantile(z, [0.1, 0.9])
    phi = float((np.clip(z, low, high) ** 2).mean())
    if units * phi <= units - 1:
        return 0.0
    return float((units * phi - (units - 1)) /
                 (weights.sum() - (weights ** 2).sum() / weights.sum()))


_erf = np.vectorize(math.erf, otypes=[float])


def _phi(x):
    return 0.5 * (1.0 + _erf(np.asarray(x) / math.sqrt(2.0)))


def _round(value):
    return round(float(value), 4)
