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
3. **The other components.** The three chiefs' quarterly ratings are scored like the
   enterprises' (their own leniency out, shrunk to their own county mean). Rates (spot checks
   satisfied, pages acknowledged, requests closed on time, weeks of visit cadence kept,
   disputes settled at the lowest tier) are shrunk with a beta-binomial prior fitted by the
   method of moments: `(x + M p0) / (n + M)`. A rate counts `rate_scale` points of the 1-5
   scale per unit. The score is the county mean plus each component's shrunk effect times its
   weight; a component with no evidence anywhere in the county is absent, and its weight is
   spread over the others in proportion (the result names it). The posterior of the score is
   normal with the weighted sum of the components' variances.
4. **The lists.** An officer with fewer than `min_evidence` enterprise ratings is insufficient data:
   never ranked, never named. Otherwise it is named lagging when the posterior probability
   that its true effect lies more than `gap` below the county mean is at least `level`, and
   a model chief when the same holds above (at most `model_max`, by probability, then score,
   then id). A flag starts a review; it is not a verdict.
5. **What a report shows beside the lists.** A 95% interval for each score; funnel limits
   (95% and 99.8%) for each adjusted mean against its evidence, with and without the
   overdispersion adjustment (z-scores winsorised at 10% in each tail); and a rank interval
   from draws of the posteriors (seeded).

The same ratings, rules and seed give the same result, to the byte.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from decimal import Decimal

import numpy as np

Z95, Z998 = 1.959964, 3.090232
PLACES = Decimal("0.0001")

RATED = ("ratings", "chiefs")   # 1-5 ratings: leniency out, then shrunk
RATES = ("spot_checks", "acknowledgement", "requests", "visits", "mediation")
COMPONENTS = RATED + RATES
WEIGHTS = (("ratings", 0.40), ("chiefs", 0.15), ("spot_checks", 0.10),
           ("acknowledgement", 0.10), ("requests", 0.10), ("visits", 0.10), ("mediation", 0.05))


@dataclass(frozen=True)
class Rules:
    """One version of the appraisal rules (configuration; every result records its
    version)."""

    version: int = 2
    min_evidence: int = 5      # enterprise ratings below which an officer is insufficient data
    gap: float = 0.3           # on the 1-5 scale: how far from the county mean counts
    level: float = 0.85        # posterior probability needed to name
    model_max: int = 10
    rater_prior: float = 5.0   # pseudo-ratings pulling a rater's offset toward 0
    iterations: int = 25       # at most, of the leniency estimate; fewer once it settles
    tolerance: float = 1e-6    # settled: no rater's offset moved more than this
    rank_draws: int = 200
    weights: tuple = WEIGHTS   # (component, weight) before absent components are spread out
    rate_scale: float = 4.0    # points of the 1-5 scale a rate's whole 0-1 range is worth

    def describe(self) -> dict:
        described = asdict(self)
        described["weights"] = dict(self.weights)
        return described


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


@dataclass(frozen=True)
class Evidence:
    """Everything a year says of the officers: the enterprises' ratings, the three chiefs'
    ratings (rater = the leader who rated) and, per rate component, {officer: (successes,
    trials)}."""

    ratings: Ratings
    chiefs: Ratings | None = None
    rates: Mapping = field(default_factory=dict)


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
    components: dict = field(default_factory=dict)  # component -> its evidence and estimate


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
    weights: dict = field(default_factory=dict)     # the weights used, absent ones spread out
    absent: list[str] = field(default_factory=list)  # components without evidence this year
    county: dict = field(default_factory=dict)      # component -> its county-level figures

    def by_id(self) -> dict:
        return {o.officer_id: o for o in self.officers}

    def listing(self) -> str:
        """The two lists as text: the same evidence, rules and seed give the same bytes."""
        rows = [f"rules v{self.rules.version} seed {self.seed} county mean "
                f"{self.county_mean:.4f} weights "
                + " ".join(f"{k}={w:.4f}" for k, w in self.weights.items())]
        by_id = self.by_id()
        for name, ids in (("model", self.model), ("lagging", self.lagging)):
            for officer_id in ids:
                o = by_id[officer_id]
                rows.append(f"{name}\t{officer_id}\t{o.score}\t{o.ratings}\t"
                            f"{o.p_above if name == 'model' else o.p_below:.4f}\t"
                            f"{o.rank_interval}")
        return "\n".join(rows) + "\n"


def appraise(evidence, rules: Rules = Rules(), seed: int = 0) -> Appraisal:
    """Score every officer the evidence names (`Evidence`, or only enterprise `Ratings`);
    those with fewer than `min_evidence` enterprise ratings are insufficient data."""
    if isinstance(evidence, Ratings):
        evidence = Evidence(evidence)
    names = _everyone(evidence)
    ratings = _Rated(evidence.ratings, names, rules)
    parts = {"ratings": ratings}
    if evidence.chiefs is not None:
        parts["chiefs"] = _Rated(evidence.chiefs, names, rules)
    for component in RATES:
        if evidence.rates.get(component):
            parts[component] = _Rate(evidence.rates[component], names)
    weights, absent = _weights(rules, parts)
    scale = {k: (1.0 if k in RATED else rules.rate_scale) for k in weights}
    contribution = {k: weights[k] * scale[k] * parts[k].effect for k in weights}
    variance = sum((weights[k] * scale[k]) ** 2 * parts[k].variance for k in weights) \
        if weights else np.full(len(names), 1e-6)
    effect = sum(contribution.values()) if weights else np.zeros(len(names))
    sd = np.sqrt(np.maximum(variance, 1e-12))
    p_below = _phi((-rules.gap - effect) / sd)
    p_above = _phi((effect - rules.gap) / sd)

    mu, n = ratings.mean, ratings.n
    mean_part = Decimal(mu).quantize(PLACES)
    counts, rated = n.astype(int).tolist(), (n > 0).tolist()
    raw, adjusted = _rounded(ratings.raw), _rounded(ratings.adjusted)
    leniency, shrink = _rounded(ratings.adjusted - ratings.raw), _rounded(ratings.weight)
    parts_of = {k: _rounded(contribution[k], None) for k in weights}
    below, above = _rounded(p_below, 6), _rounded(p_above, 6)
    spread, funnels = (Z95 * sd).tolist(), ratings.funnels()
    explained = {k: parts[k].explain(weights.get(k, 0.0)) for k in parts}
    officers = []
    for i, name in enumerate(names):
        breakdown = {"county_mean": mean_part}
        breakdown.update((k, Decimal(parts_of[k][i]).quantize(PLACES)) for k in weights)
        score = sum(breakdown.values())
        officers.append(OfficerScore(
            name, counts[i], raw[i] if rated[i] else None,
            adjusted[i] if rated[i] else None, leniency[i] if rated[i] else 0.0, shrink[i],
            score, breakdown,
            (round(float(score) - spread[i], 4), round(float(score) + spread[i], 4)),
            below[i], above[i], funnels[i],
            status="ranked" if counts[i] >= rules.min_evidence else "insufficient_data",
            components={k: explained[k][i] for k in parts}))

    result = Appraisal(rules, seed, _round(mu), _round(math.sqrt(ratings.sigma2)),
                       _round(math.sqrt(ratings.tau2)), _round(math.sqrt(ratings.tau2_funnel)),
                       officers, weights={k: _round(w) for k, w in weights.items()},
                       absent=absent, county={k: p.county() for k, p in parts.items()})
    _rank(result, effect, sd, seed)
    _name(result)
    return result


def _everyone(evidence):
    names = set(evidence.ratings.names)
    if evidence.chiefs is not None:
        names |= set(evidence.chiefs.names)
    for counts in evidence.rates.values():
        names |= set(counts)
    return tuple(sorted(names))


def _weights(rules, parts):
    """The configured weights of the components with evidence, scaled to sum to 1; and the
    components left out for want of any."""
    present = {k: w for k, w in rules.weights if w > 0 and k in parts and parts[k].present}
    total = sum(present.values())
    absent = [k for k, w in rules.weights if w > 0 and k not in present]
    return ({k: w / total for k, w in present.items()} if total else {}), absent


class _Rated:
    """A 1-5 rating component: each rater's offset out (alternating least squares), the
    officer's deviation from the county mean shrunk by `n / (n + sigma^2 / tau^2)`."""

    def __init__(self, ratings, names, rules):
        position = {name: i for i, name in enumerate(names)}
        o = np.asarray([position[x] for x in ratings.names], dtype=np.int64)[ratings.officer] \
            if len(ratings.officer) else np.zeros(0, dtype=np.int64)
        r, y = ratings.rater, ratings.score
        count, raters = len(names), ratings.raters
        n = np.bincount(o, minlength=count).astype(float)
        rated = n > 0
        self.present = bool(rated.any())
        mu = float(y.mean()) if len(y) else 0.0
        rater_n = np.bincount(r, minlength=raters).astype(float)
        theta, offset = np.zeros(count), np.zeros(raters)
        safe_n = np.where(rated, n, 1.0)
        centred, pull = y - mu, rater_n + rules.rater_prior
        # the same sums over each (officer, rater) pair's ratings: fewer pairs than ratings
        pairs, inverse = np.unique(o * max(raters, 1) + r, return_inverse=True)
        po, pr = pairs // max(raters, 1), pairs % max(raters, 1)
        pn, py = np.bincount(inverse).astype(float), np.bincount(inverse, centred)
        for _ in range(rules.iterations):  # until the offsets stop moving
            theta = np.bincount(po, py - pn * offset[pr], minlength=count) / safe_n
            moved = np.bincount(pr, py - pn * theta[po], minlength=raters) / pull
            if rater_n.sum():
                moved -= np.average(moved, weights=rater_n)
            settled = raters == 0 or np.abs(moved - offset).max() < rules.tolerance
            offset = moved
            if settled:
                theta = np.bincount(po, py - pn * offset[pr], minlength=count) / safe_n
                break
        self.raw = np.bincount(o, y, minlength=count) / safe_n
        self.adjusted = np.bincount(o, y - offset[r], minlength=count) / safe_n
        residual = y - mu - theta[o] - offset[r]
        dof = max(1.0, len(y) - rated.sum() - raters)
        self.sigma2 = max(1e-6, float((residual ** 2).sum() / dof))
        deviation = np.where(rated, self.adjusted - mu, 0.0)
        self.tau2 = max(1e-6, float((deviation[rated] ** 2).mean()
                                    - (self.sigma2 / n[rated]).mean())
                        if rated.any() else 1e-6)
        self.weight = np.where(rated, n / (n + self.sigma2 / self.tau2), 0.0)
        self.effect = self.weight * deviation
        self.variance = np.where(rated, self.weight * self.sigma2 / safe_n, self.tau2)
        self.se2 = self.sigma2 / safe_n
        self.tau2_funnel = _overdispersion(deviation[rated], self.se2[rated],
                                           n[rated] / self.sigma2)
        self.n, self.mean, self.rated, self.deviation = n, mu, rated, deviation

    def funnels(self):
        """For each officer: outside which limits (95%, 99.8%) its adjusted mean falls, plain
        and with the overdispersion adjustment ({} when not rated)."""
        found = [{} for _ in range(len(self.n))]
        for label, extra in (("plain", 0.0), ("overdispersed", self.tau2_funnel)):
            z = np.abs(self.deviation) / np.sqrt(self.se2 + extra)
            where = np.where(z > Z998, "outside_99.8", np.where(z > Z95, "outside_95", "inside"))
            for i in np.flatnonzero(self.rated).tolist():
                found[i][label] = str(where[i])
        return found

    def explain(self, weight):
        """For each officer: what this component rests on."""
        weight = round(weight, 4)
        return [{"evidence": n, "observed": raw if rated else None,
                 "adjusted": adjusted if rated else None, "estimate": estimate,
                 "shrink_weight": shrink, "weight": weight}
                for n, rated, raw, adjusted, estimate, shrink in zip(
                    self.n.astype(int).tolist(), self.rated.tolist(), _rounded(self.raw),
                    _rounded(self.adjusted), _rounded(self.mean + self.effect),
                    _rounded(self.weight))]

    def county(self):
        return {"mean": _round(self.mean), "noise_sd": _round(math.sqrt(self.sigma2)),
                "spread_sd": _round(math.sqrt(self.tau2)), "evidence": int(self.n.sum())}



class _Rate:
    """A rate component: successes x of n trials per officer, shrunk toward the county rate
    p0 with a beta prior of strength M (method of moments: the spread of the observed rates
    beyond what binomial noise explains): `(x + M p0) / (n + M)`, posterior variance
    `p (1 - p) / (n + M + 1)`. An officer without trials gets p0 and the prior's variance."""

    def __init__(self, counts, names):
        x = np.asarray([counts.get(name, (0, 0))[0] for name in names], dtype=float)
        n = np.asarray([counts.get(name, (0, 0))[1] for name in names], dtype=float)
        x = np.minimum(x, n)
        seen = n > 0
        self.present = bool(seen.any())
        p0 = float(x.sum() / n.sum()) if n.sum() else 0.0
        observed = np.where(seen, x / np.where(seen, n, 1.0), p0)
        binomial = p0 * (1 - p0)
        spread = float(((observed[seen] - p0) ** 2).mean() - (binomial / n[seen]).mean()) \
            if seen.any() else 0.0
        self.tau2 = max(1e-6, spread)
        self.strength = min(1e6, max(0.0, binomial / self.tau2 - 1.0))
        total = n + self.strength
        posterior = np.where(total > 0, (x + self.strength * p0) / np.maximum(total, 1e-12), p0)
        self.effect = posterior - p0
        self.variance = posterior * (1 - posterior) / (n + self.strength + 1.0)
        self.n, self.x, self.p0, self.observed, self.seen = n, x, p0, observed, seen

    def explain(self, weight):
        """For each officer: what this component rests on."""
        weight, total = round(weight, 4), self.n + self.strength
        shrink = _rounded(np.where(total > 0, self.n / np.maximum(total, 1e-12), 0.0))
        return [{"evidence": n, "successes": x, "observed": observed if seen else None,
                 "estimate": estimate, "shrink_weight": share, "weight": weight}
                for n, x, seen, observed, estimate, share in zip(
                    self.n.astype(int).tolist(), self.x.astype(int).tolist(),
                    self.seen.tolist(), _rounded(self.observed),
                    _rounded(self.p0 + self.effect), shrink)]

    def county(self):
        return {"rate": _round(self.p0), "prior_strength": _round(self.strength),
                "evidence": int(self.n.sum())}



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


def _rounded(values, places=4):
    """An array's values as Python floats, each rounded (None: as they are)."""
    return (values if places is None else np.round(values, places)).tolist()
