"""Appraisal's scoring, checked against small examples computed by hand, and against the
planted truth of the default simulated county (five seeds)."""
import pytest

from services.appraisal.scoring import Evidence, Ratings, Rules, appraise
from services.appraisal.planted import against_truth, county_year

EXACT = Rules(rater_prior=0.0, min_evidence=1, iterations=200)


def ratings(*rows, everyone=()):
    officers, raters, scores = zip(*rows)
    return Ratings.of(officers, raters, scores, everyone)


def test_a_raters_leniency_is_taken_out_before_it_counts():
    # R1 gives half a point more than R2 to the officer both rate (A): mean 3.75, offsets
    # +0.5 and -0.5; B is rated by the lenient R1 only, C by the strict R2 only.
    result = appraise(ratings(("A", "R1", 5), ("A", "R2", 4), ("B", "R1", 4),
                              ("C", "R2", 2)), EXACT).by_id()
    assert [result[o].raw_mean for o in "ABC"] == [4.5, 4.0, 2.0]
    assert [result[o].adjusted_mean for o in "ABC"] == [4.5, 3.5, 2.5]
    assert [result[o].leniency_adjustment for o in "ABC"] == [0.0, -0.5, 0.5]


SMALL = ratings(*[("A", "x", s) for s in (4, 5, 4, 5)], *[("B", "x", s) for s in (3, 3, 4, 2)],
                *[("C", "x", s) for s in (2, 3)])


def test_shrinkage_by_the_evidence_behind_each_officer():
    # mean 3.5; residual SS 3.5 over 10 - 3 - 1 = 6 degrees of freedom: sigma^2 = 0.583333;
    # deviations +1, -0.5, -1: tau^2 = 0.75 - mean(sigma^2/n) = 0.555556; m = 1.05;
    # w_A = 4 / 5.05, w_C = 2 / 3.05
    result = appraise(SMALL, Rules(min_evidence=1))
    by_id = result.by_id()
    assert result.county_mean == 3.5
    assert result.noise_sd == pytest.approx(0.583333 ** 0.5, abs=1e-4)
    assert result.spread_sd == pytest.approx(0.555556 ** 0.5, abs=1e-4)
    assert by_id["A"].weight == pytest.approx(0.792079, abs=1e-4)
    assert float(by_id["A"].score) == pytest.approx(4.2921, abs=1e-4)
    assert by_id["C"].weight == pytest.approx(0.655738, abs=1e-4)
    assert float(by_id["C"].score) == pytest.approx(2.8443, abs=1e-4)
    # posterior sd of A: sqrt(w * sigma^2 / n) = 0.339870; P(effect < -0.3) = Phi(-3.2132)
    low, high = by_id["A"].interval
    assert (high - low) / 2 == pytest.approx(1.959964 * 0.339870, abs=2e-4)
    assert by_id["A"].p_below == pytest.approx(0.000657, abs=2e-5)


ACKS = {"A": (9, 10), "B": (5, 10), "C": (7, 10)}


def test_a_rate_is_shrunk_toward_the_county_rate_with_a_beta_prior():
    # p0 = 21/30 = 0.7; observed 0.9, 0.5, 0.7: mean squared deviation 0.026667, binomial part
    # 0.21 / 10 = 0.021, so tau^2 = 0.005667 and M = 0.21 / tau^2 - 1 = 36.0588;
    # A: (9 + 0.7 M) / (10 + M) = 0.743424, variance 0.743424 * 0.256576 / (11 + M) = 0.004053
    result = appraise(Evidence(SMALL, rates={"acknowledgement": ACKS}),
                      Rules(min_evidence=1, weights=(("acknowledgement", 1.0),)))
    a = result.by_id()["A"].components["acknowledgement"]
    assert result.county["acknowledgement"]["rate"] == 0.7
    assert result.county["acknowledgement"]["prior_strength"] == pytest.approx(36.0588, abs=1e-3)
    assert a["estimate"] == pytest.approx(0.743424, abs=1e-4)
    assert a["shrink_weight"] == pytest.approx(10 / 46.0588, abs=1e-4)
    # the score is the county mean plus the rate's effect in points (4 per unit of rate)
    assert float(result.by_id()["A"].score) == pytest.approx(3.5 + 4 * 0.043424, abs=1e-4)
    low, high = result.by_id()["A"].interval
    assert (high - low) / 2 == pytest.approx(1.959964 * 4 * 0.004053 ** 0.5, abs=3e-4)


def test_components_are_weighted_and_an_absent_one_spreads_its_weight():
    rules = Rules(min_evidence=1, weights=(("ratings", 0.4), ("acknowledgement", 0.4),
                                           ("mediation", 0.2)))
    result = appraise(Evidence(SMALL, rates={"acknowledgement": ACKS}), rules)
    assert result.weights == {"ratings": 0.5, "acknowledgement": 0.5}
    assert result.absent == ["mediation"]
    a = result.by_id()["A"]
    # ratings: 0.5 x (4.2921 - 3.5); acknowledgement: 0.5 x 4 x 0.043424
    assert float(a.breakdown["ratings"]) == pytest.approx(0.396040, abs=1e-4)
    assert float(a.breakdown["acknowledgement"]) == pytest.approx(0.086848, abs=1e-4)
    assert sum(a.breakdown.values()) == a.score
    assert set(a.breakdown) == {"county_mean", "ratings", "acknowledgement"}


def test_the_three_chiefs_ratings_have_their_leniency_taken_out_too():
    chiefs = ratings(("A", "leader-1", 5), ("A", "leader-2", 4), ("B", "leader-1", 4),
                     ("C", "leader-2", 2))
    result = appraise(Evidence(SMALL, chiefs=chiefs), Rules(
        min_evidence=1, iterations=200, rater_prior=0.0, weights=(("chiefs", 1.0),)))
    by_id = result.by_id()
    assert [by_id[o].components["chiefs"]["adjusted"] for o in "ABC"] == [4.5, 3.5, 2.5]
    assert result.weights == {"chiefs": 1.0} and result.absent == []


def test_funnel_limits_with_and_without_overdispersion():
    # z = deviation / sqrt(sigma^2 / n): A 2.6186, B -1.3093, C -1.8516; winsorised at the
    # 10th and 90th percentiles, phi = 2.70426; tau^2 = (3 phi - 2) / (sum w - sum w^2 / sum w)
    # = 6.11277 / 10.97143 = 0.557152 with w = n / sigma^2
    result = appraise(SMALL, Rules(min_evidence=1))
    assert result.overdispersion_tau == pytest.approx(0.557152 ** 0.5, abs=1e-4)
    by_id = result.by_id()
    assert by_id["A"].funnel == {"plain": "outside_95", "overdispersed": "inside"}
    assert by_id["B"].funnel == {"plain": "inside", "overdispersed": "inside"}


def test_rank_intervals_are_narrow_when_the_evidence_separates_and_wide_when_not():
    apart = ratings(*[("top", f"r{i}", 5) for i in range(40)],
                    *[("low", f"r{i}", 1) for i in range(40)],
                    *[("mid", f"r{i}", 3) for i in range(40)])
    by_id = appraise(apart, Rules(), seed=7).by_id()
    assert [(by_id[o].rank, by_id[o].rank_interval) for o in ("top", "mid", "low")] == \
        [(1, (1, 1)), (2, (2, 2)), (3, (3, 3))]
    twins = ratings(*[(o, f"r{i}", s) for o in ("p", "q") for i, s in
                      enumerate((4, 3, 5, 4, 3, 4))])
    by_id = appraise(twins, Rules(), seed=7).by_id()
    assert by_id["p"].rank_interval == by_id["q"].rank_interval == (1, 2)
    assert (by_id["p"].rank, by_id["q"].rank) == (1, 2)  # a tie is broken by id


def test_breakdowns_sum_to_the_score_and_a_rerun_gives_the_same_bytes():
    data, _ = county_year(3)
    first, again = appraise(data, Rules(), seed=3), appraise(data, Rules(), seed=3)
    for officer in first.officers:
        assert sum(officer.breakdown.values()) == officer.score
    assert first.listing() == again.listing()
    assert first.listing().encode() == again.listing().encode()
    assert first.lagging and first.model


def test_insufficient_data_is_never_ranked_or_named():
    data, _ = county_year(4)
    data = Ratings.of([data.names[i] for i in data.officer], list(data.rater), data.score,
                      everyone=("never-rated",))
    result = appraise(data, Rules(), seed=4)
    thin = {o.officer_id for o in result.officers if o.ratings < Rules.min_evidence}
    assert "never-rated" in thin and len(thin) >= 25
    assert all(result.by_id()[i].status == "insufficient_data" for i in thin)
    assert all(result.by_id()[i].rank is None for i in thin)
    assert not thin & (set(result.lagging) | set(result.model))


def test_the_default_scenario_against_its_planted_truth_over_five_seeds():
    rows = []
    for seed in (1, 2, 3, 4, 5):
        data, truth = county_year(seed)
        row = against_truth(appraise(data, Rules(), seed), truth)
        assert row["named_without_evidence"] == 0, (seed, row)
        assert row["lagging_at_or_above_mean"] == 0, (seed, row)
        assert row["model_at_or_below_mean"] == 0, (seed, row)
        rows.append(row)
    assert sum(r["planted_poor_named"] for r in rows) / 5 >= 5
    assert all(r["planted_poor_with_evidence"] == 7 for r in rows)
    assert sum(r["model_planted_excellent"] for r in rows) / 5 >= 6


def test_a_raw_mean_would_not_do():
    """The same acceptance with raw means (the 10 highest named model chiefs, those more
    than the gap below the mean named lagging) fails: thin evidence and lenient raters
    reach the lists."""
    failures = 0
    for seed in (1, 2, 3, 4, 5):
        data, truth = county_year(seed)
        scored = appraise(data, Rules(), seed)
        raw = {o.officer_id: o.raw_mean for o in scored.officers if o.raw_mean is not None}
        model = sorted(raw, key=lambda i: (-raw[i], i))[:10]
        lagging = [i for i, m in raw.items() if m < scored.county_mean - Rules.gap]
        mean = sum(q for q, _ in truth.values()) / len(truth)
        failures += (any(scored.by_id()[i].ratings < Rules.min_evidence
                         for i in model + lagging)
                     or any(truth[i][0] >= mean for i in lagging)
                     or any(truth[i][0] <= mean for i in model))
    assert failures >= 4
