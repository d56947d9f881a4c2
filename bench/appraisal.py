"""Appraisal's ranking at a province's scale.

    python bench/appraisal.py [--officers 10000] [--ratings 1000000] [--repeat 3] [--seed 1]

Draws a province-year of ratings as the simulator's default scenario does (true quality
N(0, 0.3), rater leniency N(0, 0.3), rating noise 0.8, whole 1-5 ratings; 40,000 raters,
each officer rated by a pool of 12 of them), then times `services.appraisal.scoring.appraise`
on it (leniency, shrinkage, funnel limits, 200 posterior draws for rank intervals, the two
lists): min, median and max of --repeat runs. It reports; it never passes or fails.
"""
import argparse
import statistics
import sys
import time

import numpy as np

from services.appraisal.scoring import Ratings, Rules, appraise


def province(officers, count, seed):
    rng = np.random.default_rng(seed)
    raters = officers * 4
    quality = rng.normal(0, 0.3, officers)
    leniency = rng.normal(0, 0.3, raters)
    pools = rng.integers(0, raters, (officers, 12))
    who = rng.integers(0, officers, count)
    rater = pools[who, rng.integers(0, 12, count)]
    score = np.clip(np.rint(3.5 + quality[who] + leniency[rater] + rng.normal(0, 0.8, count)),
                    1, 5)
    names = tuple(f"officer-{i:05d}" for i in range(officers))
    return Ratings(who.astype(np.int64), rater.astype(np.int64), score, names, raters)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--officers", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    began = time.perf_counter()
    data = province(args.officers, args.ratings, args.seed)
    print(f"{args.ratings} ratings of {args.officers} officers drawn in "
          f"{time.perf_counter() - began:.1f} s")
    timings = []
    for _ in range(args.repeat):
        began = time.perf_counter()
        result = appraise(data, Rules(), seed=args.seed)
        timings.append(time.perf_counter() - began)
    print(f"ranking: {min(timings):.3f} / {statistics.median(timings):.3f} / "
          f"{max(timings):.3f} s (min / median / max of {args.repeat}); "
          f"{sum(o.status == 'ranked' for o in result.officers)} ranked, "
          f"{len(result.model)} model, {len(result.lagging)} lagging")
    return 0


if __name__ == "__main__":
    sys.exit(main())
